"""The fleet's work queue on procrastinate, in the same PostgreSQL database as the fleet's state.

One job is one user session (`rgsync.fleet.sync_user`):

* `queueing_lock = "user:NAME"`: at most one waiting job per user, so a scheduler that runs on
  every worker, or an admin's `fleet schedule` beside it, never piles up sessions of one user;
* `lock = "user:NAME"`: procrastinate hands out a user's jobs one at a time, never two at once on
  any machine (the runner's advisory lock guards the same thing once more inside the session);
* a failed job (the database went away, a bug) is retried a few times with a growing wait; a
  session that *completes* with item issues is a success — its issues are in the user's state.

Two periodic tasks run inside the workers, so a fleet needs nothing but workers:

* `rgsync.fleet.schedule` (every `SCHEDULE_SECONDS`): defers a session for every user whose next
  session is due by their adaptive interval (SPEC §7.2), skipping users who already wait;
* `rgsync.fleet.retry_stalled` (every `SCHEDULE_SECONDS`): a job whose worker stopped sending its
  heartbeat for `stalled_after` seconds (killed, machine gone) goes back to the queue, where
  another worker takes it; the journal makes the rerun safe (SPEC §7.1).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rgsync.fleet.store import FleetStore

log = logging.getLogger("rgsync.fleet")

SYNC_TASK = "rgsync.fleet.sync_user"
SCHEDULE_TASK = "rgsync.fleet.schedule"
STALLED_TASK = "rgsync.fleet.retry_stalled"
QUEUE = "rgsync"
SCHEDULE_SECONDS = 10
DEFAULT_STALLED_AFTER = 60.0


def user_lock(name: str) -> str:
    """The procrastinate lock (and queueing lock) of a user's sessions."""
    return f"user:{name}"


@dataclass
class FleetQueue:
    """A procrastinate App bound to the fleet database, with the fleet's tasks registered."""

    app: Any
    store: FleetStore
    home: Path
    stalled_after: float = DEFAULT_STALLED_AFTER
    budget_recheck: timedelta = timedelta(minutes=15)


def build_queue(
    url: str,
    home: Path,
    *,
    stalled_after: float = DEFAULT_STALLED_AFTER,
    pool_size: int = 4,
    schedule_every: int = SCHEDULE_SECONDS,
    budget_recheck: timedelta = timedelta(minutes=15),
) -> FleetQueue:
    """A procrastinate App on `url` with the session task and the two periodic tasks registered.

    `schedule_every` (seconds, 1..59; 0 leaves scheduling to `fleet schedule`) is how often the
    workers look for due users; stalled jobs are looked for as often, and at least every
    `stalled_after / 2` seconds. `budget_recheck` is how long a session deferred by the org's API
    budget waits at most, and how old the org's reading may get before it is read again.
    """
    import procrastinate

    store = FleetStore(url)
    connector = procrastinate.PsycopgConnector(conninfo=url, min_size=1, max_size=pool_size)
    app = procrastinate.App(connector=connector, import_paths=[])
    queue = FleetQueue(app, store, home, stalled_after, budget_recheck)

    @app.task(
        name=SYNC_TASK,
        queue=QUEUE,
        pass_context=True,
        retry=procrastinate.RetryStrategy(max_attempts=5, linear_wait=5),
    )
    def sync_user(context: Any, user: str) -> str:
        from rgsync.fleet.runner import run_user

        job_id = getattr(getattr(context, "job", None), "id", None)
        outcome = run_user(queue.store, queue.home, user, job_id=job_id, budget_recheck=queue.budget_recheck)
        return outcome.status

    async def schedule(timestamp: int) -> int:
        return await defer_due_async(queue)

    async def retry_stalled(timestamp: int) -> int:
        return await retry_stalled_async(queue)

    # Periodic tasks are deferred by every worker; procrastinate's periodic lock makes one job of
    # each per tick, and the queueing lock keeps a slow tick from stacking up behind another.
    if schedule_every:
        every = max(1, min(59, schedule_every))
        app.periodic(cron=f"* * * * * */{every}", periodic_id="schedule")(
            app.task(name=SCHEDULE_TASK, queue=QUEUE, queueing_lock=SCHEDULE_TASK)(schedule)
        )
    sweep = max(1, min(59, schedule_every or SCHEDULE_SECONDS, int(stalled_after / 2)))
    app.periodic(cron=f"* * * * * */{sweep}", periodic_id="stalled")(
        app.task(name=STALLED_TASK, queue=QUEUE, queueing_lock=STALLED_TASK)(retry_stalled)
    )

    return queue


async def defer_due_async(queue: FleetQueue, now: datetime | None = None) -> int:
    """Defer a session for every due user that has none waiting; returns how many were deferred."""
    import asyncio

    from procrastinate.exceptions import AlreadyEnqueued

    due = await asyncio.to_thread(queue.store.due_users, now or datetime.now(UTC))
    task = queue.app.tasks[SYNC_TASK]
    deferred = 0
    for name in due:
        try:
            await task.configure(lock=user_lock(name), queueing_lock=user_lock(name)).defer_async(user=name)
            deferred += 1
        except AlreadyEnqueued:
            continue  # one session of this user is already waiting
    return deferred


def defer_due(queue: FleetQueue, now: datetime | None = None) -> int:
    """`defer_due_async` for synchronous callers (`rgsync fleet schedule`); the app must be open."""
    from procrastinate.exceptions import AlreadyEnqueued

    due = queue.store.due_users(now or datetime.now(UTC))
    task = queue.app.tasks[SYNC_TASK]
    deferred = 0
    for name in due:
        try:
            task.configure(lock=user_lock(name), queueing_lock=user_lock(name)).defer(user=name)
            deferred += 1
        except AlreadyEnqueued:
            continue
    return deferred


async def retry_stalled_async(queue: FleetQueue) -> int:
    """Put back in the queue the jobs whose worker stopped sending heartbeats; returns how many."""
    manager = queue.app.job_manager
    stalled = await manager.get_stalled_jobs(seconds_since_heartbeat=queue.stalled_after)
    retried = 0
    for job in stalled:
        try:
            await manager.retry_job(job)
            retried += 1
            log.warning("job %s (%s) of a stopped worker is queued again", job.id, job.task_kwargs)
        except Exception as exc:  # another worker's sweep took it first, or a session already waits
            log.info("stalled job %s not queued again: %s", job.id, exc)
            await manager.finish_job(job, status=_failed(), delete_job=False)
    return retried


def _failed() -> Any:
    from procrastinate.jobs import Status

    return Status.FAILED
