"""Effective settings (SPEC §1) handed to the engine as its `Rules`; the rules themselves live in
`rgsync.engine.settings_rules`."""

from __future__ import annotations

from rgsync.engine.settings_rules import down_sync_switches, rules_from_values, switched_back_on
from rgsync.engine.types import Rules
from rgsync.model import OrgInfo
from rgsync.settings import EffectiveSettings

__all__ = ["down_sync_switches", "free_mail_domains", "rules_from_settings", "switched_back_on"]


def rules_from_settings(
    settings: EffectiveSettings, org: OrgInfo, free_mail_domains: frozenset[str]
) -> Rules:
    """The engine's `Rules` for one session: the effective settings, resolved against the org."""
    return rules_from_values(
        settings.rules,
        enhanced_email=org.enhanced_email,
        blocked_addresses=frozenset(settings.blocklist.addresses),
        blocked_domains=frozenset(settings.blocklist.domains),
        free_mail_domains=free_mail_domains,
        save_label=settings.mailbox.save_label,
        thread_label=settings.mailbox.thread_label,
    )


def free_mail_domains() -> frozenset[str]:
    """Every free mail domain rgsync knows: the pinned package's list plus rgsync's own extras."""
    from rgsync.settings.free_mail import free_mail_domains as known

    return known()
