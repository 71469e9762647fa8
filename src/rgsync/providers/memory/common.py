"""What both memory providers share: change journals, failure injection, retry-safe batched writes."""

from __future__ import annotations

import dataclasses
import itertools
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from rgsync.model import (
    Page,
    SyncRecord,
    Write,
    WriteResult,
)
from rgsync.providers.base import (
    ProviderError,
)


class SimulatedCrash(BaseException):
    """Raised by a memory provider to model the process being killed mid-session.

    A BaseException so that no `except Exception` in the session swallows it, like a real kill.
    """


@dataclass
class Journal:
    """Append-only log of (position, id, deleted) for one stream; positions start at 1.

    `epoch` grows each time the service "forgets" sync positions: cursors of older epochs are expired.
    """

    entries: list[tuple[int, str, bool]] = field(default_factory=list)
    counter: Iterator[int] = field(default_factory=lambda: itertools.count(1))
    epoch: int = 0

    def record(self, item_id: str, deleted: bool = False) -> None:
        self.entries.append((next(self.counter), item_id, deleted))

    @property
    def position(self) -> int:
        return self.entries[-1][0] if self.entries else 0

    @property
    def cursor(self) -> str:
        return f"m{self.epoch}.{self.position}"

    def since(self, position: int) -> tuple[list[str], list[str]]:
        """Ids changed and ids deleted after `position`, each once, latest state wins."""
        state: dict[str, bool] = {}
        for pos, item_id, deleted in self.entries:
            if pos > position:
                state.pop(item_id, None)
                state[item_id] = deleted
        return [i for i, d in state.items() if not d], [i for i, d in state.items() if d]

    def expire(self) -> None:
        self.epoch += 1

    def position_of(self, cursor: str | None) -> int | None:
        """The journal position of a cursor, or None when it is missing, foreign or expired."""
        if not cursor or not cursor.startswith("m") or "." not in cursor:
            return None
        epoch, _, position = cursor[1:].partition(".")
        if not (epoch.isdigit() and position.isdigit()) or int(epoch) != self.epoch:
            return None
        return int(position)


@dataclass
class FailureInjection:
    """Failures shared by both memory providers."""

    reject: Callable[[Write], str | None] = lambda _w: None  # -> error code to refuse this write
    fail_calls: list[ProviderError] = field(default_factory=list)  # raised by the next calls, in order
    crash_after_writes: int | None = None  # accepted writes before a SimulatedCrash
    accepted_writes: int = 0

    def on_call(self) -> None:
        if self.fail_calls:
            raise self.fail_calls.pop(0)

    def after_accepted_write(self) -> None:
        self.accepted_writes += 1
        if self.crash_after_writes is not None and self.accepted_writes >= self.crash_after_writes:
            self.crash_after_writes = None
            raise SimulatedCrash(f"simulated crash after {self.accepted_writes} accepted writes")


class AppliedWrites:
    """Writes that already succeeded: a retried `apply` returns their results instead of resending.

    Real adapters must be just as safe to retry (see `Mailbox.apply` / `Crm.apply`); keyed by the
    write object itself, because a retry hands the very same writes again.
    """

    def __init__(self) -> None:
        self._done: dict[int, tuple[Write, WriteResult]] = {}

    def get(self, write: Write) -> WriteResult | None:
        hit = self._done.get(id(write))
        return hit[1] if hit is not None and hit[0] is write else None

    def add(self, write: Write, result: WriteResult) -> None:
        self._done[id(write)] = (write, result)


def apply_batches(
    writes: Sequence[Write],
    size: int,
    call: Callable[[], None],
    write_one: Callable[[Write], WriteResult],
    failures: FailureInjection,
    applied: AppliedWrites,
    service: str,
) -> list[WriteResult]:
    """Send writes in batches of `size` (one counted call each), one result per write, in order."""
    results: list[WriteResult] = []
    for start in range(0, len(writes), size):
        batch = writes[start : start + size]
        if any(applied.get(w) is None for w in batch):
            call()
        for write in batch:
            done = applied.get(write)
            if done is not None:
                results.append(done)
                continue
            code = failures.reject(write)
            if code:
                results.append(
                    WriteResult(ok=False, error_code=code, message=f"{service} refused the record ({code})")
                )
                continue
            result = write_one(write)
            results.append(result)
            if result.ok:
                applied.add(write, result)
                failures.after_accepted_write()
    return results


def pages_of(
    items: list[SyncRecord], deleted: list[str], cursor: str, full: bool, reset: bool, size: int
) -> Iterator[Page]:
    """Split a listing into pages; only the last page carries the cursor of a full listing."""
    chunks = [items[i : i + size] for i in range(0, len(items), size)] or [[]]
    for n, chunk in enumerate(chunks):
        last = n == len(chunks) - 1
        yield Page(
            items=tuple(chunk),
            deleted=tuple(deleted) if last else (),
            cursor=cursor if (last or not full) else None,
            full=full,
            last=last,
            reset=reset,
        )


def apply_changes(record: Any, changes: Mapping[str, object]) -> Any:
    known = {f.name for f in dataclasses.fields(record)}
    unknown = set(changes) - known
    if unknown:
        raise ValueError(f"unknown fields {sorted(unknown)} for {type(record).__name__}")
    return dataclasses.replace(record, **changes)
