"""The org's API budget in the fleet database: one reading of the org's allocation, the calls
reserved by sessions in flight, and the sessions deferred (SPEC §11; rules in engine/fleet_budget).

* `rgsync_fleet_budget`: one row — the org's daily allocation and calls used as last read, when
  and from where (a session's last Sforce-Limit-Info, or the `limits` resource when no session
  has told it for a while);
* `rgsync_fleet_budget_reservations`: one row per admitted session in flight — the calls it is
  expected to make. A worker that dies leaves its row behind; it stops counting after
  `RESERVATION_TTL`;
* `rgsync_fleet_budget_deferrals`: one row per session deferred — user, when, until when, why.

Admission is one transaction that first locks the budget row (`SELECT … FOR UPDATE`): workers
that start sessions at the same moment take turns, each one counting the reservations of the
ones before, so together they never plan past the org's floor. When the session ends its
reservation is released and its last reading of the allocation (the real count, every call of
every session and integration included) replaces the reading when it is newer.
"""

from __future__ import annotations

import logging
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from rgsync.engine import fleet_budget as rules
from rgsync.fleet.store import FleetStore
from rgsync.model import ApiUsage
from rgsync.paths import Paths

log = logging.getLogger("rgsync.fleet")

SCHEMA = """
CREATE TABLE IF NOT EXISTS rgsync_fleet_budget (
    id smallint PRIMARY KEY DEFAULT 1 CHECK (id = 1),
    api_limit bigint NOT NULL DEFAULT 0,
    api_used bigint NOT NULL DEFAULT 0,
    read_at timestamptz,
    source text NOT NULL DEFAULT '',
    refreshing_at timestamptz
);
INSERT INTO rgsync_fleet_budget (id) VALUES (1) ON CONFLICT (id) DO NOTHING;
CREATE TABLE IF NOT EXISTS rgsync_fleet_budget_reservations (
    id bigserial PRIMARY KEY,
    user_name text NOT NULL,
    calls integer NOT NULL,
    reserved_at timestamptz NOT NULL DEFAULT clock_timestamp()
);
CREATE TABLE IF NOT EXISTS rgsync_fleet_budget_deferrals (
    id bigserial PRIMARY KEY,
    user_name text NOT NULL,
    deferred_at timestamptz NOT NULL,
    until timestamptz NOT NULL,
    reason text NOT NULL
);
CREATE INDEX IF NOT EXISTS rgsync_fleet_budget_deferrals_at ON rgsync_fleet_budget_deferrals (deferred_at);
"""

# How long a deferred session waits at most before the budget is looked at again, and how old a
# reading may be before a worker reads the `limits` resource (`fleet worker --budget-recheck`).
DEFAULT_RECHECK = timedelta(minutes=15)
# A reservation older than this belongs to a worker that is gone (a session takes minutes).
RESERVATION_TTL = timedelta(hours=2)
# One worker reads `limits` at a time; a claim older than this was a worker that went away.
REFRESH_CLAIM = timedelta(seconds=30)
RECENT_SESSIONS = 5


@dataclass(frozen=True)
class BudgetSettings:
    """The org policy's budget settings: the floor (its `min-api-remaining`) and the per-user cap."""

    floor_percent: float = 10.0
    user_daily_calls: int = 0


def budget_settings(policy_file: Path | None) -> BudgetSettings:
    """Read the budget settings from the org policy file (built-in values without one).

    The floor is the policy's `min-api-remaining` as a user's session would get it without a value
    of its own: forced, else the policy default, else the built-in 10 %.
    """
    from rgsync.settings import key_by_name, load_policy
    from rgsync.settings.policy import FLEET_USER_DAILY_CALLS

    policy = load_policy(policy_file)
    floor_key = key_by_name("min-api-remaining")
    floor = policy.forced.get(floor_key, policy.defaults.get(floor_key, floor_key.default))
    cap = policy.fleet.get(FLEET_USER_DAILY_CALLS, FLEET_USER_DAILY_CALLS.default)
    return BudgetSettings(float(str(floor)), int(str(cap)))


def budget_settings_from_text(policy_text: str | None) -> BudgetSettings:
    """`budget_settings` for the policy as the fleet database keeps it (TOML text)."""
    if policy_text is None:
        return BudgetSettings()
    with tempfile.TemporaryDirectory(prefix="rgsync-budget-") as scratch:
        path = Path(scratch) / "org-policy.toml"
        path.write_text(policy_text, encoding="utf-8")
        return budget_settings(path)


def create_schema(store: FleetStore) -> None:
    """Create the budget tables (idempotent; `fleet init` and every worker start run it)."""
    with store.connect() as db:
        db.execute(SCHEMA)


@dataclass(frozen=True)
class Reading:
    """The org's allocation as last read."""

    limit: int
    used: int
    read_at: datetime | None
    source: str


@dataclass(frozen=True)
class Ticket:
    """The answer for one session: admitted with a reservation, or deferred until a time."""

    user: str
    allowed: bool
    reservation: int | None = None
    estimate: int = 0
    reason: str = ""
    until: datetime | None = None
    message: str = ""


def read(db: Any) -> Reading:
    row = db.execute(
        "SELECT api_limit, api_used, read_at, source FROM rgsync_fleet_budget WHERE id = 1"
    ).fetchone()
    if row is None:
        return Reading(0, 0, None, "")
    return Reading(int(row[0]), int(row[1]), row[2], str(row[3]))


def record_reading(store: FleetStore, usage: ApiUsage, at: datetime, source: str) -> bool:
    """Keep `usage` (read at `at`) as the org's reading unless a newer one is kept; True when kept."""
    with store.connect() as db:
        cursor = db.execute(
            "UPDATE rgsync_fleet_budget SET api_limit = %s, api_used = %s, read_at = %s, source = %s "
            "WHERE id = 1 AND (read_at IS NULL OR read_at <= %s)",
            (usage.limit, usage.used, at, source, at),
        )
        return bool(cursor.rowcount)


def claim_refresh(store: FleetStore, now: datetime, stale: timedelta, floor_percent: float) -> bool:
    """Whether this worker should read the `limits` resource now: the reading is missing or older
    than `stale`, it leaves room for the call above the floor, and no other worker is reading it
    (one `UPDATE … RETURNING` decides)."""
    with store.connect() as db:
        reading = read(db)
        reserved = _reserved(db, now)
        floor = rules.floor_calls(reading.limit, floor_percent)
        aged_out = 0
        if reading.read_at is not None:
            # Sessions whose every call was counted in the reading and has left the window since.
            row = db.execute(
                "SELECT COALESCE(SUM(api_calls_salesforce), 0) FROM rgsync_fleet_runs "
                "WHERE started_at > %s AND ended_at <= %s",
                (reading.read_at - rules.WINDOW, now - rules.WINDOW),
            ).fetchone()
            aged_out = int(row[0])
        age = now - reading.read_at if reading.read_at is not None else timedelta(0)
        if not rules.may_read_allocation(
            reading.limit, reading.used, reserved, floor, aged_out=aged_out, reading_age=age
        ):
            return False
        row = db.execute(
            "UPDATE rgsync_fleet_budget SET refreshing_at = %s WHERE id = 1 "
            "AND (read_at IS NULL OR read_at < %s) "
            "AND (refreshing_at IS NULL OR refreshing_at < %s) RETURNING id",
            (now, now - stale, now - REFRESH_CLAIM),
        ).fetchone()
    return row is not None


def _reserved(db: Any, now: datetime) -> int:
    row = db.execute(
        "SELECT COALESCE(SUM(calls), 0) FROM rgsync_fleet_budget_reservations WHERE reserved_at > %s",
        (now - RESERVATION_TTL,),
    ).fetchone()
    return int(row[0])


def _calls(rows: list[Any]) -> list[rules.Calls]:
    return [rules.Calls(row[0], int(row[1])) for row in rows]


def admit(
    store: FleetStore,
    name: str,
    settings: BudgetSettings,
    now: datetime,
    *,
    recheck: timedelta = DEFAULT_RECHECK,
) -> Ticket:
    """Admit a session of `name` with a reservation, or defer it (recorded, and the user's next
    due time moved), in one transaction serialised on the budget row."""
    since = now - rules.WINDOW
    with store.connect() as db, db.transaction():
        db.execute("SELECT id FROM rgsync_fleet_budget WHERE id = 1 FOR UPDATE")
        reading = read(db)
        fleet_calls = _calls(
            db.execute(
                "SELECT started_at, api_calls_salesforce FROM rgsync_fleet_runs WHERE started_at > %s",
                (since,),
            ).fetchall()
        )
        user_calls = _calls(
            db.execute(
                "SELECT started_at, api_calls_salesforce FROM rgsync_fleet_runs "
                "WHERE user_name = %s AND started_at > %s",
                (name, since),
            ).fetchall()
        )
        recent = [
            int(row[0])
            for row in db.execute(
                "SELECT api_calls_salesforce FROM rgsync_fleet_runs WHERE user_name = %s "
                "AND status = 'completed' ORDER BY started_at DESC LIMIT %s",
                (name, RECENT_SESSIONS),
            ).fetchall()
        ]
        live = now - RESERVATION_TTL
        reserved_row = db.execute(
            "SELECT COALESCE(SUM(calls), 0), COALESCE(SUM(calls) FILTER (WHERE user_name = %s), 0) "
            "FROM rgsync_fleet_budget_reservations WHERE reserved_at > %s",
            (name, live),
        ).fetchone()
        reserved, user_reserved = int(reserved_row[0]), int(reserved_row[1])
        active = db.execute("SELECT count(*) FROM rgsync_fleet_users WHERE stopped_reason IS NULL").fetchone()
        floor = rules.floor_calls(reading.limit, settings.floor_percent)
        fleet_used = sum(c.count for c in fleet_calls)
        share = rules.fair_share(
            reading.limit, floor, reading.used - fleet_used, int(active[0]), settings.user_daily_calls
        )
        if reading.limit <= 0:
            # No reading yet: the cap alone applies, or no share at all.
            share = settings.user_daily_calls
        user_used = sum(c.count for c in user_calls) + user_reserved
        estimate = rules.session_estimate(recent)
        decision = rules.admit(
            limit=reading.limit,
            used=reading.used,
            reserved=reserved,
            floor=floor,
            estimate=estimate,
            user_used=user_used,
            share=share if reading.limit > 0 or share > 0 else None,
            reading_reserve=rules.reading_reserve(reading.limit, recheck),
        )
        if decision.allowed:
            row = db.execute(
                "INSERT INTO rgsync_fleet_budget_reservations (user_name, calls, reserved_at) "
                "VALUES (%s, %s, %s) RETURNING id",
                (name, estimate, now),
            ).fetchone()
            return Ticket(name, True, int(row[0]), estimate)
        until = rules.defer_until(
            now, decision, org_calls=fleet_calls, user_calls=user_calls, user_used=user_used, recheck=recheck
        )
        db.execute(
            "INSERT INTO rgsync_fleet_budget_deferrals (user_name, deferred_at, until, reason) "
            "VALUES (%s, %s, %s, %s)",
            (name, now, until, decision.reason),
        )
        db.execute("UPDATE rgsync_fleet_users SET next_due_at = %s WHERE name = %s", (until, name))
    if decision.reason == rules.ORG_FLOOR:
        message = (
            f"deferred until {until:%H:%M:%S} UTC: the org's allocation is near its floor "
            f"({reading.used}/{reading.limit} used, {reserved} reserved, floor {floor})"
        )
    else:
        message = f"deferred until {until:%H:%M:%S} UTC: {name} used {user_used} of a {share}-call share"
    return Ticket(name, False, None, estimate, decision.reason, until, message)


def release(store: FleetStore, ticket: Ticket) -> None:
    """The session ended (or failed): its reservation stops counting."""
    if ticket.reservation is None:
        return
    with store.connect() as db:
        db.execute("DELETE FROM rgsync_fleet_budget_reservations WHERE id = %s", (ticket.reservation,))


# --- around one session (the runner's hooks) ------------------------------------------------------


def before_session(
    store: FleetStore,
    name: str,
    paths: Paths,
    *,
    recheck: timedelta = DEFAULT_RECHECK,
    now: datetime | None = None,
) -> Ticket:
    """Refresh a stale reading from the `limits` resource (one worker at a time), then admit or
    defer the session; an admitted session starts from the fleet's reading when it is newer than
    the one the user's last session left (it stands for the whole org)."""
    now = now or datetime.now(UTC)
    settings = budget_settings(paths.org_policy_file)
    if claim_refresh(store, now, recheck, settings.floor_percent):
        try:
            refresh_from_limits(store, paths)
        finally:
            with store.connect() as db:
                db.execute("UPDATE rgsync_fleet_budget SET refreshing_at = NULL WHERE id = 1")
    ticket = admit(store, name, settings, now, recheck=recheck)
    if ticket.allowed:
        _hand_reading_to_session(store, paths)
    return ticket


def after_session(store: FleetStore, ticket: Ticket, paths: Paths) -> None:
    """Release the reservation and keep the session's last reading of the allocation."""
    try:
        seen = _session_reading(paths)
        if seen is not None:
            record_reading(store, seen[0], seen[1], "session")
    finally:
        release(store, ticket)


def refresh_from_limits(store: FleetStore, paths: Paths) -> ApiUsage | None:
    """Read the allocation from the `limits` resource with this user's Salesforce sign-in; a
    failure is logged and leaves the reading as it was (the session reports sign-in problems)."""
    from rgsync import registry
    from rgsync.settings import load_settings

    try:
        settings = load_settings(paths.settings_file, paths.org_policy_file).effective()
        crm = registry.open_crm(settings, paths)
        try:
            reader = getattr(crm, "read_allocation", None)
            usage = reader() if callable(reader) else crm.usage()
        finally:
            crm.close()
    except Exception as exc:  # a worker must go on: the session itself says what is wrong
        log.info("could not read the org's API allocation: %s", exc)
        return None
    if isinstance(usage, ApiUsage):
        record_reading(store, usage, datetime.now(UTC), "limits")
        return usage
    return None


def _session_reading(paths: Paths) -> tuple[ApiUsage, datetime] | None:
    """The allocation as the user's last session read it (kept in the user's state), and when."""
    stored = _state_meta(paths, "api_usage")
    if not isinstance(stored, dict):
        return None
    try:
        at = datetime.fromisoformat(str(stored["at"]))
        return ApiUsage(used=int(stored["used"]), limit=int(stored["limit"])), at
    except (KeyError, TypeError, ValueError):
        return None


def _hand_reading_to_session(store: FleetStore, paths: Paths) -> None:
    with store.connect() as db:
        reading = read(db)
    if reading.read_at is None or reading.limit <= 0:
        return
    seen = _session_reading(paths)
    if seen is not None and seen[1] >= reading.read_at:
        return
    from rgsync.state import StateStore, state_location

    state = StateStore.open(state_location(paths))
    try:
        state.set_meta(
            "api_usage",
            {"used": reading.used, "limit": reading.limit, "at": reading.read_at.astimezone(UTC).isoformat()},
        )
    finally:
        state.close()


def _state_meta(paths: Paths, key: str) -> object:
    from rgsync.state import StateStore, state_location

    state = StateStore.open(state_location(paths))
    try:
        return state.get_meta(key)
    finally:
        state.close()


# --- what `fleet status` shows -------------------------------------------------------------------


def status(store: FleetStore, settings: BudgetSettings, now: datetime | None = None) -> dict[str, Any]:
    """The day's use, what is left, the floor, per-user use against the share, deferred sessions
    and the forecast, as the JSON object of `fleet status --json` (`budget`)."""
    now = now or datetime.now(UTC)
    since = now - rules.WINDOW
    with store.connect() as db:
        reading = read(db)
        runs = db.execute(
            "SELECT user_name, started_at, api_calls_salesforce FROM rgsync_fleet_runs WHERE started_at > %s",
            (since,),
        ).fetchall()
        reserved = db.execute(
            "SELECT user_name, calls FROM rgsync_fleet_budget_reservations WHERE reserved_at > %s",
            (now - RESERVATION_TTL,),
        ).fetchall()
        deferrals = db.execute(
            "SELECT user_name, count(*), max(until), (array_agg(reason ORDER BY deferred_at DESC))[1] "
            "FROM rgsync_fleet_budget_deferrals WHERE deferred_at > %s GROUP BY user_name",
            (since,),
        ).fetchall()
        users = db.execute("SELECT name, stopped_reason FROM rgsync_fleet_users ORDER BY name").fetchall()
    floor = rules.floor_calls(reading.limit, settings.floor_percent)
    calls = [rules.Calls(row[1], int(row[2])) for row in runs]
    fleet_used = sum(c.count for c in calls)
    active = sum(1 for row in users if row[1] is None)
    share = rules.fair_share(
        reading.limit, floor, reading.used - fleet_used, active, settings.user_daily_calls
    )
    by_user: dict[str, int] = {}
    for row in runs:
        by_user[str(row[0])] = by_user.get(str(row[0]), 0) + int(row[2])
    reserved_by_user: dict[str, int] = {}
    for row in reserved:
        reserved_by_user[str(row[0])] = reserved_by_user.get(str(row[0]), 0) + int(row[1])
    deferred = {str(row[0]): (int(row[1]), row[2], str(row[3])) for row in deferrals}
    outlook = rules.forecast(now, used=reading.used, limit=reading.limit, floor=floor, recent=calls)
    return {
        "limit": reading.limit,
        "used": reading.used,
        "remaining": max(0, reading.limit - reading.used),
        "floor": floor,
        "floor_percent": settings.floor_percent,
        "read_at": reading.read_at.isoformat() if reading.read_at else None,
        "source": reading.source or None,
        "fleet_used_24h": fleet_used,
        "reserved": sum(reserved_by_user.values()),
        "user_share": share,
        "user_daily_cap": settings.user_daily_calls,
        "deferred_24h": sum(d[0] for d in deferred.values()),
        "forecast": {
            "rate_per_hour": round(outlook.rate_per_hour, 1),
            "used_by_window_end": outlook.used_by_window_end,
            "floor_reached": outlook.floor_reached,
            "floor_reached_at": outlook.floor_reached_at.isoformat() if outlook.floor_reached_at else None,
        },
        "users": {
            str(row[0]): {
                "used_24h": by_user.get(str(row[0]), 0),
                "reserved": reserved_by_user.get(str(row[0]), 0),
                "share": share,
                "deferred_24h": deferred.get(str(row[0]), (0, None, ""))[0],
                "deferred_until": _iso(_future(deferred.get(str(row[0]), (0, None, ""))[1], now)),
                "last_deferral": deferred.get(str(row[0]), (0, None, ""))[2] or None,
            }
            for row in users
        },
    }


def _future(moment: datetime | None, now: datetime) -> datetime | None:
    return moment if moment is not None and moment > now else None


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None
