"""One comparison form for domains and addresses on both sides of the blocklist (SPEC §3.2):
what `settings` stores and what the engine compares participants with."""

from __future__ import annotations

import itertools
from pathlib import Path

import pytest

from rgsync.engine.blocklist import is_blocklisted, is_free_mail, is_internal, split_participants
from rgsync.engine.types import Blocklist, Identity
from rgsync.model import Address, address_key, canonical_domain, domain_key
from rgsync.settings import SettingsError, blocklist_add, load_settings, normalise_blocklist_entry
from rgsync.settings.blocklist import is_free_mail_domain, normalise_address, normalise_domain

SPELLINGS = [
    "bücher.example",
    "Bücher.Example",
    "BÜCHER.EXAMPLE",
    "xn--bcher-kva.example",
    "XN--BCHER-KVA.Example.",
]
ME = Identity(address="sam@example.com", user_id="005000000000001AAA")


@pytest.mark.parametrize("spelling", SPELLINGS)
def test_spec_3_2_every_spelling_of_an_idn_domain_has_one_comparison_form(spelling: str) -> None:
    assert canonical_domain(spelling) == domain_key(spelling) == "xn--bcher-kva.example"
    assert normalise_domain(spelling) == "xn--bcher-kva.example"
    assert (
        address_key(f"Eve@{spelling}") == normalise_address(f"Eve@{spelling}") == "eve@xn--bcher-kva.example"
    )


@pytest.mark.parametrize(("listed", "seen"), list(itertools.product(SPELLINGS, SPELLINGS)))
def test_spec_3_2_a_listed_domain_blocks_and_an_internal_domain_includes_any_spelling(
    listed: str, seen: str
) -> None:
    assert is_blocklisted(f"eve@{seen}", Blocklist(domains=frozenset({listed})))
    assert is_blocklisted(f"EVE@{seen}", Blocklist(addresses=frozenset({f"eve@{listed}"})))
    assert is_internal(f"ines@{seen}", ME, Blocklist(internal_domains=frozenset({listed})))
    free = Blocklist(free_mail_domains=frozenset({listed}), block_free_email_domains=True)
    assert is_free_mail(f"x@{seen}", free) and is_blocklisted(f"x@{seen}", free)


def test_spec_3_2_a_mailbox_on_an_idn_domain_makes_its_colleagues_internal_in_any_spelling() -> None:
    me = Identity(address="sam@Tëam.example", user_id="005000000000001AAA")
    assert is_internal("ines@XN--TAM-JMA.example", me, Blocklist())
    assert is_internal("SAM@xn--tam-jma.example", me, Blocklist())


def test_spec_3_2_two_spellings_of_one_participant_count_once_and_stay_blocked() -> None:
    people = [Address("eve@Bücher.example"), Address("eve@xn--bcher-kva.example"), Address("bob@globex.com")]
    parts = split_participants(people, ME, Blocklist(domains=frozenset({"xn--bcher-kva.example"})))
    assert parts.blocked == ("eve@bücher.example",) and parts.external == ("bob@globex.com",)


def test_spec_3_2_a_domain_idna_refuses_is_still_compared_consistently() -> None:
    assert domain_key("Foo_Bar.example") == "foo_bar.example"
    parts = split_participants([Address("x@Foo_Bar.example")], ME, Blocklist())
    assert parts.external == ("x@foo_bar.example",)


def test_spec_3_2_the_free_mail_layer_knows_a_domain_in_any_case() -> None:
    assert is_free_mail_domain("GMAIL.com") and is_free_mail_domain("@Gmail.COM.")


@pytest.mark.parametrize("raw", ['"q u"@x.com', '"Q U"@X.COM', '"q\\ u"@x.com'])
def test_spec_3_2_a_quoted_local_part_can_be_blocklisted_and_matches_the_participant(raw: str) -> None:
    kind, value = normalise_blocklist_entry(raw)
    assert (kind, value) == ("address", '"q u"@x.com')
    blocklist = Blocklist(addresses=frozenset({value}))
    parts = split_participants([Address('"q u"@x.com'), Address("q.u@x.com")], ME, blocklist)
    assert parts.blocked == ('"q u"@x.com',) and parts.external == ("q.u@x.com",)


def test_needless_quotes_are_dropped_so_the_plain_address_is_the_same_entry() -> None:
    assert normalise_blocklist_entry('"Bob"@Globex.com') == ("address", "bob@globex.com")


@pytest.mark.parametrize("raw", ['"q u@x.com', '"a"b"@x.com', '"line\nbreak"@x.com'])
def test_a_broken_quoted_local_part_is_refused_with_one_line(raw: str) -> None:
    with pytest.raises(SettingsError) as refused:
        normalise_blocklist_entry(raw)
    assert "not an email address" in refused.value.message and "\n" not in refused.value.message.replace(
        raw, ""
    )


def test_star_at_domain_is_the_whole_domain_in_blocklist_add(tmp_path: Path) -> None:
    assert normalise_blocklist_entry("*@Evil.com") == ("domain", "evil.com")
    settings_file = tmp_path / "settings.toml"
    blocklist_add(settings_file, ["*@Evil.com"])
    assert load_settings(settings_file, None).user_blocklist.domains == frozenset({"evil.com"})


def test_star_at_domain_in_an_address_list_is_refused_naming_the_domain_form() -> None:
    with pytest.raises(SettingsError) as refused:
        normalise_address("*@evil.com")
    assert "wildcard" in refused.value.message and "add the domain evil.com" in refused.value.message
