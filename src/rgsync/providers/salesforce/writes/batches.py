"""Writes as they are sent (`Op`), what a transiently failed apply had done (`Attempt`), and
how they are cut into sObject Collections calls: ≤ 200 records and ≤ 10 type chunks a call."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from rgsync.model import WriteResult

BATCH = 200
MAX_CHUNKS = 10
Key = tuple[str, str]


@dataclass
class Op:
    """One write as it will be sent."""

    index: int
    method: str  # create | update | delete
    sobject: str
    record: dict[str, Any] = field(default_factory=dict)
    record_id: str = ""
    upsert_field: str = ""
    result_id: str = ""  # the id to report (EventInvitee → the Event)
    key: Key | None = None
    sender: tuple[str, str] | None = None  # EmailMessage: (person id, address) of the sender
    message_id: str = ""  # email Task: its Message-ID


@dataclass
class Attempt:
    """What an apply that failed transiently had done, for the retry."""

    done: dict[Key, WriteResult] = field(default_factory=dict)
    uncertain: set[Key] = field(default_factory=set)


def chunk_ops(ops: list[Op], *, by_type: bool = True) -> list[list[Op]]:
    """Runs of at most 200 records and (for creates/updates) at most 10 type chunks."""
    out: list[list[Op]] = []
    current: list[Op] = []
    types = 0
    for op in ops:
        new_type = not current or current[-1].sobject != op.sobject
        if current and (len(current) == BATCH or (by_type and new_type and types == MAX_CHUNKS)):
            out.append(current)
            current, types = [], 0
            new_type = True
        if new_type:
            types += 1
        current.append(op)
    if current:
        out.append(current)
    return out
