"""Values as typed on the command line and as written in TOML (SPEC §1)."""

from __future__ import annotations

import pytest

from rgsync.settings import SettingsError, format_value, key_by_name, parse_text
from rgsync.settings.values import check_value


@pytest.mark.parametrize("word", ["on", "ON", "true", "yes", "1", " On "])
def test_booleans_accept_the_spec_1_true_words(word: str) -> None:
    assert parse_text(key_by_name("auto-save-emails"), word) is True


@pytest.mark.parametrize("word", ["off", "false", "No", "0"])
def test_booleans_accept_the_spec_1_false_words(word: str) -> None:
    assert parse_text(key_by_name("auto-save-emails"), word) is False


def test_boolean_refusal_lists_the_accepted_words() -> None:
    with pytest.raises(SettingsError) as caught:
        parse_text(key_by_name("auto-save-emails"), "maybe")
    assert caught.value.message == (
        "auto-save-emails expects on or off (also true/false, yes/no, 1/0), not 'maybe'"
    )


@pytest.mark.parametrize("raw", ["61", "-1", "six", "6.5", ""])
def test_history_days_refuses_out_of_range_or_non_numbers(raw: str) -> None:
    with pytest.raises(SettingsError, match="history-days expects a whole number from 0 to 60"):
        parse_text(key_by_name("history-days"), raw)


def test_ints_at_the_edges_of_the_range_are_accepted() -> None:
    key = key_by_name("history-days")
    assert (parse_text(key, "0"), parse_text(key, "60")) == (0, 60)


def test_choice_is_case_insensitive_and_suggests_on_a_typo() -> None:
    key = key_by_name("calendar-direction")
    assert parse_text(key, "Two-Way") == "two-way"
    with pytest.raises(SettingsError, match="did you mean 'mailbox-to-salesforce'"):
        parse_text(key, "mailbox-to-salesfroce")


def test_lists_are_comma_separated_normalised_and_deduplicated() -> None:
    key = key_by_name("blocklist-domains")
    assert parse_text(key, "Example.COM, @partner.io,example.com") == ["example.com", "partner.io"]
    assert parse_text(key, "") == []


def test_address_in_a_domain_list_says_where_it_belongs() -> None:
    with pytest.raises(SettingsError, match="addresses go in blocklist-addresses"):
        parse_text(key_by_name("blocklist-domains"), "bob@example.com")
    with pytest.raises(SettingsError, match="domains go in blocklist-domains"):
        parse_text(key_by_name("blocklist-addresses"), "example.com")


def test_toml_values_must_have_the_right_type() -> None:
    with pytest.raises(SettingsError, match="history-days expects a whole number from 0 to 60, not true"):
        check_value(key_by_name("history-days"), True)
    with pytest.raises(SettingsError, match="auto-save-emails expects true or false, not 3"):
        check_value(key_by_name("auto-save-emails"), 3)
    with pytest.raises(SettingsError, match="expects a list of domains"):
        check_value(key_by_name("blocklist-domains"), "example.com")


def test_quoted_on_off_in_the_file_is_read_as_a_boolean() -> None:
    assert check_value(key_by_name("auto-save-emails"), "off") is False


@pytest.mark.parametrize(
    ("name", "value", "ok"),
    [
        ("mailbox.time-zone", "Europe/Berlin", True),
        ("mailbox.time-zone", "Mars/Olympus", False),
        ("mailbox.ews-url", "https://mail.example.com/EWS/Exchange.asmx", True),
        ("mailbox.ews-url", "mail.example.com", False),
        ("salesforce.api-version", "60.0", True),
        ("salesforce.api-version", "v60", False),
        ("mailbox.address", "Me@Example.COM", True),
        ("mailbox.address", "me", False),
    ],
)
def test_connection_values_are_checked(name: str, value: str, ok: bool) -> None:
    key = key_by_name(name)
    if ok:
        assert check_value(key, value)
    else:
        with pytest.raises(SettingsError, match=name):
            check_value(key, value)


def test_api_version_written_as_a_toml_number_is_understood() -> None:
    assert check_value(key_by_name("salesforce.api-version"), 59.0) == "59.0"


def test_format_value_is_what_a_user_types() -> None:
    assert format_value(key_by_name("auto-save-emails"), True) == "on"
    assert format_value(key_by_name("auto-save-emails"), False) == "off"
    assert format_value(key_by_name("blocklist-domains"), ["a.com", "b.com"]) == "a.com,b.com"
    assert format_value(key_by_name("history-days"), 6) == "6"
    assert format_value(key_by_name("mailbox.provider"), None) == ""
