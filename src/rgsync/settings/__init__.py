"""Per-user settings (SPEC §1): the schema, the TOML file, the org policy layers and the blocklist.

The rest of rgsync reads settings as one typed `EffectiveSettings` (`load_settings(...).effective()`);
only the `settings` commands look at `Settings` and its layers. The CLI changes them through `set_value`, `unset_value`, `write_connection` and the blocklist helpers.
"""

from __future__ import annotations

from rgsync.settings.blocklist import (
    BlocklistLayer,
    free_mail_domain_count,
    is_free_mail_domain,
    normalise_address,
    normalise_blocklist_entry,
    normalise_domain,
)
from rgsync.settings.effective import EffectiveSettings, Schedule
from rgsync.settings.errors import SettingsError
from rgsync.settings.policy import Policy, load_policy
from rgsync.settings.schema import (
    ALL_KEYS,
    CONNECTION_TABLES,
    KEYS,
    MAILBOX_KEYS,
    SALESFORCE_KEYS,
    Key,
    KeyType,
    key_by_name,
)
from rgsync.settings.store import (
    DEFAULT,
    FORCED,
    POLICY,
    USER,
    BlocklistOutcome,
    EditResult,
    Settings,
    blocklist_add,
    blocklist_remove,
    edit_settings,
    load_settings,
    set_value,
    settings_problems,
    unset_value,
    write_connection,
)
from rgsync.settings.template import render_template
from rgsync.settings.values import format_value, parse_text

__all__ = [
    "ALL_KEYS",
    "CONNECTION_TABLES",
    "DEFAULT",
    "FORCED",
    "KEYS",
    "MAILBOX_KEYS",
    "POLICY",
    "SALESFORCE_KEYS",
    "USER",
    "BlocklistLayer",
    "BlocklistOutcome",
    "EditResult",
    "EffectiveSettings",
    "Key",
    "KeyType",
    "Policy",
    "Schedule",
    "Settings",
    "SettingsError",
    "blocklist_add",
    "blocklist_remove",
    "edit_settings",
    "format_value",
    "free_mail_domain_count",
    "is_free_mail_domain",
    "key_by_name",
    "load_policy",
    "load_settings",
    "normalise_address",
    "normalise_blocklist_entry",
    "normalise_domain",
    "parse_text",
    "render_template",
    "set_value",
    "settings_problems",
    "unset_value",
    "write_connection",
]
