"""Every provider kind rgsync knows, registered once, and the adapters a profile uses (SPEC §1).

A mailbox kind or a CRM is one `ProviderDescriptor` (see `rgsync.providers.descriptor`) living in
its own package; the tables below list them, one line per kind. `rgsync connect KIND`,
`rgsync doctor`, `rgsync run` and the sandbox read them from here, so adding a kind is its
package plus one line.

Descriptors are imported only when used, so a missing optional dependency of one provider never
breaks the others and `rgsync --help` loads no client library. Tests and the sandbox can register
extra descriptors, or extra adapter factories (the in-memory providers) under a provider name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from rgsync.credentials import CredentialStore
from rgsync.errors import UsageError
from rgsync.paths import Paths
from rgsync.providers.base import Crm, Mailbox

if TYPE_CHECKING:
    from rgsync.settings.effective import EffectiveSettings
from rgsync.providers.descriptor import (
    AnyDescriptor,
    ConnectContext,
    ConnectResult,
    Finding,
    FindingLike,
    Interaction,
    Option,
    ProfileOptions,
    ProviderDescriptor,
    StagedSecrets,
    commit_secrets,
)

__all__ = [
    "CRM_KINDS",
    "MAILBOX_KINDS",
    "AnyDescriptor",
    "ConnectContext",
    "ConnectResult",
    "Finding",
    "FindingLike",
    "Interaction",
    "Option",
    "ProfileOptions",
    "ProviderDescriptor",
    "StagedSecrets",
    "commit_secrets",
    "connect_inputs",
    "descriptor",
    "doctor_findings",
    "kinds",
    "layer_store",
    "mailbox_kinds",
    "open_crm",
    "open_mailbox",
    "register_crm",
    "register_kind",
    "register_mailbox",
    "store_of",
    "unregister_kind",
]

# kind -> "module:attribute" of its descriptor; `[mailbox] provider` names one of these.
MAILBOX_KINDS: dict[str, str] = {
    "gmail": "rgsync.providers.google.descriptor:DESCRIPTOR",
    "exchange": "rgsync.providers.exchange.descriptor:DESCRIPTOR",
    "microsoft365": "rgsync.providers.microsoft365.descriptor:DESCRIPTOR",
}
CRM_KINDS: dict[str, str] = {
    "salesforce": "rgsync.providers.salesforce.descriptor:DESCRIPTOR",
}

MailboxFactory = Callable[[Any, Paths], Mailbox]
CrmFactory = Callable[[Any, Paths], Crm]

_extra_mailboxes: dict[str, AnyDescriptor] = {}
_mailbox_overrides: dict[str, MailboxFactory] = {}
_crm_override: list[CrmFactory] = []


def register_kind(descriptor: AnyDescriptor) -> None:
    """Add a mailbox kind at run time (a plug-in, a test); it joins `connect`, `doctor` and `run`."""
    _extra_mailboxes[descriptor.kind] = descriptor


def unregister_kind(kind: str) -> None:
    """Forget a mailbox kind added with `register_kind`."""
    _extra_mailboxes.pop(kind, None)


def register_mailbox(name: str, factory: MailboxFactory) -> None:
    """Serve `[mailbox] provider = name` with `factory` (tests, sandbox)."""
    _mailbox_overrides[name] = factory


def register_crm(factory: CrmFactory | None) -> None:
    """Serve the Salesforce side with `factory` instead of the real adapter (None restores it)."""
    _crm_override.clear()
    if factory is not None:
        _crm_override.append(factory)


def mailbox_kinds() -> list[str]:
    """The mailbox kinds, in registration order."""
    return [*MAILBOX_KINDS, *(k for k in _extra_mailboxes if k not in MAILBOX_KINDS)]


def kinds() -> list[str]:
    """Every kind `rgsync connect` offers: the mailboxes, then the CRMs."""
    return [*mailbox_kinds(), *CRM_KINDS]


def _load(target: str, what: str) -> AnyDescriptor:
    module_name, _, attribute = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise UsageError(f"the {what} adapter is not available in this version of rgsync") from exc
        raise
    descriptor = getattr(module, attribute)
    if not isinstance(descriptor, ProviderDescriptor):
        raise TypeError(f"{target} is not a ProviderDescriptor")
    return descriptor


def descriptor(kind: str) -> AnyDescriptor | None:
    """The descriptor of `kind` (mailbox or CRM); None when no such kind is registered."""
    if kind in _extra_mailboxes:
        return _extra_mailboxes[kind]
    target = MAILBOX_KINDS.get(kind) or CRM_KINDS.get(kind)
    if target is None:
        return None
    return _load(target, f"'{kind}' mailbox" if kind in MAILBOX_KINDS else kind.capitalize())


def crm_descriptor() -> AnyDescriptor:
    """The CRM every profile syncs with."""
    found = descriptor(next(iter(CRM_KINDS)))
    assert found is not None  # listed in CRM_KINDS just above
    return found


# --- typed input from today's settings object: the one place provider code meets the settings ----


def _table(settings: EffectiveSettings, section: str) -> dict[str, Any]:
    """A connection table in settings spelling, unset keys left out (the descriptors' input)."""
    connection = settings.mailbox if section == "mailbox" else settings.salesforce
    return {key: value for key, value in connection.table().items() if value is not None}


def mailbox_provider(settings: EffectiveSettings) -> str:
    """The `[mailbox] provider` of a profile ('' when none is set)."""
    return str(settings.mailbox.provider or "")


def profile_options(settings: EffectiveSettings, paths: Paths | None = None) -> ProfileOptions:
    """The profile-wide values adapters need (time zone, email mode, API reserve), typed."""
    return ProfileOptions(
        time_zone=settings.time_zone,
        email_mode=str(settings.save_emails_as),
        min_api_remaining=float(settings.schedule.min_api_remaining),
        settings_file=str(paths.settings_file) if paths is not None else "the settings file",
    )


def connection_config(found: AnyDescriptor, settings: EffectiveSettings) -> Any:
    """The typed connection config of a provider, read from its settings table."""
    return found.connection(_table(settings, found.section))


# credentials file -> a wrapper adding secrets kept outside the profile (a fleet's admin sign-in).
_store_layers: dict[str, Callable[[CredentialStore], CredentialStore]] = {}


def layer_store(
    credentials_file: Path | str, wrap: Callable[[CredentialStore], CredentialStore] | None
) -> None:
    """Serve the profile whose credentials file is `credentials_file` through `wrap` (None stops).

    Keyed by the profile's own file, so sessions of other users running at the same time in other
    threads are not affected.
    """
    key = str(credentials_file)
    if wrap is None:
        _store_layers.pop(key, None)
    else:
        _store_layers[key] = wrap


def store_of(paths: Paths) -> CredentialStore:
    """The credentials store of a profile (with any layer `layer_store` set for it)."""
    store = CredentialStore(paths.profile, paths.credentials_file)
    wrap = _store_layers.get(str(paths.credentials_file))
    return wrap(store) if wrap is not None else store


# --- what the session and the CLI use ---------------------------------------------------------------


def open_mailbox(settings: EffectiveSettings, paths: Paths) -> Mailbox:
    """The mailbox adapter named by `[mailbox] provider`; a clear error when none is set or known."""
    provider = mailbox_provider(settings)
    if not provider:
        raise UsageError(
            f"no mailbox is configured in {paths.settings_file}: run `rgsync connect {'|'.join(mailbox_kinds())}`"
        )
    if provider in _mailbox_overrides:
        return _mailbox_overrides[provider](settings, paths)
    found = descriptor(provider) if provider in mailbox_kinds() else None
    if found is None:
        known = ", ".join(sorted(mailbox_kinds()))
        raise UsageError(
            f"unknown mailbox provider {provider!r} in {paths.settings_file}; use one of: {known}"
        )
    return found.open(connection_config(found, settings), store_of(paths), profile_options(settings, paths))  # type: ignore[no-any-return]


def open_crm(settings: EffectiveSettings, paths: Paths) -> Crm:
    """The Salesforce adapter for this profile."""
    if _crm_override:
        return _crm_override[0](settings, paths)
    found = crm_descriptor()
    return found.open(connection_config(found, settings), store_of(paths), profile_options(settings, paths))  # type: ignore[no-any-return]


def doctor_findings(settings: EffectiveSettings, paths: Paths) -> list[FindingLike]:
    """The findings of the profile's mailbox kind (none when no known kind is set), then the CRM's."""
    out: list[FindingLike] = []
    provider = mailbox_provider(settings)
    found = descriptor(provider) if provider in mailbox_kinds() else None
    options = profile_options(settings, paths)
    if found is not None:
        out += found.doctor(connection_config(found, settings), store_of(paths), options)
    crm = crm_descriptor()
    out += crm.doctor(connection_config(crm, settings), store_of(paths), options)
    return out


def connect_inputs(
    found: AnyDescriptor, settings: EffectiveSettings, paths: Paths
) -> tuple[Any, bool, ProfileOptions]:
    """What a connect flow starts from: the current config, whether it is of this kind, the options."""
    same = found.section != "mailbox" or mailbox_provider(settings) == found.kind
    return connection_config(found, settings), same, profile_options(settings, paths)
