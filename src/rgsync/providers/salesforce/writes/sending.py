"""Sending: sObject Collections calls for creates (plain or upsert), updates and deletes, and
their per-record answers as WriteResults.

EmailMessages travel together with their sender relations: one Composite request (allOrNone) holds
a collection of emails and the collection of their `FromAddress` EmailMessageRelations, which
names each email as `@{emailsN[i].id}`. Salesforce saves both or neither, so a kill or a lost reply
can never leave an email without its sender link, and the relations cost no second call.

Every create and update carries the duplicate-rule header (see `writes.core`); Salesforce's
per-record refusals become rgsync's stable issue codes (`error_code`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rgsync.model import OrgInfo, WriteResult
from rgsync.providers.base import RetriableError
from rgsync.providers.salesforce.client import COMPOSITE_HEAVY, SalesforceClient
from rgsync.providers.salesforce.lookups import Lookups
from rgsync.providers.salesforce.mapping import OrgShape, sender_relation
from rgsync.providers.salesforce.writes.batches import Attempt, Op, chunk_ops

log = logging.getLogger("rgsync.salesforce")

DUPLICATE_RULE_HEADER = {
    "Sforce-Duplicate-Rule-Header": "allowSave=false; includeRecordDetails=false; runAsCurrentUser=true"
}
ERROR_CODES = {
    "FIELD_CUSTOM_VALIDATION_EXCEPTION": "SF-VALIDATION",
    "REQUIRED_FIELD_MISSING": "SF-REQUIRED-FIELD",
    "DUPLICATES_DETECTED": "SF-DUPLICATE",
    "ENTITY_IS_DELETED": "SF-NOT-FOUND",
}
GONE = frozenset({"ENTITY_IS_DELETED", "INVALID_CROSS_REFERENCE_KEY"})
# Two (emails, sender relations) pairs a Composite request: 4 of the 5 collections it may hold, so
# 400 emails and their relations are saved in one call.
EMAIL_CHUNKS_PER_CALL = 2
# What Salesforce says of a record that was fine but undone because another one failed.
NOT_AT_FAULT = frozenset({"ALL_OR_NONE_OPERATION_ROLLED_BACK", "PROCESSING_HALTED"})


def error_code(status_code: str) -> str:
    """rgsync's stable issue code for a Salesforce per-record statusCode."""
    return ERROR_CODES.get(status_code, f"SF-{status_code}" if status_code else "SF-WRITE-FAILED")


class WriteSending:
    """Sends prepared writes and records their answers; the base of `Writer`."""

    client: SalesforceClient
    lookups: Lookups
    org: Callable[[], OrgInfo]
    shape: Callable[[], OrgShape]

    # -- sending -------------------------------------------------------------------------------------------------
    def _execute(self, ops: list[Op], results: list[WriteResult | None], attempt: Attempt) -> None:
        creates = [op for op in ops if op.method == "create"]
        upserts: dict[tuple[str, str], list[Op]] = {}
        plain: list[Op] = []
        for op in creates:
            if op.upsert_field:
                upserts.setdefault((op.sobject, op.upsert_field), []).append(op)
            else:
                plain.append(op)
        for (sobject, key_field), group in upserts.items():
            for chunk in chunk_ops(group):
                self._send(chunk, f"composite/sobjects/{sobject}/{key_field}", "PATCH", results, attempt)
        emails = [op for op in plain if op.sobject == "EmailMessage"]
        plain = [op for op in plain if op.sobject != "EmailMessage"]
        email_chunks = chunk_ops(emails)
        for start in range(0, len(email_chunks), EMAIL_CHUNKS_PER_CALL):
            group = [op for chunk in email_chunks[start : start + EMAIL_CHUNKS_PER_CALL] for op in chunk]
            self._send_emails(group, results, attempt)
        plain_chunks = chunk_ops(sorted(plain, key=lambda op: op.sobject))
        for start in range(0, len(plain_chunks), COMPOSITE_HEAVY):
            self._send_collections(plain_chunks[start : start + COMPOSITE_HEAVY], results, attempt)
        updates = [op for op in ops if op.method == "update"]
        for chunk in chunk_ops(sorted(updates, key=lambda op: op.sobject)):
            self._send(chunk, "composite/sobjects", "PATCH", results, attempt)
        deletes = [op for op in ops if op.method == "delete"]
        for chunk in chunk_ops(deletes, by_type=False):
            self._send(chunk, "composite/sobjects", "DELETE", results, attempt)

    def _send(
        self, chunk: list[Op], path: str, method: str, results: list[WriteResult | None], attempt: Attempt
    ) -> None:
        """One sObject Collections call; its per-record answers go into `results`."""
        try:
            if method == "DELETE":
                params = {"ids": ",".join(op.record_id for op in chunk), "allOrNone": "false"}
                answer = self.client.restful(path, method=method, params=params)
            else:
                body = {"allOrNone": False, "records": [op.record for op in chunk]}
                answer = self.client.restful(path, method=method, body=body, headers=DUPLICATE_RULE_HEADER)
        except RetriableError:
            attempt.uncertain |= {op.key for op in chunk if op.key is not None}
            raise
        self._record(chunk, answer, results, attempt)

    def _send_collections(
        self, chunks: list[list[Op]], results: list[WriteResult | None], attempt: Attempt
    ) -> None:
        """Create several collections in one Composite request (allOrNone false, each collection
        saved on its own), so five Task collections cost one call instead of five."""
        if len(chunks) == 1:
            self._send(chunks[0], "composite/sobjects", "POST", results, attempt)
            return
        url = self.client.data_path("composite/sobjects")
        subrequests = [
            {
                "method": "POST",
                "url": url,
                "referenceId": f"records{n}",
                "body": {"allOrNone": False, "records": [op.record for op in chunk]},
                "httpHeaders": DUPLICATE_RULE_HEADER,
            }
            for n, chunk in enumerate(chunks)
        ]
        try:
            answers = self.client.composite(subrequests)
        except RetriableError:
            attempt.uncertain |= {op.key for chunk in chunks for op in chunk if op.key is not None}
            raise
        by_reference = {a.reference: a for a in answers}
        if len(by_reference) != len(chunks) or not all(
            f"records{n}" in by_reference for n in range(len(chunks))
        ):
            # Without an answer for every collection, which records were saved is unknown.
            attempt.uncertain |= {op.key for chunk in chunks for op in chunk if op.key is not None}
            raise RetriableError(
                f"Salesforce answered {len(by_reference)} parts of a {len(chunks)}-part request",
                code="SF-BAD-ANSWER",
            )
        for n, chunk in enumerate(chunks):
            sub = by_reference[f"records{n}"]
            if not sub.ok:
                code, message = _first_error(sub.body)
                for op in chunk:
                    results[op.index] = WriteResult(ok=False, error_code=error_code(code), message=message)
                continue
            self._record(chunk, sub.body, results, attempt)

    def _record(
        self, chunk: list[Op], answer: Any, results: list[WriteResult | None], attempt: Attempt
    ) -> None:
        """A collection's per-record answers as WriteResults (in `results`)."""
        answers = answer if isinstance(answer, list) else []
        if len(answers) != len(chunk):
            raise RetriableError(
                f"Salesforce answered {len(answers)} results for {len(chunk)} records", code="SF-BAD-ANSWER"
            )
        for op, item in zip(chunk, answers, strict=True):
            result = self._result(op, item if isinstance(item, dict) else {})
            results[op.index] = result
            if result.ok and op.key is not None:
                attempt.done[op.key] = result
            if result.ok and op.message_id and result.id:
                self.lookups.remember_email_task(op.message_id, result.id)

    @staticmethod
    def _result(op: Op, item: dict[str, Any]) -> WriteResult:
        if item.get("success"):
            return WriteResult(ok=True, id=op.result_id or str(item.get("id") or op.record_id) or None)
        errors = item.get("errors") or [{}]
        first = errors[0] if isinstance(errors[0], dict) else {}
        code = str(first.get("statusCode") or first.get("errorCode") or "")
        message = str(first.get("message") or "Salesforce refused the record")
        if op.method == "delete" and code in GONE:
            return WriteResult(ok=True, id=op.result_id or op.record_id)
        if op.sobject == "EventRelation" and op.method == "create" and code == "DUPLICATE_VALUE":
            return WriteResult(ok=True, id=op.result_id)  # already invited
        return WriteResult(ok=False, error_code=error_code(code), message=message)

    def _send_emails(self, ops: list[Op], results: list[WriteResult | None], attempt: Attempt) -> None:
        """Save up to 400 EmailMessages with their sender relations, all or none (module docstring).

        A refused record undoes the whole request: it is answered as refused and the rest are sent
        again without it, so one bad email costs one extra call, never the others' save.
        """
        remaining = list(ops)
        while remaining:
            refused = self._email_composite(remaining, results, attempt)
            if not refused:
                return
            for index, result in refused.items():
                results[index] = result
            remaining = [op for op in remaining if op.index not in refused]

    def _email_composite(
        self, ops: list[Op], results: list[WriteResult | None], attempt: Attempt
    ) -> dict[int, WriteResult]:
        """One Composite request; the refused emails by write index (empty when all were saved)."""
        subrequests: list[dict[str, Any]] = []
        members: dict[str, list[Op]] = {}  # referenceId → the email op behind each record
        url = self.client.data_path("composite/sobjects")
        for n, chunk in enumerate(chunk_ops(ops)):
            emails, senders = f"emails{n}", f"senders{n}"
            members[emails] = chunk
            subrequests.append(_collection(url, emails, [op.record for op in chunk]))
            related = [(i, op) for i, op in enumerate(chunk) if op.sender is not None]
            if related:
                members[senders] = [op for _, op in related]
                records = [
                    sender_relation(f"@{{{emails}[{i}].id}}", *op.sender) for i, op in related if op.sender
                ]
                subrequests.append(_collection(url, senders, records))
        try:
            answer = self.client.restful(
                "composite", method="POST", body={"allOrNone": True, "compositeRequest": subrequests}
            )
        except RetriableError:
            attempt.uncertain |= {op.key for op in ops if op.key is not None}
            raise
        responses = {
            str(r.get("referenceId")): r
            for r in (answer or {}).get("compositeResponse") or []
            if isinstance(r, dict)
        }
        if set(responses) != set(members):
            # Without an answer for every part, whether the emails were saved is unknown: the
            # retry looks them up by Message-ID first, as after a lost reply.
            attempt.uncertain |= {op.key for op in ops if op.key is not None}
            raise RetriableError(
                f"Salesforce answered {len(responses)} parts of a {len(members)}-part email request",
                code="SF-BAD-ANSWER",
            )
        saved = all(
            200 <= int(responses[ref].get("httpStatusCode") or 0) < 300
            and _all_saved(responses[ref].get("body"), len(chunk))
            for ref, chunk in members.items()
        )
        if saved:
            for ref, chunk in members.items():
                if not ref.startswith("emails"):
                    continue
                for op, item in zip(chunk, responses[ref]["body"], strict=True):
                    result = WriteResult(ok=True, id=str(item.get("id") or "") or None)
                    results[op.index] = result
                    if op.key is not None:
                        attempt.done[op.key] = result
            return {}
        return _refusals(members, responses)


def _collection(url: str, reference: str, records: list[dict[str, Any]]) -> dict[str, Any]:
    """A Composite subrequest creating `records` through sObject Collections."""
    return {
        "method": "POST",
        "url": url,
        "referenceId": reference,
        "body": {"allOrNone": True, "records": records},
        "httpHeaders": DUPLICATE_RULE_HEADER,
    }


def _all_saved(body: Any, count: int) -> bool:
    return (
        isinstance(body, list)
        and len(body) == count
        and all(isinstance(item, dict) and item.get("success") for item in body)
    )


def _first_error(errors: Any) -> tuple[str, str]:
    first = errors[0] if isinstance(errors, list) and errors and isinstance(errors[0], dict) else {}
    code = str(first.get("statusCode") or first.get("errorCode") or "")
    return code, str(first.get("message") or "Salesforce refused the record")


def _refusals(members: dict[str, list[Op]], responses: dict[str, dict[str, Any]]) -> dict[int, WriteResult]:
    """The emails at fault in a rolled-back Composite request, with Salesforce's reason.

    A record refused in a collection answer names its email (for a relation, the email it belongs
    to); a subrequest refused as a whole (an error list) makes all of its emails refused. Records
    only undone for another's sake are not at fault. Should no email be named at all, every one is
    answered as refused, so the caller never sends the same request twice.
    """
    refused: dict[int, WriteResult] = {}
    first: tuple[str, str] = ("", "Salesforce refused the request")
    for ref, chunk in members.items():
        body = responses.get(ref, {}).get("body")
        if (
            isinstance(body, list)
            and len(body) == len(chunk)
            and all("success" in i for i in body if isinstance(i, dict))
        ):
            for op, item in zip(chunk, body, strict=True):
                if not isinstance(item, dict) or item.get("success"):
                    continue
                code, message = _first_error(item.get("errors"))
                if code and code not in NOT_AT_FAULT:
                    refused.setdefault(
                        op.index, WriteResult(ok=False, error_code=error_code(code), message=message)
                    )
            continue
        code, message = _first_error(body)
        if code and code not in NOT_AT_FAULT:
            for op in chunk:
                refused.setdefault(
                    op.index, WriteResult(ok=False, error_code=error_code(code), message=message)
                )
        elif code and not first[0]:
            first = (code, message)
    if refused:
        return refused
    _code, message = first
    return {
        op.index: WriteResult(ok=False, error_code="SF-WRITE-FAILED", message=message)
        for chunk in members.values()
        for op in chunk
    }
