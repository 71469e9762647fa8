"""Internal and blocklisted addresses (SPEC §3.2, §7.8)."""

from __future__ import annotations

import pytest

from rgsync.engine.blocklist import (
    Participants,
    is_blocklisted,
    is_free_mail,
    is_internal,
    normalise_address,
    split_participants,
)
from rgsync.engine.types import Identity
from tests.unit.world import ANN, ANN_ALIAS, FRANK, IDENTITY, addr, blocklist


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Bob@Globex.COM", "bob@globex.com"),
        ("  bob@globex.com \n", "bob@globex.com"),
        ("<bob@globex.com>", "bob@globex.com"),
        ("mailto:bob@globex.com", "bob@globex.com"),
        ("bob@globex.com.", "bob@globex.com"),
    ],
)
def test_spec_3_2_addresses_are_lower_cased_and_stripped(raw: str, expected: str) -> None:
    assert normalise_address(raw) == expected


@pytest.mark.parametrize(
    "raw",
    [
        "",
        "bob",
        "@globex.com",
        "bob@",
        "bob@localhost",
        "bo b@globex.com",
        "a@b@c.com",
        "bob@globex..com",
        "/o=ExchangeLabs/ou=Exchange Administrative Group/cn=Recipients/cn=bob",
        "undisclosed-recipients:;",
    ],
)
def test_spec_7_8_invalid_addresses_normalise_to_empty(raw: str) -> None:
    assert normalise_address(raw) == ""


def test_spec_3_2_own_address_aliases_and_domain_are_internal() -> None:
    bl = blocklist()
    assert is_internal(ANN, IDENTITY, bl)
    assert is_internal("A.Lee@ACME.com", IDENTITY, bl)
    assert is_internal(FRANK, IDENTITY, bl)
    assert is_internal("ops@acme.io", IDENTITY, bl)  # internal-domains
    assert not is_internal("bob@globex.com", IDENTITY, bl)
    assert not is_internal("bob@sub.acme.io", IDENTITY, bl)  # exact domains only


def test_spec_3_2_alias_on_another_company_domain_makes_it_internal() -> None:
    identity = Identity("005A", ANN, frozenset({ANN_ALIAS, "ann@acme.de"}))
    assert is_internal("sales@acme.de", identity, blocklist())


def test_spec_3_2_free_mail_mailbox_domain_is_not_internal() -> None:
    identity = Identity("005A", "ann.lee@gmail.com")
    bl = blocklist(block_free_email_domains=False)
    assert is_internal("ann.lee@gmail.com", identity, bl)
    assert not is_internal("friend@gmail.com", identity, bl)


def test_spec_3_2_blocklisted_address_and_exact_domain() -> None:
    bl = blocklist(addresses=frozenset({"News@Globex.com"}))
    assert is_blocklisted("news@globex.com", bl)
    assert not is_blocklisted("bob@globex.com", bl)
    assert is_blocklisted("x@blocked.com", bl)
    assert is_blocklisted("X@Blocked.Com", bl)
    assert not is_blocklisted("x@sub.blocked.com", bl)  # no wildcards
    assert not is_blocklisted("x@notblocked.com", bl)


def test_spec_3_2_domains_typed_with_at_sign_still_match() -> None:
    assert is_blocklisted("x@spam.example", blocklist(domains=frozenset({"@Spam.Example"})))


def test_spec_3_2_free_mail_is_blocklisted_only_while_switched_on() -> None:
    assert is_blocklisted("dave@gmail.com", blocklist())
    assert not is_blocklisted("dave@gmail.com", blocklist(block_free_email_domains=False))


def test_spec_3_4_free_mail_is_recognised_whatever_the_switch() -> None:
    bl = blocklist(block_free_email_domains=False)
    assert is_free_mail("pal@yahoo.com", bl)
    assert is_free_mail("YAHOO.com", bl)
    assert not is_free_mail("bob@globex.com", bl)


def test_spec_3_2_participants_are_deduplicated_in_order_and_sorted_out() -> None:
    parts = split_participants(
        [
            addr("carol@initech.com"),
            addr(ANN),
            addr("BOB@globex.com"),
            addr("x@blocked.com"),
            addr("bob@globex.com"),
            addr("not an address"),
            addr("frank@acme.com"),
            addr("dave@gmail.com"),
        ],
        IDENTITY,
        blocklist(),
    )
    assert parts == Participants(
        external=("carol@initech.com", "bob@globex.com"),
        internal=(ANN, FRANK),
        blocked=("x@blocked.com", "dave@gmail.com"),
    )


def test_spec_3_2_internal_wins_over_blocklisted() -> None:
    parts = split_participants([addr(FRANK)], IDENTITY, blocklist(domains=frozenset({"acme.com"})))
    assert parts.internal == (FRANK,) and parts.blocked == ()
