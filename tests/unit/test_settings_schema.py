"""The schema table matches SPEC §1 and finds keys the way users type them."""

from __future__ import annotations

import pytest

from rgsync.settings import KEYS, MAILBOX_KEYS, SALESFORCE_KEYS, SettingsError, key_by_name
from rgsync.settings.schema import KeyType, looks_like_secret

# SPEC §1 table: CLI key, TOML path, default.
SPEC_1 = [
    ("auto-save-emails", "general.emails.auto-save", True),
    ("auto-save-threads", "general.emails.auto-save-threads", False),
    ("save-emails-as", "general.emails.save-as", "auto"),
    ("email-direction", "general.emails.direction", "both"),
    ("auto-resolve", "general.emails.auto-resolve", "off"),
    ("history-days", "general.emails.history-days", 6),
    ("auto-save-meetings", "general.events.auto-save-meetings", True),
    ("auto-save-appointments", "general.events.auto-save-appointments", False),
    ("sync-salesforce-calendar", "general.events.sync-salesforce-calendar", True),
    ("calendar-direction", "general.events.direction", "two-way"),
    ("save-private-events", "general.events.save-private", False),
    ("save-unanswered-invitations", "general.events.save-unanswered", False),
    ("calendar-past-days", "general.events.window-past-days", 14),
    ("calendar-future-days", "general.events.window-future-days", 60),
    ("sync-salesforce-tasks", "general.tasks.sync-salesforce-tasks", False),
    ("tasks-forbid-remove", "general.tasks.forbid-remove", True),
    ("tasks-completed-days", "general.tasks.completed-window-days", 14),
    ("sync-salesforce-contacts", "general.contacts.sync-salesforce-contacts", True),
    ("contacts-scope", "general.contacts.scope", "mine"),
    ("contacts-view", "general.contacts.view", ""),
    ("contacts-forbid-remove", "general.contacts.forbid-remove", True),
    ("link-to-opportunities", "linking.link-to-opportunities", True),
    ("blocklist-addresses", "blocklist.addresses", []),
    ("blocklist-domains", "blocklist.domains", []),
    ("block-free-email-domains", "blocklist.block-free-email-domains", True),
    ("internal-domains", "blocklist.internal-domains", []),
    ("max-deletes", "sync.max-deletes", 50),
    ("interval-minutes", "sync.interval-minutes", 30),
    ("min-api-remaining", "sync.min-api-remaining-percent", 10),
    # Not in the product's settings page: how much `rgsync run` writes to its log file.
    ("log-level", "sync.log-level", "info"),
]


def test_schema_holds_exactly_the_keys_of_spec_1_in_order() -> None:
    assert [(k.name, k.dotted, k.default) for k in KEYS] == SPEC_1


def test_every_key_has_help_and_a_section() -> None:
    for key in (*KEYS, *MAILBOX_KEYS, *SALESFORCE_KEYS):
        assert key.help and key.section, key.name
        if key.type == "choice":
            assert key.choices and (key.default is None or key.default in key.choices)


def test_history_days_is_bounded_0_to_60_per_spec_1() -> None:
    key = key_by_name("history-days")
    assert (key.type, key.minimum, key.maximum) == (KeyType.INT, 0, 60)


def test_connection_defaults_per_issue_brief() -> None:
    labels = {k.leaf: k.default for k in MAILBOX_KEYS if k.leaf.endswith("label")}
    assert labels == {
        "save-label": "Salesforce",
        "thread-label": "Salesforce Thread",
        "error-label": "Salesforce Sync Error",
    }
    assert key_by_name("salesforce.api-version").default == "59.0"
    assert key_by_name("mailbox.provider").choices == ("gmail", "exchange", "microsoft365", "memory")


@pytest.mark.parametrize(
    "name", ["history-days", "general.emails.history-days", "HISTORY-DAYS", " history-days "]
)
def test_key_by_name_accepts_cli_name_and_toml_path(name: str) -> None:
    assert key_by_name(name).name == "history-days"


def test_unknown_key_suggests_the_closest_one() -> None:
    with pytest.raises(SettingsError) as caught:
        key_by_name("auto-save-emial")
    assert caught.value.message == "unknown setting 'auto-save-emial' — did you mean 'auto-save-emails'?"
    assert caught.value.exit_code == 2


def test_unknown_key_without_a_close_one_points_to_the_list() -> None:
    with pytest.raises(SettingsError, match="settings list"):
        key_by_name("zzzz")


@pytest.mark.parametrize(
    "name", ["salesforce.password", "mailbox.refresh-token", "client-secret", "private-key"]
)
def test_secret_names_point_to_rgsync_connect_spec_9(name: str) -> None:
    with pytest.raises(SettingsError, match="rgsync connect"):
        key_by_name(name)


@pytest.mark.parametrize(
    ("name", "secret"),
    [
        ("password", True),
        ("access_token", True),
        ("consumer-secret", True),
        ("private-key", True),
        ("private-key-file", False),
        ("client-secrets-file", False),
        ("username", False),
        ("consumer-key", False),
    ],
)
def test_secret_detection_spares_file_paths(name: str, secret: bool) -> None:
    assert looks_like_secret(name) is secret
