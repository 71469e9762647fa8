"""One sync session (`rgsync run`): the one place that joins settings, state, providers and engine.

`core.SyncSession` reads and plans (SPEC §2 order), `execute.PlanExecution` writes and records,
`outcome` holds what a session reports and `rules` turns settings into the engine's rules.
"""

from rgsync.session.core import SyncSession
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.rules import free_mail_domains, rules_from_settings

__all__ = [
    "RunOptions",
    "SessionResult",
    "StreamStopped",
    "StreamSummary",
    "SyncSession",
    "free_mail_domains",
    "rules_from_settings",
]
