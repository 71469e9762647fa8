"""The issue log of the state store (SPEC §8).

The same problem on the same item is one row whose count goes up each time a session meets it
again (keyed by `IssueReport.dedupe_key`); it is resolved when the item later syncs, when the
condition clears (by code), or by the user. A resolved issue that comes back is reopened.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from datetime import datetime

from rgsync.model import IssueItem, IssueReport, IssueSource, Severity, Stream
from rgsync.state.backend import Row
from rgsync.state.db import Database, from_text, optional_from_text, stored_rows, to_text
from rgsync.state.records import StoredIssue

_HIDDEN = "[hidden]"
# Secrets must never reach issues (SPEC §9) even when a service echoes them in an error message.
_SECRET_NAMES = r"access_token|refresh_token|id_token|client_secret|password|passwd|session_?id|assertion|api_?key|code_verifier"
_SECRET_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {_HIDDEN}"),
    # query-string and form style: password=...
    (re.compile(rf"(?i)\b({_SECRET_NAMES})=[^\s&,;\"']+"), rf"\1={_HIDDEN}"),
    # JSON style: "refresh_token": "..."
    (re.compile(rf'(?i)"({_SECRET_NAMES})"\s*:\s*"[^"]*"'), rf'"\1": "{_HIDDEN}"'),
    # A Salesforce session id: the org id, '!', then the token.
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._]+"), _HIDDEN),
)


def hide_secrets(text: str) -> str:
    """`text` with anything that looks like a token, password or session id replaced by '[hidden]'."""
    for pattern, replacement in _SECRET_PATTERNS:
        text = pattern.sub(replacement, text)
    return text


# Ids per IN list of `resolve_issues_for_items`: two lists stay below SQLite's least limit of 999.
_RESOLVE_CHUNK = 450

ISSUE_COLUMNS = (
    "id, code, severity, source, stream, item_kind, item_subject, item_mailbox_id, item_salesforce_id, "
    "message, advice, first_seen, last_seen, count, resolved_at, retry_requested_at"
)


@stored_rows("issues")
def issue_from_row(row: Row) -> StoredIssue:
    return StoredIssue(
        id=row["id"],
        code=row["code"],
        severity=Severity(row["severity"]),
        source=IssueSource(row["source"]),
        stream=Stream(row["stream"]) if row["stream"] else None,
        item=IssueItem(
            kind=row["item_kind"],
            subject=row["item_subject"],
            mailbox_id=row["item_mailbox_id"],
            salesforce_id=row["item_salesforce_id"],
        ),
        message=row["message"],
        advice=row["advice"],
        first_seen=from_text(row["first_seen"]),
        last_seen=from_text(row["last_seen"]),
        count=row["count"],
        resolved_at=optional_from_text(row["resolved_at"]),
        retry_requested_at=optional_from_text(row["retry_requested_at"]),
    )


class IssueLog(Database):
    """Issue methods of the state store."""

    def record_issue(self, report: IssueReport, now: datetime) -> int:
        """Store an issue met at `now`; return its id.

        A new problem gets a new row (count 1, first and last seen `now`). One already known by its
        dedupe key gets count + 1, last seen `now`, the latest message and advice, and is reopened if
        it had been resolved.
        """
        seen = to_text(now)
        item = report.item
        message, advice = hide_secrets(report.message), hide_secrets(report.advice)
        stream = report.stream.value if report.stream else None
        with self.transaction():
            row = self._one("SELECT id FROM issues WHERE dedupe_key = ?", (report.dedupe_key,))
            if row is not None:
                self._execute(
                    "UPDATE issues SET count = count + 1, last_seen = ?, resolved_at = NULL, severity = ?, "
                    "source = ?, stream = ?, item_subject = ?, message = ?, advice = ? WHERE id = ?",
                    (
                        seen,
                        report.severity.value,
                        report.source.value,
                        stream,
                        item.subject,
                        message,
                        advice,
                        row["id"],
                    ),
                )
                return int(row["id"])
            return self._insert(
                "INSERT INTO issues (dedupe_key, code, severity, source, stream, item_kind, item_subject, "
                "item_mailbox_id, item_salesforce_id, message, advice, first_seen, last_seen, count) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, 1)",
                (
                    report.dedupe_key,
                    report.code,
                    report.severity.value,
                    report.source.value,
                    stream,
                    item.kind,
                    item.subject,
                    item.mailbox_id,
                    item.salesforce_id,
                    message,
                    advice,
                    seen,
                    seen,
                ),
            )

    def resolve_issue(self, issue_id: int, now: datetime) -> bool:
        """Mark one issue resolved at `now`. False when there is no such issue or it was already resolved."""
        cursor = self._write(
            "UPDATE issues SET resolved_at = ? WHERE id = ? AND resolved_at IS NULL", (to_text(now), issue_id)
        )
        return cursor.rowcount > 0

    def resolve_issues_for_item(
        self, stream: Stream | None, mailbox_id: str = "", salesforce_id: str = "", *, now: datetime
    ) -> int:
        """Resolve the open issues about an item that has now synced; return how many.

        An issue matches when its item has the given mailbox id or the given Salesforce id (either
        suffices; empty ids match nothing) and, when `stream` is given, it belongs to that stream.
        """
        ids = [
            (column, value)
            for column, value in (("item_mailbox_id", mailbox_id), ("item_salesforce_id", salesforce_id))
            if value
        ]
        if not ids:
            return 0
        where = " OR ".join(f"{column} = ?" for column, _ in ids)
        params: list[object] = [to_text(now), *(value for _, value in ids)]
        sql = f"UPDATE issues SET resolved_at = ? WHERE resolved_at IS NULL AND ({where})"
        if stream is not None:
            sql += " AND stream = ?"
            params.append(stream.value)
        return self._write(sql, tuple(params)).rowcount

    def resolve_issues_for_items(
        self, stream: Stream | None, items: Iterable[tuple[str, str]], *, now: datetime
    ) -> int:
        """`resolve_issues_for_item` for many (mailbox id, Salesforce id) pairs at once, in a few
        statements whatever their number; return how many issues were resolved."""
        pairs = list(items)
        mailbox_ids = sorted({mailbox_id for mailbox_id, _ in pairs if mailbox_id})
        salesforce_ids = sorted({salesforce_id for _, salesforce_id in pairs if salesforce_id})
        step = _RESOLVE_CHUNK
        rounds = max(len(mailbox_ids), len(salesforce_ids))
        if not rounds:
            return 0
        resolved = 0
        with self._statements(rounds > step):
            for start in range(0, rounds, step):
                ids = [
                    (column, part)
                    for column, values in (
                        ("item_mailbox_id", mailbox_ids),
                        ("item_salesforce_id", salesforce_ids),
                    )
                    if (part := values[start : start + step])
                ]
                where = " OR ".join(f"{column} IN ({', '.join('?' * len(part))})" for column, part in ids)
                params: list[object] = [to_text(now), *(value for _, part in ids for value in part)]
                sql = f"UPDATE issues SET resolved_at = ? WHERE resolved_at IS NULL AND ({where})"
                if stream is not None:
                    sql += " AND stream = ?"
                    params.append(stream.value)
                resolved += self._write(sql, tuple(params)).rowcount
        return resolved

    def resolve_issues_by_code(self, code: str, now: datetime, stream: Stream | None = None) -> int:
        """Resolve every open issue with `code` (its condition has cleared, e.g. the API budget), of one
        stream when `stream` is given; return how many."""
        sql = "UPDATE issues SET resolved_at = ? WHERE resolved_at IS NULL AND code = ?"
        params: tuple[object, ...] = (to_text(now), code)
        if stream is not None:
            sql += " AND stream = ?"
            params += (stream.value,)
        return self._write(sql, params).rowcount

    def issues(self, include_resolved: bool = False, since: datetime | None = None) -> list[StoredIssue]:
        """Issues, most recently seen first: the open ones, or all with `include_resolved`.

        `since` keeps only issues last seen at or after that time.
        """
        conditions: list[str] = []
        params: list[object] = []
        if not include_resolved:
            conditions.append("resolved_at IS NULL")
        if since is not None:
            conditions.append("last_seen >= ?")
            params.append(to_text(since))
        where = f" WHERE {' AND '.join(conditions)}" if conditions else ""
        rows = self._all(
            f"SELECT {ISSUE_COLUMNS} FROM issues{where} ORDER BY last_seen DESC, id DESC", tuple(params)
        )
        return [issue_from_row(row) for row in rows]

    def issue(self, issue_id: int) -> StoredIssue | None:
        """One issue by id, open or resolved; None when there is no such issue."""
        row = self._one(f"SELECT {ISSUE_COLUMNS} FROM issues WHERE id = ?", (issue_id,))
        return None if row is None else issue_from_row(row)

    def request_retry(self, issue_ids: Sequence[int] | None, now: datetime) -> list[StoredIssue]:
        """Queue the items behind open issues for the next session (`rgsync issues retry`): the
        given ids, or every open issue when `issue_ids` is None. Returns the issues queued."""
        with self.transaction():
            if issue_ids is None:
                self._write(
                    "UPDATE issues SET retry_requested_at = ? WHERE resolved_at IS NULL", (to_text(now),)
                )
            else:
                for issue_id in issue_ids:
                    self._write(
                        "UPDATE issues SET retry_requested_at = ? WHERE id = ? AND resolved_at IS NULL",
                        (to_text(now), issue_id),
                    )
        return self.retry_requests()

    def retry_requests(self) -> list[StoredIssue]:
        """Open issues whose items the user asked to retry, oldest request first."""
        rows = self._all(
            f"SELECT {ISSUE_COLUMNS} FROM issues WHERE resolved_at IS NULL AND retry_requested_at IS NOT NULL "
            "ORDER BY retry_requested_at, id"
        )
        return [issue_from_row(row) for row in rows]

    def retry_taken(self, issue_ids: Iterable[int]) -> None:
        """A session has re-queued these issues' items: they wait for no further retry. An item
        that fails again updates its issue as usual."""
        with self.transaction():
            for issue_id in issue_ids:
                self._write("UPDATE issues SET retry_requested_at = NULL WHERE id = ?", (issue_id,))

    def open_issue_count(self) -> int:
        """How many issues are open."""
        row = self._one("SELECT COUNT(*) FROM issues WHERE resolved_at IS NULL")
        return int(row[0]) if row else 0
