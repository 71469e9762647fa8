"""`rgsync fleet`: run rgsync for a whole team from one PostgreSQL database and any number of workers."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
import tempfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import click

from rgsync.cli.common import App, json_option, pass_app
from rgsync.cli.render import AdaptiveTable, Column
from rgsync.errors import UsageError


@dataclass
class FleetContext:
    """The fleet options given before the subcommand."""

    state_url: str | None
    home: str | None

    def store(self) -> Any:
        from rgsync.fleet.store import FleetStore

        if not self.state_url:
            raise UsageError(
                "no fleet database given; pass --state-url postgresql://USER@HOST/DATABASE or set RGSYNC_STATE_URL"
            )
        return FleetStore(self.state_url)

    def reachable_store(self) -> Any:
        """The store, after one connection proved the database is there: a wrong URL or a server
        that is down is one line at once, not the queue's pool waiting and retrying."""
        store = self.store()
        with store.connect():
            pass
        return store

    def home_dir(self) -> Path:
        from rgsync.fleet.home import fleet_home

        return fleet_home(self.home)


FLEET_KEY = "rgsync.fleet"


@click.group("fleet")
@click.option(
    "--state-url",
    envvar="RGSYNC_STATE_URL",
    metavar="URL",
    help="The fleet's PostgreSQL database (no password in it: use ~/.pgpass). Env: RGSYNC_STATE_URL.",
)
@click.option(
    "--home",
    envvar="RGSYNC_FLEET_HOME",
    metavar="DIR",
    help="Where this machine keeps the users' profiles and secrets. Env: RGSYNC_FLEET_HOME.",
)
@click.pass_context
def fleet_group(ctx: click.Context, state_url: str | None, home: str | None) -> None:
    """Run rgsync for a team: users, workers and their schedule in one PostgreSQL database."""
    # `meta` is shared by the whole chain of contexts, so the subcommands find the fleet options
    # there while `App` stays the object every command is passed.
    ctx.meta[FLEET_KEY] = FleetContext(state_url, home)


def _fleet() -> FleetContext:
    found = click.get_current_context().meta.get(FLEET_KEY)
    return found if isinstance(found, FleetContext) else FleetContext(None, None)


@fleet_group.command("init")
@click.option(
    "--org-policy",
    "policy",
    metavar="FILE",
    type=click.Path(dir_okay=False, path_type=Path),
    help="Org policy (defaults, forced values, org blocklist) every user's settings are layered under.",
)
@pass_app
def init_command(app: App, policy: Path | None) -> None:
    """Create rgsync's tables and procrastinate's job queue in the fleet database (safe to repeat)."""
    from rgsync.fleet.budget import create_schema as create_budget_schema
    from rgsync.fleet.queue import build_queue
    from rgsync.fleet.shared_records import create_schema as create_shared_schema
    from rgsync.settings import load_policy

    fleet = _fleet()
    store = fleet.store()
    store.create_schema()
    create_shared_schema(store.url)
    create_budget_schema(store)
    queue = build_queue(store.url, fleet.home_dir())
    with queue.app.open():
        if not _procrastinate_ready(queue):
            queue.app.schema_manager.apply_schema()
    if policy is not None:
        load_policy(policy)  # refuse a broken policy now, with its line
        from rgsync.fleet.signin import parse_admin_sign_in

        parse_admin_sign_in(policy.read_text(encoding="utf-8"))  # and a broken admin sign-in
        store.set_meta("org_policy", policy.read_text(encoding="utf-8"))
    app.say("The fleet database is ready: `rgsync fleet import roster.csv`, then start workers.")


def _procrastinate_ready(queue: Any) -> bool:
    with queue.store.connect() as db:
        row = db.execute("SELECT to_regclass('procrastinate_jobs') IS NOT NULL").fetchone()
    return bool(row and row[0])


class _LayerChecker:
    """Turns a settings file plus per-user overrides into a checked settings layer (TOML text).

    The settings code works on files, so each layer is written to one private scratch folder,
    shared by every row of a roster (a thousand users are not a thousand temporary folders).
    """

    def __init__(self, scratch: Path, policy_text: str | None) -> None:
        self.target = scratch / "settings.toml"
        self.policy: Path | None = None
        if policy_text is not None:
            self.policy = scratch / "org-policy.toml"
            self.policy.write_text(policy_text, encoding="utf-8")

    def layer(self, settings_file: Path | None, overrides: dict[str, str]) -> str:
        """The file's content with the overrides set, checked like a settings file; `UsageError`
        naming the admin's file (never the scratch copy) otherwise."""
        from rgsync.settings import set_value, settings_problems

        target = self.target
        target.write_text(
            settings_file.read_text(encoding="utf-8") if settings_file else "", encoding="utf-8"
        )
        for key, raw in overrides.items():
            set_value(target, key, raw, self.policy)
        problems = settings_problems(target, self.policy)
        if problems:
            where = str(settings_file) if settings_file else "the user's settings"
            message = problems[0].message
            raise UsageError(
                message.replace(str(target), where) if str(target) in message else f"{where}: {message}"
            )
        return target.read_text(encoding="utf-8")


def _user_layer(settings_file: Path | None, overrides: dict[str, str], policy_text: str | None) -> str:
    """The user's settings layer as TOML text: the file's content with the overrides set, checked."""
    with tempfile.TemporaryDirectory(prefix="rgsync-fleet-") as scratch:
        return _LayerChecker(Path(scratch), policy_text).layer(settings_file, overrides)


@fleet_group.command("add")
@click.argument("name")
@click.option(
    "--settings",
    "settings_file",
    required=True,
    metavar="FILE",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="The user's settings file ([mailbox], [salesforce] and their own values).",
)
@click.option(
    "--credentials",
    "credentials_file",
    metavar="FILE",
    type=click.Path(dir_okay=False, exists=True, path_type=Path),
    help="A credentials file to install for this user on this machine.",
)
@pass_app
def add_command(app: App, name: str, settings_file: Path, credentials_file: Path | None) -> None:
    """Add a user (or replace their settings) from a settings file."""
    import tomllib

    from rgsync.fleet.home import install_credentials
    from rgsync.fleet.roster import check_user_name
    from rgsync.fleet.store import FleetUser

    fleet = _fleet()
    store = fleet.store()
    check_user_name(name)
    text = _user_layer(settings_file, {}, store.get_meta("org_policy"))
    data = tomllib.loads(text)
    mailbox = data.get("mailbox", {})
    salesforce = data.get("salesforce", {})
    if not mailbox.get("provider") or not mailbox.get("address"):
        raise UsageError(
            f"{settings_file}: [mailbox] needs provider and address; `rgsync connect` writes them"
        )
    user = FleetUser(
        name=name,
        mailbox=str(mailbox["provider"]),
        address=str(mailbox["address"]),
        salesforce_username=str(salesforce.get("username") or mailbox["address"]),
        settings=text,
    )
    store.upsert_users([user])
    if credentials_file is not None:
        install_credentials(fleet.home_dir(), name, credentials_file)
    app.say(f"Added {name} ({user.mailbox} {user.address}).")


@fleet_group.command("import")
@click.argument("roster", type=click.Path(dir_okay=False, path_type=Path))
@pass_app
def import_command(app: App, roster: Path) -> None:
    """Add or update every user of a roster CSV (name, mailbox, address, salesforce_username, …)."""
    from rgsync.fleet.home import install_credentials
    from rgsync.fleet.roster import read_roster
    from rgsync.fleet.store import FleetUser
    from rgsync.settings import KEYS

    fleet = _fleet()
    store = fleet.store()
    rows = read_roster(roster, known_keys=frozenset(key.name for key in KEYS))
    policy = store.get_meta("org_policy")
    users = []
    with tempfile.TemporaryDirectory(prefix="rgsync-fleet-") as scratch:
        checker = _LayerChecker(Path(scratch), policy)
        for row in rows:
            try:
                text = checker.layer(row.settings_file, row.overrides)
            except UsageError as exc:
                # Nothing is imported: the message names the row to fix.
                raise UsageError(f"{row.where(roster)}: {exc.message}") from None
            text = _with_connection(text, row.mailbox, row.address, row.salesforce_username)
            users.append(FleetUser(row.name, row.mailbox, row.address, row.salesforce_username, text))
    # One transaction: a roster is imported whole or not at all.
    store.upsert_users(users)
    home = fleet.home_dir()
    for row in rows:
        if row.credentials_file is not None:
            install_credentials(home, row.name, row.credentials_file)
    app.say(f"Imported {len(users)} user(s) from {roster}.")


def _with_connection(text: str, mailbox: str, address: str, username: str) -> str:
    """The roster's mailbox kind, address and Salesforce username win over the settings file's."""
    import tomlkit

    doc = tomlkit.parse(text)
    table = doc.setdefault("mailbox", tomlkit.table())
    table["provider"] = mailbox
    table["address"] = address
    salesforce = doc.setdefault("salesforce", tomlkit.table())
    if salesforce.get("auth") != "session":  # a session token carries no username
        salesforce["username"] = username
    return tomlkit.dumps(doc)


@fleet_group.command("remove")
@click.argument("name")
@pass_app
def remove_command(app: App, name: str) -> None:
    """Remove a user from the fleet (their run history stays)."""
    if not _fleet().store().remove_user(name):
        raise UsageError(f"no user {name!r} in the fleet; `rgsync fleet list` shows who is")
    app.say(f"Removed {name}.")


@fleet_group.command("resume")
@click.argument("name")
@pass_app
def resume_command(app: App, name: str) -> None:
    """Schedule a stopped user again (after their sign-in was fixed)."""
    store = _fleet().store()
    if store.user(name) is None:
        raise UsageError(f"no user {name!r} in the fleet; `rgsync fleet list` shows who is")
    store.set_stopped(name, None)
    app.say(f"{name} will be scheduled again.")


@fleet_group.command("list")
@json_option
@pass_app
def list_command(app: App) -> None:
    """List the fleet's users: mailbox, address, Salesforce username, stopped or not."""
    users = _fleet().store().users()
    if app.json:
        app.emit_json(
            [
                {
                    "name": u.name,
                    "mailbox": u.mailbox,
                    "address": u.address,
                    "salesforce_username": u.salesforce_username,
                    "stopped": u.stopped_reason,
                }
                for u in users
            ]
        )
        return
    table = AdaptiveTable(
        [Column("user"), Column("mailbox"), Column("address"), Column("Salesforce"), Column("state")]
    )
    for u in users:
        table.add_row(
            u.name,
            u.mailbox,
            u.address,
            u.salesforce_username,
            f"stopped: {u.stopped_reason}" if u.stopped_reason else "active",
        )
    app.out.print(table)


@fleet_group.command("schedule")
@pass_app
def schedule_command(app: App) -> None:
    """Queue a session for every user that is due now (the workers also do this every few seconds)."""
    from rgsync.fleet.queue import build_queue, defer_due

    fleet = _fleet()
    queue = build_queue(fleet.reachable_store().url, fleet.home_dir())
    with queue.app.open():
        count = defer_due(queue)
    app.say(f"Queued {count} session(s).")


@fleet_group.command("worker")
@click.option(
    "--concurrency",
    type=click.IntRange(1, 64),
    default=1,
    show_default=True,
    help="Sessions this worker runs at once (threads).",
)
@click.option(
    "--stalled-after",
    type=click.FloatRange(2, 3600),
    default=60.0,
    show_default=True,
    metavar="SECONDS",
    help="A job whose worker sent no heartbeat for this long is given to another worker.",
)
@click.option("--until-idle", is_flag=True, help="Stop once no session is waiting (for scripts and tests).")
@click.option(
    "--schedule-every",
    type=click.IntRange(0, 59),
    default=10,
    show_default=True,
    metavar="SECONDS",
    help="How often the workers queue the sessions that are due; 0: only `rgsync fleet schedule` does.",
)
@click.option(
    "--budget-recheck",
    type=click.FloatRange(1, 86_400),
    default=900.0,
    show_default=True,
    metavar="SECONDS",
    help="A session deferred by the org's API budget is tried again within this long; an older "
    "reading of the allocation is read again from Salesforce's limits.",
)
@pass_app
def worker_command(
    app: App,
    concurrency: int,
    stalled_after: float,
    until_idle: bool,
    schedule_every: int,
    budget_recheck: float,
) -> None:
    """Run a worker: take users' sessions from the queue and run them, until stopped (SIGTERM, Ctrl-C)."""
    from datetime import timedelta

    from rgsync.fleet.budget import create_schema as create_budget_schema
    from rgsync.fleet.queue import QUEUE, build_queue
    from rgsync.fleet.shared_records import create_schema as create_shared_schema
    from rgsync.fleet.shared_records import shared_records_options

    shared_records_options()  # a bad RGSYNC_SHARED_* value stops the worker now, with its fix
    fleet = _fleet()
    # A wrong URL or a server that is not up is said once, at start; once running, the worker
    # rides out the database restarting (below) instead.
    store = fleet.reachable_store()
    create_shared_schema(store.url)
    create_budget_schema(store)  # a fleet made before the budget existed gets its tables
    if not app.verbose:
        # The pool's own warnings repeat on every reconnection attempt; the worker says it once.
        logging.getLogger("psycopg.pool").setLevel(logging.ERROR)
    queue = build_queue(
        store.url,
        fleet.home_dir(),
        stalled_after=stalled_after,
        pool_size=concurrency + 3,
        schedule_every=schedule_every,
        budget_recheck=timedelta(seconds=budget_recheck),
    )
    # A session opens some fifteen database connections; the worker reuses them (each new one
    # costs the server a process and a sign-in).
    from rgsync.state import pg_reuse

    pg_reuse.enable(max_idle=2 * concurrency + 4)
    from rgsync.session.collector import keep_thresholds

    keep_thresholds()  # many sessions in one process: see the function's docstring
    app.say(f"Worker started ({concurrency} at once); Ctrl-C stops it after the sessions in flight.")
    options: dict[str, Any] = {
        "queues": [QUEUE],
        "concurrency": concurrency,
        "wait": not until_idle,
        "update_heartbeat_interval": max(1.0, stalled_after / 4),
        "stalled_worker_timeout": stalled_after,
        "delete_jobs": "successful",
        "install_signal_handlers": False,
    }
    asyncio.run(_supervise(app, queue.app, options, until_idle=until_idle))


RECONNECT_SECONDS = 5.0


async def _supervise(app: App, procrastinate_app: Any, options: dict[str, Any], *, until_idle: bool) -> None:
    """Run the procrastinate worker; when it stops because the database went away (a restart, a
    failover), open the app again and go on, until SIGTERM or Ctrl-C asks to stop."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    while not stop.is_set():
        try:
            async with procrastinate_app.open_async():
                worker = asyncio.create_task(procrastinate_app.run_worker_async(**options))
                stopping = asyncio.create_task(stop.wait())
                done, _pending = await asyncio.wait({worker, stopping}, return_when=asyncio.FIRST_COMPLETED)
                if stopping in done:
                    worker.cancel()  # the worker finishes the sessions in flight, then stops
                    with contextlib.suppress(asyncio.CancelledError, Exception):
                        await worker
                    break
                stopping.cancel()
                worker.result()
                if until_idle:
                    break
                # A side task failed (the notification listener lost its connection): start again.
                app.err.print("The fleet database connection was lost; reconnecting.", highlight=False)
        except Exception as exc:  # the database is down or restarting: wait and try again
            first = (str(exc).strip().splitlines() or [type(exc).__name__])[0]
            app.err.print(
                f"The fleet database is not reachable ({first}); retrying in {RECONNECT_SECONDS:.0f} s.",
                highlight=False,
            )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(stop.wait(), RECONNECT_SECONDS)


@fleet_group.command("status")
@json_option
@pass_app
def status_command(app: App) -> None:
    """Per user: last session, next due time, open issues, API calls; the org's totals; and the
    org's API budget: the day's use, what is left, the floor, each user's use against their
    share, deferred sessions and the forecast."""
    from rgsync.fleet import budget

    store = _fleet().store()
    users = store.users()
    now = datetime.now(UTC)
    budget.create_schema(store)
    org_budget = budget.status(store, budget.budget_settings_from_text(store.get_meta("org_policy")), now)
    rows = [
        {
            "user": u.name,
            "state": "stopped" if u.stopped_reason else "active",
            "stopped_reason": u.stopped_reason,
            "last_session": u.last_started_at.isoformat() if u.last_started_at else None,
            "last_result": u.last_status,
            "next_due": u.next_due_at.isoformat() if u.next_due_at else None,
            "open_issues": u.open_issues,
            "sessions": u.sessions,
            "api_calls": {"salesforce": u.api_calls_salesforce, "mailbox": u.api_calls_mailbox},
        }
        for u in users
    ]
    totals = {
        "users": len(users),
        "stopped": sum(1 for u in users if u.stopped_reason),
        "due_now": sum(
            1 for u in users if not u.stopped_reason and (u.next_due_at is None or u.next_due_at <= now)
        ),
        "sessions": sum(u.sessions for u in users),
        "open_issues": sum(u.open_issues for u in users),
        "api_calls": {
            "salesforce": sum(u.api_calls_salesforce for u in users),
            "mailbox": sum(u.api_calls_mailbox for u in users),
        },
    }
    if app.json:
        app.emit_json({"users": rows, "totals": totals, "budget": org_budget})
        return
    table = AdaptiveTable(
        [
            Column("user"),
            Column("last session"),
            Column("result"),
            Column("next due"),
            Column("issues", justify="right"),
            Column("API SF", justify="right"),
            Column("API mail", justify="right"),
        ]
    )
    for u in users:
        table.add_row(
            u.name,
            _when(u.last_started_at),
            f"stopped: {u.stopped_reason}" if u.stopped_reason else (u.last_status or "never run"),
            _when(u.next_due_at) if u.next_due_at else "now",
            str(u.open_issues),
            str(u.api_calls_salesforce),
            str(u.api_calls_mailbox),
        )
    app.out.print(table)
    app.out.print(
        f"{totals['users']} users ({totals['stopped']} stopped, {totals['due_now']} due now), "
        f"{totals['sessions']} sessions, {totals['open_issues']} open issues, API calls: "
        f"Salesforce {totals['api_calls']['salesforce']}, mailbox {totals['api_calls']['mailbox']}",
        highlight=False,
    )
    _print_budget(app, org_budget)


def _print_budget(app: App, status: dict[str, Any]) -> None:
    """The org's API budget under the users' table (`fleet status`)."""
    table = AdaptiveTable(
        [
            Column("user"),
            Column("SF calls 24 h", justify="right"),
            Column("share", justify="right"),
            Column("reserved", justify="right"),
            Column("deferred 24 h", justify="right"),
            Column("deferred until"),
        ],
        title="Salesforce API budget",
    )
    for name, row in status["users"].items():
        table.add_row(
            name,
            str(row["used_24h"]),
            str(row["share"]) if status["limit"] else "—",
            str(row["reserved"]),
            str(row["deferred_24h"]),
            _when(datetime.fromisoformat(row["deferred_until"])) if row["deferred_until"] else "—",
        )
    app.out.print(table)
    if not status["limit"]:
        app.out.print("The org's API allocation has not been read yet (the first session reads it).")
        return
    outlook = status["forecast"]
    app.out.print(
        f"Org allocation: {status['used']:,} of {status['limit']:,} calls used in 24 h, "
        f"{status['remaining']:,} left; floor {status['floor']:,} ({status['floor_percent']:g}%); "
        f"the fleet used {status['fleet_used_24h']:,}, {status['reserved']:,} reserved now; "
        f"{status['deferred_24h']} session(s) deferred in 24 h.",
        highlight=False,
    )
    if outlook["floor_reached_at"]:
        when = _when(datetime.fromisoformat(outlook["floor_reached_at"]))
        ending = f"the floor is reached at {when} UTC"
    else:
        ending = "the floor is not reached"
    app.out.print(
        f"Forecast: {outlook['rate_per_hour']:,.0f} calls an hour, {outlook['used_by_window_end']:,} used "
        f"24 hours from now; {ending}.",
        highlight=False,
    )


def _when(moment: datetime | None) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%d %H:%M") if moment else "—"
