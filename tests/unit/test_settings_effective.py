"""The typed settings boundary (SPEC §1): one frozen `EffectiveSettings` with each value's layer."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from rgsync.model import (
    ContactsScope,
    ExchangeAuth,
    LogLevel,
    MailboxConnection,
    MailboxProvider,
    SalesforceAuth,
    SalesforceConnection,
)
from rgsync.settings import CONNECTION_TABLES, KEYS, load_settings
from rgsync.settings.effective import python_name


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8")
    return path


def test_spec_1_forced_policy_beats_the_user_and_each_value_names_its_layer(tmp_path: Path) -> None:
    user = _write(
        tmp_path / "settings.toml",
        "[general.contacts]\nscope = 'all'\n[sync]\ninterval-minutes = 15\nlog-level = 'debug'\n",
    )
    policy = _write(
        tmp_path / "policy.toml", "[forced.sync]\ninterval-minutes = 60\n[defaults.sync]\nmax-deletes = 9\n"
    )
    effective = load_settings(user, policy).effective()
    assert effective.rules["contacts_scope"] is ContactsScope.ALL
    assert effective.schedule.interval_minutes == 60 and effective.schedule.log_level is LogLevel.DEBUG
    assert effective.rules["max_deletes"] == 9
    assert (
        effective.sources["interval-minutes"],
        effective.sources["contacts-scope"],
        effective.sources["max-deletes"],
        effective.sources["history-days"],
    ) == ("forced", "user", "policy", "default")
    with pytest.raises(dataclasses.FrozenInstanceError):
        effective.schedule = effective.schedule  # type: ignore[misc]
    with pytest.raises(TypeError):
        effective.rules["history_days"] = 1  # type: ignore[index]


def test_spec_1_connection_tables_are_typed_with_paths_made_absolute(tmp_path: Path) -> None:
    user = _write(
        tmp_path / "settings.toml",
        "[mailbox]\nprovider = 'exchange'\naddress = 'ann@acme.com'\naliases = ['a.lee@acme.com']\n"
        "auth-type = 'basic'\nca-file = 'corp-ca.pem'\ntime-zone = 'Europe/Berlin'\n"
        "[salesforce]\nauth = 'jwt'\ninstance-url = 'https://acme.my.salesforce.com'\n",
    )
    effective = load_settings(user).effective()
    mailbox, salesforce = effective.mailbox, effective.salesforce
    assert mailbox.provider is MailboxProvider.EXCHANGE and mailbox.auth_type is ExchangeAuth.BASIC
    assert mailbox.aliases == ("a.lee@acme.com",) and effective.time_zone == "Europe/Berlin"
    assert mailbox.ca_file == str(tmp_path / "corp-ca.pem")
    assert mailbox.save_label == "Salesforce"  # the default of an unset key
    assert salesforce.auth is SalesforceAuth.JWT and salesforce.api_version == "59.0"
    assert MailboxConnection.from_table(mailbox.table()) == mailbox


def test_every_key_has_a_typed_home_and_every_typed_field_a_key() -> None:
    """A connection field without its key (or the reverse) is caught here, not by a user."""
    for table, shape in (("mailbox", MailboxConnection), ("salesforce", SalesforceConnection)):
        assert {f.name for f in dataclasses.fields(shape)} == {
            python_name(k) for k in CONNECTION_TABLES[table]
        }
    for key in KEYS:
        if key.choices:
            assert key.enum is not None and tuple(m.value for m in key.enum) == key.choices, key.name
