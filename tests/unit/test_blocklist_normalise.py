"""Blocklist entries: address or domain, normalised, malformed values refused (SPEC §1, §3.2)."""

from __future__ import annotations

import pytest

from rgsync.settings import SettingsError, is_free_mail_domain, normalise_blocklist_entry
from rgsync.settings.blocklist import free_mail_domain_count


@pytest.mark.parametrize(
    ("raw", "expected"),
    [
        ("Example.COM", ("domain", "example.com")),
        ("  @Partner.io ", ("domain", "partner.io")),
        ("bob@Partner.io", ("address", "bob@partner.io")),
        ("Bob.Smith+news@Example.com", ("address", "bob.smith+news@example.com")),
        ("<bob@partner.io>", ("address", "bob@partner.io")),
        ("Bücher.example", ("domain", "xn--bcher-kva.example")),
        ("anna@Bücher.example", ("address", "anna@xn--bcher-kva.example")),
        ("xn--bcher-kva.example", ("domain", "xn--bcher-kva.example")),
        ("example.com.", ("domain", "example.com")),
    ],
)
def test_normalise_decides_kind_and_form(raw: str, expected: tuple[str, str]) -> None:
    assert normalise_blocklist_entry(raw) == expected


@pytest.mark.parametrize(
    ("raw", "reason"),
    [
        ("not", "neither an email address nor a domain"),
        ("not an address", "neither an email address nor a domain"),
        ("*.example.com", "wildcard"),
        ("bob@", "not an email address"),
        ("@", "empty"),
        ("", "empty"),
        ("bob@@example.com", "not an email address"),
        ("bob smith@example.com", "not an email address"),
        ("bob@exa mple.com", "not an email address"),
        ("-bad-.example.com", "not a valid domain"),
        ("example.123", "not a valid domain"),
        ("a..b@example.com", "not an email address"),
    ],
)
def test_malformed_values_are_refused_with_a_reason(raw: str, reason: str) -> None:
    with pytest.raises(SettingsError, match=reason):
        normalise_blocklist_entry(raw)


def test_free_mail_layer_knows_the_common_services() -> None:
    assert is_free_mail_domain("gmail.com")
    assert is_free_mail_domain("Outlook.COM")
    assert not is_free_mail_domain("example.com")
    assert not is_free_mail_domain("not a domain")
    assert free_mail_domain_count() > 1000
