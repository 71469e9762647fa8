"""Sending writes under the session's retry policy, reconciling before anything is sent again.

A transient failure that changed nothing (`RetriableError`) is retried as it is. A failure after
which the service may have applied the request (`UncertainWrite`: a lost answer, a broken
connection, a 5xx on a create) is never re-sent blind: every create of the call is first looked
up by its natural key (Message-ID, event key, `rgsync_Key__c`, the origin tag the mailbox item
carries), found ones are adopted with their ids, and only the others are sent again. Updates and
deletes are idempotent and simply sent again.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Collection, Sequence

from rgsync.model import Create, RecordKind, Write, WriteResult
from rgsync.providers.base import UncertainWrite
from rgsync.session.retry import Retrier

log = logging.getLogger("rgsync.session")

Apply = Callable[[Sequence[Write]], list[WriteResult]]
Find = Callable[[RecordKind, Collection[str]], dict[str, str]]


def send_reconciled(
    writes: Sequence[Write], apply: Apply, find: Find, retrier: Retrier, what: str
) -> list[WriteResult]:
    """One result per write, in order. Retries under `retrier`; reconciles after `UncertainWrite`.

    `find(kind, keys)` returns key → id for creates that already exist on the target side.
    Raises what the retrier raises when the deadline passes (`OutageError`) and any non-transient
    error of `apply` or `find`.
    """
    results: list[WriteResult | None] = [None] * len(writes)
    waiting = list(range(len(writes)))
    attempt = 0
    while waiting:
        batch = [writes[n] for n in waiting]
        try:
            answers = retrier.call(lambda: apply(batch), what)  # noqa: B023 - called at once
        except UncertainWrite as exc:
            retrier.wait(exc, attempt, what)
            attempt += 1
            adopted = _adopt(writes, waiting, find, retrier, what)
            for n, found_id in adopted.items():
                results[n] = WriteResult(ok=True, id=found_id)
            if adopted:
                log.info("adopted %d records the lost answer had created (%s)", len(adopted), what)
            waiting = [n for n in waiting if n not in adopted]
            continue
        for n, answer in zip(waiting, answers, strict=True):
            results[n] = answer
        waiting = []
    return [r if r is not None else WriteResult(ok=False, error_code="NOT-SENT") for r in results]


def _adopt(
    writes: Sequence[Write], waiting: Sequence[int], find: Find, retrier: Retrier, what: str
) -> dict[int, str]:
    """Index → id of the waiting creates that the target side already holds."""
    by_kind: dict[RecordKind, list[tuple[int, str]]] = {}
    for n in waiting:
        write = writes[n]
        if isinstance(write, Create) and write.key:
            by_kind.setdefault(write.kind, []).append((n, write.key))
    adopted: dict[int, str] = {}
    for kind, entries in by_kind.items():
        keys = [key for _n, key in entries]
        found = retrier.call(lambda: find(kind, keys), f"looking up {what}")  # noqa: B023 - called at once
        adopted.update({n: found[key] for n, key in entries if key in found})
    return adopted
