"""The session's optional shared-records collaborator: one Event per meeting and one EmailMessage
per email across the colleagues one deployment syncs (SPEC §3.7, §4.2, §7.1).

A single-user `rgsync run` has none (`SyncSession(shared=None)`): a colleague's copy is found by
the usual query (`Crm.find_meetings`, `Crm.find_existing(EMAIL)`), as always. A fleet worker
passes the PostgreSQL one (`rgsync.fleet.shared_records`). With it, before the meetings or
emails of a session are planned:

1. the claims on their keys are looked up (`engine.shared` keys: iCalendar UID + start, Message-ID).
   A claim with a record → the colleague's record, joined without any Salesforce query;
2. the keys nobody claimed are claimed (a unique key: exactly one session wins each). Only for those
   — the ones this session may create — does the fallback query run, for colleagues outside the
   fleet and for what a dead session may have created before its claim was taken over;
3. a key another session claimed but has not filled yet is waited for briefly; still empty, the
   item is left for this user's next session (never created twice);
4. after the writes, each claim this session holds gets the record it created or joined; a claim
   it did not use is released. A session stopped in the middle of its writes keeps its claims:
   its own next session takes them over at once and anyone else's after a while, both through the
   fallback query, and the journal (SPEC §7.1) adopts what it created.
"""

from __future__ import annotations

import logging
from collections.abc import Collection, Mapping
from dataclasses import dataclass, field
from typing import Protocol

log = logging.getLogger("rgsync.session")


@dataclass(frozen=True)
class Claim:
    """A claim on a shared key: who holds it, and the record once it exists.

    `stale` is true when the claim has waited for its record longer than the store allows (its
    session died): another session may take it over.
    """

    key: str
    holder: str
    record_id: str | None
    owner_id: str | None
    stale: bool = False


@dataclass(frozen=True)
class ClaimResult:
    """Keys a `claim` call gave this session: `new` ones, and ones `taken_over` from a dead session."""

    new: frozenset[str]
    taken_over: frozenset[str]

    @property
    def held(self) -> frozenset[str]:
        return self.new | self.taken_over


class SharedRecords(Protocol):
    """Claims on records colleagues share, keyed by kind (`event`, `email`) and key (module docstring)."""

    holder: str

    def lookup(self, kind: str, keys: Collection[str]) -> dict[str, Claim]:
        """The claims on these keys, by key."""
        ...

    def claim(self, kind: str, keys: Collection[str]) -> ClaimResult:
        """Claim keys for creating; returns those this session now holds."""
        ...

    def fill(self, kind: str, records: Mapping[str, tuple[str, str]]) -> None:
        """Record (record id, owner id) on claims this session holds."""
        ...

    def release(self, kind: str, keys: Collection[str]) -> None:
        """Give up unused claims this session holds."""
        ...

    def forget(self, kind: str, record_ids: Collection[str]) -> None:
        """Drop claims naming these records (Salesforce says they are gone): the next session
        to meet the item claims it afresh."""
        ...

    def wait_for(self, kind: str, keys: Collection[str]) -> dict[str, Claim]:
        """Wait briefly for other sessions' creates in flight; the claims as last seen."""
        ...

    def close(self) -> None:
        """Free the collaborator's resources."""
        ...


@dataclass
class Arrangement:
    """What the claims say about a session's keys (module docstring).

    `joined`: keys whose record a colleague (or this user earlier) saved — use it, no query.
    `held`: keys this session claimed — look them up by the fallback query, create if absent.
    `taken_over`: those of `held` a dead session had claimed — what the fallback finds is fleet's.
    `deferred`: keys in flight in another session — leave their items to the next session.
    """

    joined: dict[str, Claim] = field(default_factory=dict)
    held: frozenset[str] = frozenset()
    taken_over: frozenset[str] = frozenset()
    deferred: frozenset[str] = frozenset()


def arrange(shared: SharedRecords, kind: str, keys: Collection[str], *, dry_run: bool = False) -> Arrangement:
    """Look up, claim and wait for `keys` (steps 1–3 of the module docstring).

    A dry run only looks: it claims nothing and waits for nothing (what it cannot join it shows
    as a create, which is what the session would most likely do).
    """
    wanted = set(keys)
    if not wanted:
        return Arrangement()
    claims = shared.lookup(kind, wanted)
    joined = {k: c for k, c in claims.items() if c.record_id}
    if dry_run:
        return Arrangement(joined=joined)
    result = shared.claim(kind, wanted - set(joined))
    others = wanted - set(joined) - result.held
    if others:
        seen = shared.wait_for(kind, others)
        joined.update({k: c for k, c in seen.items() if k in others and c.record_id})
    deferred = frozenset(others - set(joined))
    if deferred:
        log.info(
            "%d shared %s(s) are being saved by a colleague's session; left for the next session",
            len(deferred),
            kind,
        )
    return Arrangement(joined, result.held, result.taken_over, deferred)


def settle(
    shared: SharedRecords, kind: str, held: Collection[str], records: Mapping[str, tuple[str, str]]
) -> None:
    """Step 4: fill the held claims that got a record, release the others."""
    shared.fill(kind, {k: v for k, v in records.items() if k in held})
    unused = [k for k in held if k not in records]
    if unused:
        shared.release(kind, unused)
