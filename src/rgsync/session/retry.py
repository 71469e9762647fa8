"""The one retry policy of a session (SPEC §7.3).

Adapters never repeat a call: they only say what kind of failure it was (`RetriableError`,
`UncertainWrite`, `ItemError`, `FatalError`, see `rgsync.providers.base`). The session is the one
owner of retries, so they never nest. It waits with capped exponential back-off, honours the
service's own hint (Retry-After, EWS BackOffMilliseconds), and keeps one deadline for the whole
session: once a service has been failing past it, the session ends with `OutageError` (exit 1, one
line naming the service) instead of waiting on an outage for ever.

The pace can be shortened for tests and the sandbox with environment variables (seconds):
`RGSYNC_RETRY_DEADLINE` (default 120), `RGSYNC_RETRY_BASE_DELAY` (default 1) and
`RGSYNC_RETRY_MAX_WAIT` (caps a service's own Retry-After; by default it is honoured as given).
"""

from __future__ import annotations

import logging
import os
import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TypeVar

from rgsync.providers.base import FatalError, RetriableError, UncertainWrite

T = TypeVar("T")
log = logging.getLogger("rgsync.session")

DEFAULT_DEADLINE = 120.0
DEFAULT_BASE_DELAY = 1.0
DEFAULT_MAX_DELAY = 30.0

# What a user reads when a service stays down; keyed by the first part of the failure's code.
_SERVICE_NAMES = {"SF": "Salesforce", "MAIL": "the mailbox"}
# The issue codes of a run that ended at its deadline (resolved by the next completed run).
OUTAGE_CODES = ("SF-UNAVAILABLE", "MAIL-UNAVAILABLE", "SERVICE-UNAVAILABLE")


class OutageError(FatalError):
    """A service kept failing until the session's retry deadline: the session ends (exit 1)."""


def _env_seconds(name: str, default: float) -> float:
    raw = os.environ.get(name, "").strip()
    if not raw:
        return default
    try:
        value = float(raw)
    except ValueError:
        log.warning("%s=%r is not a number of seconds; using %g", name, raw, default)
        return default
    return max(value, 0.0)


@dataclass
class RetryPolicy:
    """Capped exponential back-off within a per-session deadline.

    `sleep` and `clock` are injectable so tests never wait; `jitter` spreads clients that failed
    together. `deadline` is measured from the first failure of the session, not from its start, so a
    long healthy session is not cut short by one late hiccup.
    """

    deadline: float = DEFAULT_DEADLINE
    base_delay: float = DEFAULT_BASE_DELAY
    max_delay: float = DEFAULT_MAX_DELAY
    max_hint: float | None = None  # None: a service's hint is honoured as given
    sleep: Callable[[float], None] = time.sleep
    clock: Callable[[], float] = time.monotonic
    jitter: Callable[[], float] = field(default=random.random)

    @classmethod
    def from_environment(cls) -> RetryPolicy:
        """The default policy, with `RGSYNC_RETRY_DEADLINE` / `RGSYNC_RETRY_BASE_DELAY` applied."""
        base = _env_seconds("RGSYNC_RETRY_BASE_DELAY", DEFAULT_BASE_DELAY)
        max_wait = os.environ.get("RGSYNC_RETRY_MAX_WAIT", "").strip()
        return cls(
            deadline=_env_seconds("RGSYNC_RETRY_DEADLINE", DEFAULT_DEADLINE),
            base_delay=base,
            max_delay=max(min(DEFAULT_MAX_DELAY, base * 32), base),
            max_hint=_env_seconds("RGSYNC_RETRY_MAX_WAIT", DEFAULT_MAX_DELAY) if max_wait else None,
        )

    def delay(self, attempt: int, hint: float | None) -> float:
        """Seconds to wait before attempt `attempt + 1` (0-based), the service's hint first.

        A hint is honoured as given (never shortened); the deadline check in `Retrier.wait`
        decides whether waiting that long is still worth it.
        """
        if hint is not None:
            hint = max(hint, 0.0)
            return hint if self.max_hint is None else min(hint, self.max_hint)
        backoff: float = self.base_delay * (2**attempt)
        return min(backoff * (0.5 + self.jitter() / 2), self.max_delay)


class VirtualTime:
    """A clock that only moves when something sleeps on it: the policy's waits take no real time."""

    def __init__(self) -> None:
        self.now = 0.0

    def sleep(self, seconds: float) -> None:
        self.now += seconds

    def clock(self) -> float:
        return self.now


def no_wait_policy(deadline: float = DEFAULT_DEADLINE) -> RetryPolicy:
    """The default pace and deadline on a virtual clock (tests, replays): same decisions, no waiting."""
    time_ = VirtualTime()
    return RetryPolicy(deadline=deadline, sleep=time_.sleep, clock=time_.clock, jitter=lambda: 1.0)


NO_WAIT = no_wait_policy()


class Retrier:
    """The session's retry state: when failures began, and how many waits so far.

    One `Retrier` lives for one session. `call` runs a repeatable call (a read, a lookup, an
    idempotent write); `wait` is used by write paths that must reconcile before sending again.
    """

    def __init__(self, policy: RetryPolicy) -> None:
        self.policy = policy
        self._first_failure: float | None = None
        self.waits = 0

    def call(self, call: Callable[[], T], what: str = "") -> T:
        """Run `call`, repeating it after `RetriableError` until it succeeds or the deadline passes.

        `UncertainWrite` is never repeated here (the request may have been applied): it goes to the
        caller, which reconciles first.
        """
        attempt = 0
        while True:
            try:
                return call()
            except UncertainWrite:
                raise
            except RetriableError as exc:
                self.wait(exc, attempt, what)
                attempt += 1

    def wait(self, exc: RetriableError | UncertainWrite, attempt: int, what: str = "") -> None:
        """Back off before attempt `attempt + 1`, or raise `OutageError` once the deadline is gone."""
        now = self.policy.clock()
        if self._first_failure is None:
            self._first_failure = now
        pause = self.policy.delay(attempt, exc.retry_after)
        elapsed = now - self._first_failure
        if elapsed + pause > self.policy.deadline:
            raise outage(exc, elapsed) from exc
        log.info("retrying %s in %.1fs after: %s", what or "a call", pause, exc.message)
        self.waits += 1
        self.policy.sleep(pause)


def outage(exc: RetriableError | UncertainWrite, elapsed: float) -> OutageError:
    """The one-line error that ends a session after a sustained outage."""
    prefix = (exc.code or "").split("-", 1)[0]
    service = _SERVICE_NAMES.get(prefix, "a service")
    code = f"{prefix}-UNAVAILABLE" if prefix in _SERVICE_NAMES else "SERVICE-UNAVAILABLE"
    return OutageError(
        f"{service} kept failing for {elapsed:.0f}s, so this run stopped ({exc.message}); "
        "nothing was lost and the next run carries on",
        code=code,
        advice="nothing to do if it passes; if it persists, check the service's status page and your network",
    )
