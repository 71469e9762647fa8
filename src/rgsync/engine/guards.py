"""Guards a stream's reads and plan pass before anything is written (SPEC §7.5, §7.6)."""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass

from rgsync.engine.types import Plan
from rgsync.model import Side, Stream


@dataclass(frozen=True)
class MassDeletion:
    """A side of a stream whose plan deletes more than `max-deletes` items (SPEC §7.5)."""

    stream: Stream
    side: Side
    count: int
    limit: int


def mass_deletion_guard(
    plan: Plan, stream: Stream, max_deletes: int, *, allowed: bool
) -> MassDeletion | None:
    """The mass-deletion guard (SPEC §7.5): the first side (mailbox, then Salesforce) on which the
    plan would delete more than `max_deletes` items, unless `--allow-mass-delete` (`allowed`).
    When it answers, the whole stream does nothing this session."""
    if allowed:
        return None
    for side in (Side.MAILBOX, Side.SALESFORCE):
        count = plan.deletes(stream, side)
        if count > max_deletes:
            return MassDeletion(stream, side, count, max_deletes)
    return None


def absent_from_full_listing(linked: Iterable[str], listed: Collection[str]) -> tuple[str, ...]:
    """Expired cursors and first reads (SPEC §7.6): a full listing says what exists, so a linked
    item it does not show was deleted on that side. Only linked ids count: an id never linked
    names nothing rgsync knows, and a listing is diffed against the state, never trusted blindly."""
    return tuple(item_id for item_id in linked if item_id not in listed)
