"""The issues a session itself raises (SPEC §8), worded for the user: what happened and what to do."""

from __future__ import annotations

from rgsync.engine.types import Action
from rgsync.model import (
    Delete,
    IssueItem,
    IssueReport,
    IssueSource,
    Severity,
    Side,
    Stream,
    Update,
    WriteResult,
)
from rgsync.providers.base import AuthError, ProviderError

WRITE_ADVICE = {
    "SF-VALIDATION": "a validation rule in your org refused the record; fix the item or ask your Salesforce admin",
    "SF-REQUIRED-FIELD": "the record misses a field your org requires; fill it in on the item or ask your admin",
    "SF-DUPLICATE": "a duplicate rule refused the record; merge the duplicates in Salesforce",
}
LABEL_FAILED = "MAIL-LABEL"
SENDER_LINK_FAILED = "SF-SENDER-LINK"
RETRIED_NEXT_TIME = "the item is tried again at the next session; `rgsync issues resolve ID` hides this issue"


def write_failed(stream: Stream, action: Action, result: WriteResult) -> IssueReport:
    """One record refused by a service (SPEC §7.7): an issue about that item alone."""
    code = result.error_code or "SF-WRITE-FAILED"
    link = action.link
    write = action.write
    return IssueReport(
        code=code,
        severity=Severity.ERROR,
        source=IssueSource.SALESFORCE if action.side is Side.SALESFORCE else IssueSource.MAILBOX,
        message=result.message or "the write was refused",
        advice=WRITE_ADVICE.get(code, RETRIED_NEXT_TIME),
        item=IssueItem(
            kind=stream.value,
            subject=action.subject,
            mailbox_id=link.mailbox_id if link else "",
            salesforce_id=(link.salesforce_id if link else "")
            or (write.id if isinstance(write, (Update, Delete)) else ""),
        ),
        stream=stream,
    )


def fatal(exc: ProviderError) -> IssueReport:
    """Sign-in, permissions or configuration stopped the session; the advice names the fix."""
    code = exc.code or ("MAIL-AUTH" if isinstance(exc, AuthError) else "RGSYNC-FATAL")
    return IssueReport(
        code=code,
        severity=Severity.ERROR,
        source=IssueSource.SALESFORCE if code.startswith("SF") else IssueSource.MAILBOX,
        message=exc.message,
        advice=exc.advice or "run `rgsync doctor` to see what is wrong",
    )


def cursor_reset(stream: Stream, side: Side) -> IssueReport:
    """A sync position expired and a full listing replaced it (SPEC §7.6): worth knowing, nothing to do."""
    return IssueReport(
        code="CURSOR-RESET",
        severity=Severity.NOTICE,
        source=IssueSource.MAILBOX if side is Side.MAILBOX else IssueSource.SALESFORCE,
        message=(
            f"the {side.value} no longer knew where the last {stream.value} sync stopped; "
            "a full listing was compared with what rgsync knows"
        ),
        advice="nothing to do: no item was duplicated or deleted because of it",
        item=IssueItem(kind=stream.value, subject=f"{stream.value} sync position ({side.value})"),
        stream=stream,
    )


def mass_delete(stream: Stream, side: Side, count: int, max_deletes: int) -> IssueReport:
    """The mass-deletion guard held a stream back (SPEC §7.5)."""
    return IssueReport(
        code="MASS-DELETE-GUARD",
        severity=Severity.ERROR,
        source=IssueSource.RGSYNC,
        message=(
            f"this session would delete {count} {stream.value} in the {side.value}, "
            f"more than max-deletes ({max_deletes}); nothing was changed"
        ),
        advice="check that nothing went wrong (an emptied folder, a changed setting), then run `rgsync run --allow-mass-delete`",
        # One issue per stream and side, whatever the count, so repeats add up instead of piling up.
        item=IssueItem(kind=stream.value, subject=f"deletions in the {side.value}"),
        stream=stream,
    )


def api_budget(message: str) -> IssueReport:
    """Writing stopped to keep the org's daily API allocation above `min-api-remaining` (SPEC §7.4)."""
    return IssueReport(
        code="SF-API-BUDGET",
        severity=Severity.WARNING,
        source=IssueSource.SALESFORCE,
        message=message,
        advice="rgsync backs off and resumes later; lower min-api-remaining or raise the org's allocation",
        item=IssueItem(kind="session", subject="Salesforce API allocation"),
    )


def labels_failed(count: int, label: str, message: str) -> IssueReport:
    """Saved emails whose mailbox label/category could not be set; retried every session until set."""
    return IssueReport(
        code=LABEL_FAILED,
        severity=Severity.WARNING,
        source=IssueSource.MAILBOX,
        message=f"could not mark {count} email(s) with the '{label}' label or category: {message}",
        advice="the emails are saved; rgsync sets the label at the next session. If this persists, "
        "check that rgsync may change labels/categories in the mailbox (`rgsync doctor`)",
        stream=Stream.EMAILS,
    )


def sender_links_failed(count: int, message: str) -> IssueReport:
    """Saved EmailMessages still without their sender relation; repaired at the next session."""
    return IssueReport(
        code=SENDER_LINK_FAILED,
        severity=Severity.ERROR,
        source=IssueSource.SALESFORCE,
        message=f"{count} saved email(s) are not yet related to their sender's Contact or Lead: {message}",
        advice="rgsync adds the missing sender link at the next session; if this persists, check that "
        "you may create Email Message Relations in Salesforce",
        stream=Stream.EMAILS,
    )
