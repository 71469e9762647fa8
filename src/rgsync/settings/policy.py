"""The org policy file an admin uses to manage many users' settings (SPEC §1, bulk management).

```toml
[defaults.general.emails]      # a user's own value wins over these
auto-save-threads = true

[forced.sync]                  # users cannot change these
max-deletes = 20

[blocklist]                    # the org blocklist; it adds to each user's own
domains = ["competitor.example"]
addresses = ["newsletter@vendor.example"]

[fleet]                        # `rgsync fleet` only: the org's API budget (SPEC §11)
user-daily-api-calls = 2000
```
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from rgsync.settings.blocklist import BlocklistLayer
from rgsync.settings.document import read_toml
from rgsync.settings.errors import SettingsError, combine, did_you_mean, located
from rgsync.settings.schema import BLOCKLIST, Key, KeyType
from rgsync.settings.validate import SETTINGS_VOCABULARY, Vocabulary, read_values
from rgsync.settings.values import format_value

ORG_ADDRESSES = Key(
    "blocklist.addresses", ("addresses",), KeyType.ADDRESSES, [], "org blocklist: addresses", BLOCKLIST
)
ORG_DOMAINS = Key("blocklist.domains", ("domains",), KeyType.DOMAINS, [], "org blocklist: domains", BLOCKLIST)
_ORG_BLOCKLIST = Vocabulary(keys={k.path: k for k in (ORG_ADDRESSES, ORG_DOMAINS)}, tables=frozenset())
# The fleet's admin sign-in per service (identifiers and where secrets are, never secrets).
ADMIN_SIGN_IN = "admin-sign-in"
FLEET_USER_DAILY_CALLS = Key(
    "fleet.user-daily-api-calls",
    ("user-daily-api-calls",),
    KeyType.INT,
    0,
    "most Salesforce calls one fleet user's sessions may make in any 24 hours (0 = an even share only)",
    "Fleet",
    minimum=0,
    maximum=100_000_000,
)
_FLEET = Vocabulary(keys={FLEET_USER_DAILY_CALLS.path: FLEET_USER_DAILY_CALLS}, tables=frozenset())
_POLICY_TABLES = {
    "defaults": SETTINGS_VOCABULARY,
    "forced": SETTINGS_VOCABULARY,
    "blocklist": _ORG_BLOCKLIST,
    "fleet": _FLEET,
}


@dataclass(frozen=True)
class Policy:
    """An org policy: default values, forced values (with their lines) and the org blocklist."""

    file: Path | None = None
    defaults: Mapping[Key, object] = field(default_factory=dict)
    forced: Mapping[Key, object] = field(default_factory=dict)
    forced_lines: Mapping[Key, int] = field(default_factory=dict)
    blocklist: BlocklistLayer = field(default_factory=BlocklistLayer)
    # `[fleet]`: the org's API budget settings of `rgsync fleet` (a user's session ignores them).
    fleet: Mapping[Key, object] = field(default_factory=dict)

    def refusal(self, key: Key) -> SettingsError:
        """The one-line refusal for changing a forced key: what it is forced to, by which file, and who can change it."""
        line = self.forced_lines.get(key)
        where = f"{self.file} line {line}" if line else str(self.file)
        shown = format_value(key, self.forced[key]) or "empty"
        return SettingsError(
            f"{key.name} is forced to {shown} by your org policy ({where}); only your admin can change it",
            key=key.name,
            file=self.file,
            line=line,
        )


def policy_problems(path: Path) -> tuple[Policy, list[SettingsError]]:
    """Read the policy file at `path`; returns what it holds and every problem found (not raised)."""
    try:
        found = read_toml(path)
    except SettingsError as exc:
        return Policy(file=path), [exc]
    if found is None:
        message = f"org policy file {path} does not exist (check --org-policy or RGSYNC_ORG_POLICY)"
        return Policy(file=path), [SettingsError(message, file=path)]
    data = found.doc.unwrap()
    problems: list[SettingsError] = []
    parts: dict[str, dict[Key, object]] = {}
    forced_lines: dict[Key, int] = {}
    for name, value in data.items():
        if name == ADMIN_SIGN_IN:
            continue  # the fleet's admin sign-in: checked by `rgsync fleet init` (rgsync.fleet.signin)
        line = found.layout.line_of((name,))
        vocabulary = _POLICY_TABLES.get(name)
        if vocabulary is None or not isinstance(value, dict):
            hint = did_you_mean(name, _POLICY_TABLES) if vocabulary is None else ""
            problems.append(
                SettingsError(
                    located(
                        path,
                        line,
                        f"'{name}' is not a policy table{hint}; a policy file holds [defaults], [forced], "
                        "[blocklist], [fleet] and [admin-sign-in]",
                    ),
                    key=name,
                    file=path,
                    line=line,
                )
            )
            continue
        read = read_values(value, found.layout, path, base=(name,), vocabulary=vocabulary)
        problems.extend(read.problems)
        parts[name] = read.values
        if name == "forced":
            forced_lines = read.lines
    org = parts.get("blocklist", {})
    policy = Policy(
        file=path,
        defaults=parts.get("defaults", {}),
        forced=parts.get("forced", {}),
        forced_lines=forced_lines,
        blocklist=BlocklistLayer(
            addresses=frozenset(_strings(org.get(ORG_ADDRESSES))),
            domains=frozenset(_strings(org.get(ORG_DOMAINS))),
        ),
        fleet=parts.get("fleet", {}),
    )
    return policy, problems


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def load_policy(path: Path | None) -> Policy:
    """The org policy at `path` (an empty policy for None); `SettingsError` when the file has problems."""
    if path is None:
        return Policy()
    policy, problems = policy_problems(path)
    if problems:
        raise combine(problems)
    return policy
