"""Reuse of PostgreSQL connections inside a long-running process (a fleet worker).

Opening a PostgreSQL connection forks a server process and signs in: about 5 ms of the server's
CPU and 8 ms of wall time on a local socket, far more over a network. A fleet session opened some
fifteen of them (its run record, the budget, the user's state store several times, the shared
claims), so on a busy fleet the database spent more CPU starting connections than answering
queries. A worker therefore keeps the connections it is done with and hands them out again.

Reuse is off unless a process turns it on (`enable`): a one-shot `rgsync run` has nothing to
gain, and closing stays what releases everything. When on:

- a connection comes back only when it is healthy and not inside a transaction; before it is kept,
  every advisory lock it still holds is released and its session settings are reset
  (`pg_advisory_unlock_all(); RESET ALL`), so nothing one session took can leak into the next —
  the same guarantee closing gave;
- a kept connection is checked with one round trip before it is handed out, so one that died with
  a server restart is dropped instead of failing the next session;
- connections are kept per process and per kind of use (the key says who may share them), at most
  `max_idle` per key; a forked child starts with none of its parent's.
"""

from __future__ import annotations

import contextlib
import os
import threading
from collections.abc import Hashable
from typing import Any

# Per key, enough for a worker running a few sessions at once; the rest are closed.
DEFAULT_MAX_IDLE = 8

_lock = threading.Lock()
_enabled = False
_max_idle = DEFAULT_MAX_IDLE
_idle: dict[Hashable, list[Any]] = {}
_owner_pid = os.getpid()


def enable(max_idle: int = DEFAULT_MAX_IDLE) -> None:
    """Keep released connections of this process for reuse (a fleet worker calls this)."""
    global _enabled, _max_idle
    with _lock:
        _enabled = True
        _max_idle = max(1, max_idle)


def disable() -> None:
    """Stop reusing, and close every kept connection."""
    global _enabled
    with _lock:
        _enabled = False
        kept = [connection for connections in _idle.values() for connection in connections]
        _idle.clear()
    for connection in kept:
        with contextlib.suppress(Exception):
            connection.close()


def enabled() -> bool:
    """True when this process reuses connections."""
    return _enabled


def take(key: Hashable) -> Any | None:
    """A kept connection for `key` that answered a check, or None (then open a new one)."""
    import psycopg

    while True:
        with _lock:
            _forget_after_fork()
            if not _enabled or not _idle.get(key):
                return None
            connection = _idle[key].pop()
        try:
            connection.execute("SELECT 1")
        except psycopg.Error:
            with contextlib.suppress(Exception):
                connection.close()
            continue
        return connection


def release(key: Hashable, connection: Any) -> None:
    """Done with `connection`: kept for `key` when reuse is on and it is reusable, else closed."""
    if not _enabled or not _reset(connection):
        with contextlib.suppress(Exception):
            connection.close()
        return
    with _lock:
        _forget_after_fork()
        kept = _idle.setdefault(key, [])
        if _enabled and len(kept) < _max_idle:
            kept.append(connection)
            return
    with contextlib.suppress(Exception):
        connection.close()


def _reset(connection: Any) -> bool:
    """Leave nothing of the last user on the connection; False when it cannot be reused."""
    import psycopg
    from psycopg.pq import TransactionStatus

    if connection.closed or connection.broken:
        return False
    if connection.info.transaction_status != TransactionStatus.IDLE or not connection.autocommit:
        # Inside (or after a failed) transaction: closing is the only clean end.
        return False
    try:
        connection.execute("SELECT pg_advisory_unlock_all(); RESET ALL")
    except psycopg.Error:
        return False
    return True


def _forget_after_fork() -> None:
    # A connection's socket belongs to the process that opened it; a child must not use it.
    global _owner_pid
    if os.getpid() != _owner_pid:
        _idle.clear()
        _owner_pid = os.getpid()
