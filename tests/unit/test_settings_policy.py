"""Org policy layering: forced > user > policy default > built-in (SPEC §1, bulk management)."""

from __future__ import annotations

from pathlib import Path

import pytest

from rgsync.settings import SettingsError, load_settings, set_value, unset_value

POLICY = """\
# Org policy
[defaults.general.emails]
history-days = 14
auto-save-threads = true

[defaults.salesforce]
login-url = "https://example.my.salesforce.com"
ca-file = "certs/org-ca.pem"

[forced.sync]
max-deletes = 20

[forced.blocklist]
block-free-email-domains = true

[blocklist]
addresses = ["News@Vendor.example"]
domains = ["Competitor.example"]
"""

USER = """\
[general.emails]
history-days = 3

[sync]
max-deletes = 500
interval-minutes = 10

[blocklist]
block-free-email-domains = false
domains = ["partner.io"]
"""


@pytest.fixture
def files(tmp_path: Path) -> tuple[Path, Path]:
    policy = tmp_path / "org" / "policy.toml"
    policy.parent.mkdir()
    policy.write_text(POLICY, encoding="utf-8")
    user = tmp_path / "settings.toml"
    user.write_text(USER, encoding="utf-8")
    return user, policy


@pytest.mark.parametrize(
    ("name", "value", "source"),
    [
        ("max-deletes", 20, "forced"),  # forced beats the user's 500
        ("block-free-email-domains", True, "forced"),
        ("history-days", 3, "user"),  # the user beats the policy default 14
        ("interval-minutes", 10, "user"),
        ("auto-save-threads", True, "policy"),  # policy default beats the built-in off
        ("auto-save-emails", True, "default"),
        ("calendar-past-days", 14, "default"),
    ],
)
def test_effective_value_layering(files: tuple[Path, Path], name: str, value: object, source: str) -> None:
    settings = load_settings(*files)
    assert (settings.value(name), settings.source(name)) == (value, source)


def test_without_policy_the_user_file_wins(files: tuple[Path, Path]) -> None:
    settings = load_settings(files[0])
    assert (settings.value("max-deletes"), settings.source("max-deletes")) == (500, "user")


def test_forced_keys_the_user_sets_are_reported_as_ignored(files: tuple[Path, Path]) -> None:
    ignored = {k.name for k in load_settings(*files).ignored_user_values()}
    assert ignored == {"max-deletes", "block-free-email-domains"}


def test_org_blocklist_is_a_separate_normalised_layer(files: tuple[Path, Path]) -> None:
    settings = load_settings(*files)
    assert settings.org_blocklist.addresses == frozenset({"news@vendor.example"})
    assert settings.org_blocklist.domains == frozenset({"competitor.example"})
    assert settings.user_blocklist.domains == frozenset({"partner.io"})


def test_policy_defaults_reach_connection_tables_with_paths_next_to_the_policy(
    files: tuple[Path, Path],
) -> None:
    settings = load_settings(*files)
    assert settings.salesforce["login-url"] == "https://example.my.salesforce.com"
    assert settings.source("salesforce.login-url") == "policy"
    assert settings.salesforce["ca-file"] == str(files[1].parent / "certs" / "org-ca.pem")


def test_set_of_a_forced_key_is_refused_saying_why(files: tuple[Path, Path]) -> None:
    user, policy = files
    with pytest.raises(SettingsError) as caught:
        set_value(user, "max-deletes", "30", policy)
    assert caught.value.message == (
        f"max-deletes is forced to 20 by your org policy ({policy} line 11); only your admin can change it"
    )
    assert caught.value.exit_code == 2
    assert user.read_text(encoding="utf-8") == USER


def test_set_of_a_key_with_a_policy_default_is_allowed(files: tuple[Path, Path]) -> None:
    user, policy = files
    set_value(user, "auto-save-threads", "off", policy)
    settings = load_settings(user, policy)
    assert (settings.value("auto-save-threads"), settings.source("auto-save-threads")) == (False, "user")


def test_unset_falls_back_to_the_policy_default(files: tuple[Path, Path]) -> None:
    user, policy = files
    unset_value(user, "history-days", policy)
    settings = load_settings(user, policy)
    assert (settings.value("history-days"), settings.source("history-days")) == (14, "policy")


def test_missing_policy_file_is_a_settings_error(tmp_path: Path) -> None:
    with pytest.raises(SettingsError, match=r"org policy file .* does not exist"):
        load_settings(tmp_path / "s.toml", tmp_path / "nope.toml")


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        (
            "[forcd.sync]\nmax-deletes = 1\n",
            r"line 1: 'forcd' is not a policy table — did you mean 'forced'\?",
        ),
        ("[forced.sync]\nmax-deletes = 'lots'\n", r"line 2: max-deletes expects a whole number"),
        (
            "[blocklist]\ndomains = ['bob@x.com']\n",
            r"line 2: 'bob@x.com' in blocklist.domains is an email address",
        ),
        ("[blocklist]\nwildcards = ['x']\n", r"line 2: unknown setting 'blocklist.wildcards'"),
        ("[defaults.salesforce]\nclient-secret = 'x'\n", r"line 2: .*looks like a secret"),
        ("[defaults\n", r"line 1: not valid TOML"),
    ],
)
def test_policy_problems_name_the_policy_file_and_line(tmp_path: Path, text: str, expected: str) -> None:
    policy = tmp_path / "policy.toml"
    policy.write_text(text, encoding="utf-8")
    with pytest.raises(SettingsError, match=expected) as caught:
        load_settings(tmp_path / "s.toml", policy)
    assert caught.value.message.startswith(str(policy))


def test_spec_4_3_a_down_sync_switch_turned_back_on_lists_its_stream_again() -> None:
    """Off at the last session and on now: that stream's Salesforce side is listed whole again;
    a stream never recorded (the first session) has nothing to catch up."""
    from rgsync.model import Stream
    from rgsync.session.rules import switched_back_on

    current = {Stream.EVENTS: True, Stream.TASKS: True, Stream.CONTACTS: False}
    previous = {"events": False, "tasks": True, "contacts": True}
    assert switched_back_on(previous, current) == {Stream.EVENTS}
    assert switched_back_on({}, current) == set()
