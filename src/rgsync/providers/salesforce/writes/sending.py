"""Sending: sObject Collections calls for creates (plain or upsert), updates and deletes, their
per-record answers as WriteResults, and the sender relations of EmailMessages.

Every create and update carries the duplicate-rule header (see `writes.core`); Salesforce's
per-record refusals become rgsync's stable issue codes (`error_code`).
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import Any

from rgsync.model import OrgInfo, WriteResult
from rgsync.providers.base import ProviderError, RetriableError
from rgsync.providers.salesforce.client import SalesforceClient
from rgsync.providers.salesforce.lookups import Lookups
from rgsync.providers.salesforce.mapping import OrgShape, sender_relation
from rgsync.providers.salesforce.writes.batches import _Attempt, _chunks, _Op

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
    def _execute(self, ops: list[_Op], results: list[WriteResult | None], attempt: _Attempt) -> None:
        creates = [op for op in ops if op.method == "create"]
        upserts: dict[tuple[str, str], list[_Op]] = {}
        plain: list[_Op] = []
        for op in creates:
            if op.upsert_field:
                upserts.setdefault((op.sobject, op.upsert_field), []).append(op)
            else:
                plain.append(op)
        for (sobject, key_field), group in upserts.items():
            for chunk in _chunks(group):
                self._send(chunk, f"composite/sobjects/{sobject}/{key_field}", "PATCH", results, attempt)
        for chunk in _chunks(sorted(plain, key=lambda op: op.sobject)):
            self._send(chunk, "composite/sobjects", "POST", results, attempt)
        updates = [op for op in ops if op.method == "update"]
        for chunk in _chunks(sorted(updates, key=lambda op: op.sobject)):
            self._send(chunk, "composite/sobjects", "PATCH", results, attempt)
        deletes = [op for op in ops if op.method == "delete"]
        for chunk in _chunks(deletes, by_type=False):
            self._send(chunk, "composite/sobjects", "DELETE", results, attempt)
        self._after_emails(creates, results)

    def _send(
        self, chunk: list[_Op], path: str, method: str, results: list[WriteResult | None], attempt: _Attempt
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
    def _result(op: _Op, item: dict[str, Any]) -> WriteResult:
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

    def _after_emails(self, creates: list[_Op], results: list[WriteResult | None]) -> None:
        """FromAddress relations for emails whose sender is a people record (see mapping)."""
        relations: list[_Op] = []
        for op in creates:
            result = results[op.index]
            if op.sender is not None and result is not None and result.ok and result.id:
                relations.append(
                    _Op(
                        len(relations),
                        "create",
                        "EmailMessageRelation",
                        sender_relation(result.id, *op.sender),
                    )
                )
        if not relations:
            return
        outcome: list[WriteResult | None] = [None] * len(relations)
        try:
            self._execute(relations, outcome, _Attempt())
        except ProviderError as exc:
            # The emails are saved; a missing sender relation must not undo that (nor be retried
            # by sending the emails again). The next call that fails the same way says so.
            log.warning("could not relate %d emails to their senders: %s", len(relations), exc.message)
            return
        refused = [r for r in outcome if r is not None and not r.ok]
        if refused:
            log.warning("Salesforce refused %d sender relations (%s)", len(refused), refused[0].error_code)
