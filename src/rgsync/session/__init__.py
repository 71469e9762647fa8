"""One sync session (`rgsync run`): the one place that joins settings, state, providers and engine.

`core.SyncSession` runs the SPEC §2 order. It builds one `parts.SessionParts` (the two sides, the
state, the retry policy) and hands it to `reading.StreamReading`, `execute.PlanExecution` (writes
and records) and the per-stream runners `emails.EmailRunner` and `two_way.TwoWayRunner`. Every
product rule they apply is an `rgsync.engine` function; `outcome` holds what a session reports.
"""

# A provider's failure, as the commands above the session catch it (they never import providers).
from rgsync.providers.base import ProviderError
from rgsync.session.core import SyncSession
from rgsync.session.outcome import RunOptions, SessionResult, StreamStopped, StreamSummary
from rgsync.session.rules import free_mail_domains, rules_from_settings

__all__ = [
    "ProviderError",
    "RunOptions",
    "SessionResult",
    "StreamStopped",
    "StreamSummary",
    "SyncSession",
    "free_mail_domains",
    "rules_from_settings",
]
