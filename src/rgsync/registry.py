"""Which adapter serves a profile: picked from `[mailbox] provider` and `[salesforce]` (SPEC §1).

Adapters are imported only when chosen, so a missing optional dependency of one provider never
breaks the others. Tests and the sandbox can register extra factories (for instance the in-memory
providers) under a provider name.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Any

from rgsync.errors import UsageError
from rgsync.paths import Paths
from rgsync.providers.base import Crm, Mailbox

MailboxFactory = Callable[[Any, Paths], Mailbox]
CrmFactory = Callable[[Any, Paths], Crm]

# provider name -> "module:function" building the adapter from (settings, paths)
MAILBOX_ADAPTERS: dict[str, str] = {
    "gmail": "rgsync.providers.google:open_mailbox",
    "exchange": "rgsync.providers.exchange:open_mailbox",
    "microsoft365": "rgsync.providers.microsoft365:open_mailbox",
}
CRM_ADAPTER = "rgsync.providers.salesforce:open_crm"

_mailbox_overrides: dict[str, MailboxFactory] = {}
_crm_override: list[CrmFactory] = []


def register_mailbox(name: str, factory: MailboxFactory) -> None:
    """Serve `[mailbox] provider = name` with `factory` (tests, sandbox)."""
    _mailbox_overrides[name] = factory


def register_crm(factory: CrmFactory | None) -> None:
    """Serve the Salesforce side with `factory` instead of the real adapter (None restores it)."""
    _crm_override.clear()
    if factory is not None:
        _crm_override.append(factory)


def _load(target: str, what: str) -> Callable[..., Any]:
    module_name, _, function = target.partition(":")
    try:
        module = importlib.import_module(module_name)
    except ModuleNotFoundError as exc:
        if exc.name == module_name:
            raise UsageError(f"the {what} adapter is not available in this version of rgsync") from exc
        raise
    return getattr(module, function)  # type: ignore[no-any-return]


def open_mailbox(settings: Any, paths: Paths) -> Mailbox:
    """The mailbox adapter named by `[mailbox] provider`; a clear error when none is set or known."""
    provider = str(settings.mailbox.provider or "")
    if not provider:
        raise UsageError(
            f"no mailbox is configured in {paths.settings_file}: run `rgsync connect gmail|exchange|microsoft365`"
        )
    if provider in _mailbox_overrides:
        return _mailbox_overrides[provider](settings, paths)
    if provider not in MAILBOX_ADAPTERS:
        known = ", ".join(sorted(MAILBOX_ADAPTERS))
        raise UsageError(
            f"unknown mailbox provider {provider!r} in {paths.settings_file}; use one of: {known}"
        )
    return _load(MAILBOX_ADAPTERS[provider], f"'{provider}' mailbox")(settings, paths)  # type: ignore[no-any-return]


def open_crm(settings: Any, paths: Paths) -> Crm:
    """The Salesforce adapter for this profile."""
    if _crm_override:
        return _crm_override[0](settings, paths)
    return _load(CRM_ADAPTER, "Salesforce")(settings, paths)  # type: ignore[no-any-return]
