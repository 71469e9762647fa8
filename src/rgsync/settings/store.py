"""The effective settings of one user, and the operations that change the settings file.

Effective value of a key (SPEC §1): forced by the org policy, else the user's file, else the policy
default, else the built-in default. The org blocklist and the user's blocklist add up.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path

from rgsync.settings.blocklist import (
    ADDRESS,
    DOMAIN,
    BlocklistLayer,
    is_free_mail_domain,
    normalise_blocklist_entry,
)
from rgsync.settings.document import apply_changes, atomic_write, read_text, read_toml
from rgsync.settings.effective import EffectiveSettings, effective_settings
from rgsync.settings.errors import SettingsError, combine, did_you_mean
from rgsync.settings.policy import Policy, load_policy, policy_problems
from rgsync.settings.schema import (
    CONNECTION_TABLES,
    KEYS,
    Key,
    KeyType,
    key_by_name,
    looks_like_secret,
    secret_refusal,
)
from rgsync.settings.template import render_template
from rgsync.settings.validate import read_values
from rgsync.settings.values import check_value, parse_text

DEFAULT, POLICY, USER, FORCED = "default", "policy", "user", "forced"


@dataclass(frozen=True)
class Settings:
    """One user's settings as rgsync applies them: the user's file layered over the org policy."""

    settings_file: Path
    exists: bool = False
    user_values: Mapping[Key, object] = field(default_factory=dict)
    user_lines: Mapping[Key, int] = field(default_factory=dict)
    policy: Policy = field(default_factory=Policy)

    @property
    def org_policy_file(self) -> Path | None:
        """The org policy file in use, if any."""
        return self.policy.file

    def value(self, name: str) -> object:
        """The effective typed value (bool / int / str / list[str] / None) of a key, by CLI name or path."""
        return _copy(self._layer(key_by_name(name))[0])

    def source(self, name: str) -> str:
        """Where the effective value comes from: 'default', 'policy', 'user' or 'forced'."""
        return self._layer(key_by_name(name))[1]

    def _layer(self, key: Key) -> tuple[object, str]:
        if key in self.policy.forced:
            return self.policy.forced[key], FORCED
        if key in self.user_values:
            return self.user_values[key], USER
        if key in self.policy.defaults:
            return self.policy.defaults[key], POLICY
        return key.default, DEFAULT

    def values(self) -> dict[str, object]:
        """Every SPEC §1 setting by CLI name, with its effective value."""
        return {k.name: self.value(k.name) for k in KEYS}

    def ignored_user_values(self) -> list[Key]:
        """Keys the user's file sets but the org policy forces, so the file's value has no effect."""
        return [k for k in self.user_values if k in self.policy.forced]

    def connection(self, table: str) -> dict[str, object]:
        """A connection table (`mailbox` / `salesforce`) by key, defaults applied, paths made absolute."""
        out: dict[str, object] = {}
        for key in CONNECTION_TABLES[table]:
            value, source = self._layer(key)
            if key.type is KeyType.PATH and isinstance(value, str):
                # A relative path means: next to the file that says it.
                origin = self.settings_file if source == USER else (self.policy.file or self.settings_file)
                path = Path(value).expanduser()
                value = str(path if path.is_absolute() else origin.parent / path)
            out[key.leaf] = _copy(value)
        return out

    @property
    def mailbox(self) -> dict[str, object]:
        """The `[mailbox]` table with defaults applied (None for unset keys); file paths made absolute."""
        return self.connection("mailbox")

    @property
    def salesforce(self) -> dict[str, object]:
        """The `[salesforce]` table with defaults applied (None for unset keys); file paths made absolute."""
        return self.connection("salesforce")

    @property
    def user_blocklist(self) -> BlocklistLayer:
        """The user's blocklist layer: the effective `blocklist-addresses` and `blocklist-domains`."""
        return BlocklistLayer(
            addresses=frozenset(_strings(self._layer(key_by_name("blocklist-addresses"))[0])),
            domains=frozenset(_strings(self._layer(key_by_name("blocklist-domains"))[0])),
        )

    @property
    def org_blocklist(self) -> BlocklistLayer:
        """The org policy's blocklist layer (empty without a policy)."""
        return self.policy.blocklist

    def effective(self) -> EffectiveSettings:
        """The layers resolved into one typed, frozen value: what the session and adapters read."""
        return effective_settings(self)


def _copy(value: object) -> object:
    return list(value) if isinstance(value, list) else value


def _strings(value: object) -> list[str]:
    return [str(v) for v in value] if isinstance(value, list) else []


def _read_user(settings_file: Path) -> tuple[Settings, list[SettingsError]]:
    try:
        found = read_toml(settings_file)
    except SettingsError as exc:
        return Settings(settings_file=settings_file, exists=True), [exc]
    if found is None:
        return Settings(settings_file=settings_file), []
    read = read_values(found.doc.unwrap(), found.layout, settings_file)
    return Settings(
        settings_file=settings_file, exists=True, user_values=read.values, user_lines=read.lines
    ), read.problems


def settings_problems(settings_file: Path, org_policy_file: Path | None = None) -> list[SettingsError]:
    """Every problem in the settings file and the org policy file (an empty list when both are valid)."""
    problems: list[SettingsError] = []
    if org_policy_file is not None:
        problems.extend(policy_problems(org_policy_file)[1])
    problems.extend(_read_user(settings_file)[1])
    return problems


def load_settings(settings_file: Path, org_policy_file: Path | None = None) -> Settings:
    """Read, validate and layer the user's settings file over the org policy (a missing file = defaults).

    Raises `SettingsError` (exit 2) naming the file, line and key of the first problem.
    """
    policy = load_policy(org_policy_file)
    settings, problems = _read_user(settings_file)
    if problems:
        raise combine(problems)
    return replace(settings, policy=policy)


def set_value(settings_file: Path, name: str, raw: str, org_policy_file: Path | None = None) -> object:
    """Set a key from command-line text (`on`, `14`, `a.com,b.com`) and return the typed value written.

    Creates a commented settings file when there is none. Refuses forced keys and bad values with a
    `SettingsError`, leaving the file unchanged.
    """
    key = key_by_name(name)
    policy = load_policy(org_policy_file)
    if key in policy.forced:
        raise policy.refusal(key)
    value = parse_text(key, raw)
    apply_changes(settings_file, {key: value})
    return value


def unset_value(settings_file: Path, name: str, org_policy_file: Path | None = None) -> None:
    """Remove the user's value of a key, so the policy default or built-in default applies again.

    The line is commented out (showing the default) rather than deleted, when it stands on its own.
    """
    key = key_by_name(name)
    load_policy(org_policy_file)  # a broken policy is reported now, not at the next run
    if read_text(settings_file) is not None:
        apply_changes(settings_file, {key: None})


def write_connection(settings_file: Path, table: str, values: Mapping[str, object]) -> None:
    """Write account connection details into `[mailbox]` or `[salesforce]` (None removes a key).

    Values are checked like the file's own; secret-looking keys are refused (they belong in the
    keyring, SPEC §9). Comments and layout of the rest of the file are kept.
    """
    keys = CONNECTION_TABLES.get(table)
    if keys is None:
        raise SettingsError(f"unknown connection table '{table}'{did_you_mean(table, CONNECTION_TABLES)}")
    by_leaf = {k.leaf: k for k in keys}
    changes: dict[Key, object | None] = {}
    for name, value in values.items():
        leaf = name.removeprefix(f"{table}.")
        key = by_leaf.get(leaf)
        if key is None:
            if looks_like_secret(leaf):
                raise SettingsError(secret_refusal(f"{table}.{leaf}"), key=f"{table}.{leaf}")
            raise SettingsError(
                f"unknown setting '{table}.{leaf}'{did_you_mean(leaf, by_leaf)}", key=f"{table}.{leaf}"
            )
        if isinstance(value, Path):
            value = str(value)
        elif isinstance(value, tuple | set | frozenset):
            value = list(value)
        changes[key] = None if value is None else check_value(key, value)
    apply_changes(settings_file, changes)


# --- blocklist ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class BlocklistOutcome:
    """What happened to one value given to `rgsync blocklist add|remove`.

    `status` is 'added', 'already', 'covered', 'removed' or 'absent'; `note` explains anything the
    user should know (covered by a domain, on the org blocklist, a free-mail domain).
    """

    kind: str
    value: str
    status: str
    note: str = ""


def _normalise_all(raws: Iterable[str]) -> list[tuple[str, str]]:
    """Normalise every value first, so one malformed value means nothing is written."""
    entries: list[tuple[str, str]] = []
    first: SettingsError | None = None
    malformed: list[str] = []
    for raw in raws:
        try:
            entry = normalise_blocklist_entry(raw)
        except SettingsError as exc:
            first = first or exc
            malformed.append(f"'{raw}'")
            continue
        if entry not in entries:
            entries.append(entry)
    if first is not None:
        also = f"; also malformed: {', '.join(malformed[1:])}" if len(malformed) > 1 else ""
        raise SettingsError(f"{first.message}{also}; nothing was changed")
    return entries


def _free_mail_note(domain: str, settings: Settings) -> str:
    if not is_free_mail_domain(domain):
        return ""
    state = "on, so it is blocked anyway" if settings.value("block-free-email-domains") else "off"
    return f"{domain} is a free-mail domain (block-free-email-domains is {state})"


def blocklist_add(
    settings_file: Path, raws: Iterable[str], org_policy_file: Path | None = None
) -> list[BlocklistOutcome]:
    """Add addresses and domains to the user's blocklist (one atomic write; nothing on any bad value).

    An entry already there, or an address covered by one of the user's domains, is not added again.
    """
    entries = _normalise_all(raws)
    settings = load_settings(settings_file, org_policy_file)
    lists = _editable_lists(settings, {kind for kind, _ in entries})
    org = settings.org_blocklist
    outcomes: list[BlocklistOutcome] = []
    for kind, value in entries:
        domain = value.rpartition("@")[2]
        if value in lists[kind]:
            outcomes.append(BlocklistOutcome(kind, value, "already", "already in your blocklist"))
            continue
        if kind == ADDRESS and domain in lists[DOMAIN]:
            outcomes.append(
                BlocklistOutcome(kind, value, "covered", f"already covered by your domain entry {domain}")
            )
            continue
        notes = []
        if value in org.addresses or value in org.domains:
            notes.append("also on the org blocklist")
        elif kind == ADDRESS and org.covering_domain(value):
            notes.append(f"also covered by the org blocklist's domain {domain}")
        notes.append(_free_mail_note(domain, settings))
        lists[kind].append(value)
        outcomes.append(BlocklistOutcome(kind, value, "added", "; ".join(n for n in notes if n)))
    _write_lists(settings_file, settings, lists)
    return outcomes


def blocklist_remove(
    settings_file: Path, raws: Iterable[str], org_policy_file: Path | None = None
) -> list[BlocklistOutcome]:
    """Remove addresses and domains from the user's blocklist, saying why a value is still blocked."""
    entries = _normalise_all(raws)
    settings = load_settings(settings_file, org_policy_file)
    lists = _editable_lists(settings, {kind for kind, _ in entries})
    org = settings.org_blocklist
    outcomes: list[BlocklistOutcome] = []
    for kind, value in entries:
        domain = value.rpartition("@")[2]
        notes: list[str] = []
        if value in lists[kind]:
            lists[kind].remove(value)
            status = "removed"
        else:
            status = "absent"
            notes.append("not in your blocklist")
        if kind == ADDRESS and domain in lists[DOMAIN]:
            notes.append(f"still blocked by your domain entry {domain}")
        if value in org.addresses or value in org.domains or (kind == ADDRESS and org.covering_domain(value)):
            notes.append("still blocked by the org blocklist (only your admin can change it)")
        if is_free_mail_domain(domain) and settings.value("block-free-email-domains"):
            notes.append(f"still blocked: {domain} is a free-mail domain and block-free-email-domains is on")
        outcomes.append(BlocklistOutcome(kind, value, status, "; ".join(notes)))
    _write_lists(settings_file, settings, lists)
    return outcomes


_LIST_KEYS = {ADDRESS: "blocklist-addresses", DOMAIN: "blocklist-domains"}


def _editable_lists(settings: Settings, kinds: set[str]) -> dict[str, list[str]]:
    """The user's current lists (starting from the effective ones, so a policy default is kept)."""
    for kind in sorted(kinds):
        key = key_by_name(_LIST_KEYS[kind])
        if key in settings.policy.forced:
            raise settings.policy.refusal(key)
    return {kind: _strings(settings.value(name)) for kind, name in _LIST_KEYS.items()}


def _write_lists(settings_file: Path, settings: Settings, lists: dict[str, list[str]]) -> None:
    changes: dict[Key, object | None] = {}
    for kind, name in _LIST_KEYS.items():
        key = key_by_name(name)
        if lists[kind] != _strings(settings.value(name)):
            changes[key] = lists[kind]
    if changes:
        apply_changes(settings_file, changes)


# --- edit ---------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EditResult:
    """The result of `rgsync settings edit`: whether the file changed, or the problems that undid it."""

    changed: bool
    problems: tuple[SettingsError, ...] = ()
    rejected_copy: Path | None = None


def edit_settings(settings_file: Path, run_editor: Callable[[Path], None]) -> EditResult:
    """Open the settings file in an editor, then keep the edit only if the file is valid.

    A missing file is first created from the commented template. An invalid edit is undone (the
    previous text is restored, or the new file removed) and kept next to it as `<name>.rejected`.
    """
    before = read_text(settings_file)
    if before is None:
        atomic_write(settings_file, render_template())
    start = read_text(settings_file)
    try:
        run_editor(settings_file)
    finally:
        # Also after a failed editor: whatever it left behind must be valid or be undone.
        after = read_text(settings_file)
        problems = tuple(_read_user(settings_file)[1]) if after is not None else ()
        rejected = _undo_edit(settings_file, before, after) if problems and after is not None else None
    if problems:
        return EditResult(changed=False, problems=problems, rejected_copy=rejected)
    return EditResult(changed=after != start or before is None)


def _undo_edit(settings_file: Path, before: tuple[str, bool] | None, after: tuple[str, bool]) -> Path:
    rejected = settings_file.with_name(settings_file.name + ".rejected")
    atomic_write(rejected, after[0], bom=after[1])
    if before is None:
        settings_file.unlink(missing_ok=True)
    else:
        atomic_write(settings_file, before[0], bom=before[1])
    return rejected
