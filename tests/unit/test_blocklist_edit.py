"""`blocklist add|remove`: the user's lists change in place, with notes on other layers (SPEC §1, §3.2)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rgsync.settings import SettingsError, blocklist_add, blocklist_remove, load_settings

USER = """\
[blocklist]
# people I never want saved
addresses = ["old@friend.example"]
domains = [
  "partner.io",  # their newsletters
  "family.example",
]
"""

POLICY = """\
[blocklist]
addresses = ["ceo@vendor.example"]
domains = ["competitor.example"]
"""


@pytest.fixture
def user(tmp_path: Path) -> Path:
    path = tmp_path / "settings.toml"
    path.write_text(USER, encoding="utf-8")
    return path


@pytest.fixture
def policy(tmp_path: Path) -> Path:
    path = tmp_path / "policy.toml"
    path.write_text(POLICY, encoding="utf-8")
    return path


def _statuses(outcomes: list) -> dict[str, str]:
    return {o.value: o.status for o in outcomes}


def test_add_sorts_values_into_addresses_and_domains(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    outcomes = blocklist_add(path, ["Example.COM", "bob@Partner.io"])
    assert [(o.kind, o.value, o.status) for o in outcomes] == [
        ("domain", "example.com", "added"),
        ("address", "bob@partner.io", "added"),
    ]
    settings = load_settings(path)
    assert settings.value("blocklist-domains") == ["example.com"]
    assert settings.value("blocklist-addresses") == ["bob@partner.io"]


def test_add_keeps_comments_in_the_lists(user: Path) -> None:
    blocklist_add(user, ["new.example"])
    text = user.read_text(encoding="utf-8")
    assert '"partner.io",  # their newsletters' in text and "# people I never want saved" in text
    assert load_settings(user).value("blocklist-domains") == ["partner.io", "family.example", "new.example"]


def test_add_says_when_a_value_is_already_there_or_covered(user: Path) -> None:
    outcomes = blocklist_add(user, ["OLD@friend.example", "anna@partner.io", "@partner.io"])
    assert _statuses(outcomes) == {
        "old@friend.example": "already",
        "anna@partner.io": "covered",
        "partner.io": "already",
    }
    assert "your domain entry partner.io" in outcomes[1].note
    assert user.read_text(encoding="utf-8") == USER


def test_add_notes_the_org_layer_and_free_mail(user: Path, policy: Path) -> None:
    outcomes = blocklist_add(user, ["x@competitor.example", "ceo@vendor.example", "gmail.com"], policy)
    assert _statuses(outcomes) == {
        "x@competitor.example": "added",
        "ceo@vendor.example": "added",
        "gmail.com": "added",
    }
    assert "org blocklist's domain competitor.example" in outcomes[0].note
    assert "also on the org blocklist" in outcomes[1].note
    assert "free-mail domain" in outcomes[2].note


def test_one_malformed_value_means_nothing_is_written(user: Path) -> None:
    with pytest.raises(
        SettingsError, match=r"'an' is neither .*also malformed: 'address'; nothing was changed"
    ):
        blocklist_add(user, ["fine.example", "an", "address"])
    assert user.read_text(encoding="utf-8") == USER


def test_remove_takes_values_out_and_explains_what_still_blocks(user: Path, policy: Path) -> None:
    outcomes = blocklist_remove(
        user, ["Partner.io", "old@friend.example", "competitor.example", "x@family.example"], policy
    )
    assert _statuses(outcomes) == {
        "partner.io": "removed",
        "old@friend.example": "removed",
        "competitor.example": "absent",
        "x@family.example": "absent",
    }
    assert "org blocklist" in outcomes[2].note
    assert "your domain entry family.example" in outcomes[3].note
    settings = load_settings(user, policy)
    assert settings.value("blocklist-domains") == ["family.example"]
    assert settings.value("blocklist-addresses") == []
    assert "# people I never want saved" in user.read_text(encoding="utf-8")


def test_forced_blocklist_cannot_be_edited(user: Path, tmp_path: Path) -> None:
    policy = tmp_path / "forced.toml"
    policy.write_text('[forced.blocklist]\ndomains = ["corp.example"]\n', encoding="utf-8")
    with pytest.raises(
        SettingsError, match=r"blocklist-domains is forced to corp\.example by your org policy"
    ):
        blocklist_add(user, ["new.example"], policy)
    # Addresses are not forced, so they can still be added.
    assert _statuses(blocklist_add(user, ["a@new.example"], policy)) == {"a@new.example": "added"}


def test_policy_default_list_is_kept_when_the_user_adds(tmp_path: Path) -> None:
    policy = tmp_path / "p.toml"
    policy.write_text('[defaults.blocklist]\ndomains = ["default.example"]\n', encoding="utf-8")
    user = tmp_path / "s.toml"
    blocklist_add(user, ["mine.example"], policy)
    assert load_settings(user, policy).value("blocklist-domains") == ["default.example", "mine.example"]
