"""The fault matrix (SPEC §7.1, §7.3, §7.6, §8): every fault × every mailbox kind, through the real
adapters, the real client libraries and `rgsync run` against the sandbox's emulators.

Each case injects one fault into a fresh sandbox, runs `rgsync run --force` once and checks the
exit code and the one line it printed (naming the fix when the user has something to do), then
runs again without the fault and compares what both sides hold with a run that never met a fault:
nothing lost, nothing duplicated, the next clean run converges.

The session's back-off is shortened with `RGSYNC_RETRY_BASE_DELAY`, `RGSYNC_RETRY_MAX_WAIT` and
`RGSYNC_RETRY_DEADLINE` so a persistent fault ends a run in a few seconds instead of two minutes.
"""

from __future__ import annotations

import contextlib
import io
import re
import sqlite3
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest

from rgsync import registry
from rgsync.cli import main
from rgsync.demo.sandbox import Sandbox, sandbox_credentials, start_sandbox
from rgsync.model import Stream
from rgsync.providers.base import MailboxReadOptions
from rgsync.providers.salesforce.auth import SECRET_CONSUMER_SECRET, SECRET_REFRESH_TOKEN, SECRET_SESSION
from rgsync.sandbox.http import Fault, Response
from rgsync.sandbox.salesforce import DEFAULT_CLIENT_ID, DEFAULT_CLIENT_SECRET
from rgsync.sandbox.salesforce.routes import query as sf_query_routes
from rgsync.sandbox.scenario import parse_scenario
from rgsync.settings import load_settings
from rgsync.state import StateStore
from rgsync.state import sqlite_backend as state_db

KINDS = ("gmail", "exchange", "microsoft365")
DEADLINE = 1.0  # seconds: what a persistent fault may cost a run here

SCENARIO = """
[scenario]
name = "faults"

[user]
name = "Sam Sales"
address = "sam@example.com"
time-zone = "UTC"
salesforce-user = "sam"

[settings.general.tasks]
sync-salesforce-tasks = true

[[org.users]]
key = "sam"
Name = "Sam Sales"
Email = "sam@example.com"

[[org.accounts]]
key = "globex"
Name = "Globex"
Website = "globex.com"

[[org.contacts]]
key = "bob"
FirstName = "Bob"
LastName = "Baker"
Email = "bob@globex.com"
AccountId = "@globex"

[[org.contacts]]
key = "cleo"
FirstName = "Cleo"
LastName = "Cole"
Email = "cleo@globex.com"
AccountId = "@globex"

[[org.events]]
key = "review"
Subject = "Globex review"
StartDateTime = "+2d 14:00"
EndDateTime = "+2d 15:00"
WhoId = "@bob"

[[org.tasks]]
key = "quote"
Subject = "Send Globex the quote"
ActivityDate = "+3d"
WhoId = "@bob"

[[mailbox.emails]]
key = "hello"
from = "Bob Baker <bob@globex.com>"
to = ["sam@example.com"]
subject = "Hello from Globex"
when = "-1d 09:00"
body = "Shall we meet next week?"

[[mailbox.emails]]
key = "reply"
from = "Sam Sales <sam@example.com>"
to = ["cleo@globex.com"]
subject = "Proposal for Globex"
when = "-1d 11:00"
body = "Here is the proposal."

[[mailbox.calendar]]
key = "intro"
subject = "Globex intro meeting"
start = "+1d 10:00"
duration = "45m"
attendees = ["bob@globex.com"]
"""


@dataclass
class Box:
    """A started sandbox of one mailbox kind."""

    sandbox: Sandbox
    kind: str

    @property
    def sf(self) -> Any:
        return self.sandbox.salesforce.emulator

    @property
    def mail(self) -> Any:
        return self.sandbox.mailbox

    def run(self) -> tuple[int, str]:
        """`rgsync run --force`: (exit code, everything it printed)."""
        out = io.StringIO()
        code = 0
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(out):
            try:
                main(["--config", str(self.sandbox.settings_file), "run", "--force"])
            except SystemExit as exc:
                code = int(exc.code or 0)
        return code, out.getvalue()

    def view(self) -> dict[str, Any]:
        """What a user would count on both sides (Ids differ between sandboxes, so counts)."""
        org = self.sandbox.salesforce.org
        seen: dict[str, Any] = {
            obj: sorted(Counter(str(r.get("Subject") or r.get("Id")) for r in org.records(obj)).items())
            for obj in ("EmailMessage", "Event", "Task")
        }
        seen["EmailMessageRelation"] = len(org.records("EmailMessageRelation"))
        settings = load_settings(
            self.sandbox.paths.settings_file, self.sandbox.paths.org_policy_file
        ).effective()
        mailbox = registry.open_mailbox(settings, self.sandbox.paths)
        now = datetime.now(UTC)
        window = MailboxReadOptions(
            now - timedelta(days=30), now - timedelta(days=30), now + timedelta(days=60)
        )
        try:
            for stream in (Stream.EVENTS, Stream.TASKS, Stream.CONTACTS):
                tags = Counter(
                    str(getattr(item, "salesforce_id", "") or "")
                    for page in mailbox.changes(stream, None, window)
                    for item in page.items
                )
                tags.pop("", None)
                # Down-synced items by their origin tag: how many, and none twice.
                seen[f"mailbox {stream.value}"] = (len(tags), max(tags.values(), default=0))
        finally:
            mailbox.close()
        store = StateStore.open(self.sandbox.paths.state_db)
        try:
            for stream in Stream:
                seen[f"links {stream.value}"] = len(store.links(stream))
            seen["pending intents"] = len(store.pending_intents())
        finally:
            store.close()
        return seen


@contextlib.contextmanager
def open_box(directory: Path, kind: str, *, extra: str = "") -> Iterator[Box]:
    patch = pytest.MonkeyPatch()
    patch.setenv("RGSYNC_KEYRING", "file")
    patch.setenv("RGSYNC_RETRY_BASE_DELAY", "0.02")
    patch.setenv("RGSYNC_RETRY_DEADLINE", str(DEADLINE))
    patch.setenv("RGSYNC_RETRY_MAX_WAIT", "0.2")  # Retry-After is honoured, but shortened here
    patch.delenv("RGSYNC_STATE_DIR", raising=False)
    patch.delenv("RGSYNC_CONFIG", raising=False)
    try:
        sandbox = start_sandbox(parse_scenario(SCENARIO + extra), directory, mailbox=kind)
        try:
            yield Box(sandbox, kind)
        finally:
            sandbox.stop()
    finally:
        patch.undo()


_REFERENCE: dict[str, dict[str, Any]] = {}


def reference(kind: str, tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both sides after two clean runs, once per mailbox kind."""
    if kind not in _REFERENCE:
        with open_box(tmp_path_factory.mktemp(f"reference-{kind}"), kind) as box:
            assert box.run()[0] == 0
            assert box.run()[0] == 0
            _REFERENCE[kind] = box.view()
    return _REFERENCE[kind]


# --- the faults -------------------------------------------------------------------------------------

SF_DATA = r"^\w+ /services/data/"


def _mail_5xx(box: Box, times: int) -> None:
    if box.kind == "gmail":
        box.mail.inject_5xx(r"^\w+ /(gmail|calendar|tasks|v1)/", times=times)
    elif box.kind == "exchange":
        box.mail.inject_5xx(".*", times=times)
    else:
        box.mail.inject_5xx(r"/v1\.0/", times=times)


def _mail_429(box: Box) -> None:
    if box.kind == "gmail":
        box.mail.inject_rate_limit(r"^\w+ /(gmail|calendar|tasks|v1)/", retry_after=1)
    elif box.kind == "exchange":
        box.mail.inject_server_busy(".*", back_off_ms=200)
    else:
        box.mail.inject_throttling(r"/v1\.0/", retry_after=1)


def _mail_reset(box: Box) -> None:
    if box.kind == "microsoft365":
        box.mail.drop_connection_nth(r"/v1\.0/", 1)
    else:
        box.mail.server.faults.add(Fault(match=r"^POST|^GET", drop=True))


def _mail_lost_creates(box: Box) -> None:
    """The answers of the first create of each down-synced kind are lost after the create was made."""
    if box.kind == "gmail":
        for pattern in (
            r"^POST /calendar/v3/calendars/[^/]+/events$",
            r"^POST /tasks/v1/lists/[^/]+/tasks$",
            r"^POST /v1/people:createContact$",
        ):
            box.mail.server.faults.add(Fault(match=pattern, lose_reply=True))
    elif box.kind == "exchange":
        box.mail.server.faults.add(Fault(match=r" CreateItem$", lose_reply=True, times=3))
    else:
        box.mail.server.faults.add(Fault(match=r"^POST /v1\.0/\$batch$", lose_reply=True, times=3))


def _mail_expire_token(box: Box) -> None:
    if box.kind == "gmail":
        box.mail.expire_access_tokens()
    else:
        box.mail.state.expire_access_tokens()


def _mail_revoke(box: Box) -> None:
    if box.kind == "gmail":
        box.mail.revoke_sign_in()
    elif box.kind == "exchange":
        box.mail.state.password = "changed-by-the-admin"
    else:
        box.mail.state.revoke_tokens()


def _mail_expire_cursors(box: Box) -> None:
    if box.kind == "gmail":
        box.mail.state.expire_history()
        box.mail.state.expire_sync_tokens()
        box.mail.state.expire_people_sync_tokens()
    elif box.kind == "exchange":
        box.mail.invalidate_sync_states()
    else:
        box.mail.state.expire_delta_tokens()


def _sf_revoke(box: Box) -> None:
    box.sf.sessions.clear()


def use_salesforce_oauth(box: Box) -> None:
    """Sign in to the org as `rgsync connect salesforce` leaves it: an access token that expires
    and a refresh token that gets a new one (the sandbox's default is a plain session id)."""
    sandbox = box.sandbox
    for key, value in (
        ("salesforce.auth", "oauth"),
        ("salesforce.consumer-key", DEFAULT_CLIENT_ID),
        ("salesforce.login-url", sandbox.salesforce.url),
    ):
        with contextlib.redirect_stdout(io.StringIO()), contextlib.suppress(SystemExit):
            main(["--config", str(sandbox.settings_file), "settings", "set", key, value])
    access, refresh = box.sf.oauth.issue(
        sandbox.salesforce.user_id, client_id=DEFAULT_CLIENT_ID, with_refresh=True
    )
    store = sandbox_credentials(sandbox.paths)
    store.set(SECRET_SESSION, access)
    store.set(SECRET_REFRESH_TOKEN, str(refresh))
    store.set(SECRET_CONSUMER_SECRET, DEFAULT_CLIENT_SECRET)


def _sf_expire_token(box: Box) -> None:
    use_salesforce_oauth(box)
    box.sf.sessions.clear()  # every access token expired; the refresh token still works


def _sf_revoke_refresh(box: Box) -> None:
    use_salesforce_oauth(box)
    box.sf.oauth.refresh_tokens.clear()  # the user or the admin revoked rgsync's access
    box.sf.sessions.clear()


CONNECT = {"gmail": "gmail", "exchange": "exchange", "microsoft365": "microsoft365"}


@dataclass(frozen=True)
class Case:
    """One fault: how to inject it, the exit code and the line the user must see."""

    name: str
    inject: Callable[[Box], None]
    code: int = 0
    says: str = ""  # a regular expression; {connect} is the mailbox's `rgsync connect` name
    warm: bool = False  # inject after a first clean run (faults of a later session)
    kinds: tuple[str, ...] = KINDS
    xfail: str = ""  # what the case still needs, when it is known not to pass yet


CASES = [
    Case("salesforce 5xx once", lambda b: b.sf.inject_503(1)),
    Case(
        "salesforce 5xx persistent",
        lambda b: b.sf.inject_503(10**6),
        1,
        r"Salesforce kept failing for \d+s.*nothing was lost",
    ),
    Case(
        "salesforce 429 with Retry-After",
        lambda b: b.sf.server.faults.add(
            Fault(
                match=SF_DATA,
                response=Response(
                    429,
                    [{"errorCode": "REQUEST_LIMIT", "message": "slow down"}],
                    headers={"Retry-After": "1"},
                ),
            )
        ),
    ),
    Case("salesforce connection reset", lambda b: b.sf.drop_connection_nth(1, match=SF_DATA)),
    Case(
        "salesforce create answer lost",  # the Event collections call
        lambda b: b.sf.server.faults.add(
            Fault(match=r"^POST /services/data/[^/]+/composite/sobjects$", lose_reply=True)
        ),
    ),
    Case(
        "salesforce email save answer lost",  # the EmailMessage and its relations, one Composite
        lambda b: b.sf.server.faults.add(
            Fault(match=r"^POST \S+/composite writes EmailMessage", lose_reply=True)
        ),
    ),
    Case(
        "salesforce REQUEST_LIMIT_EXCEEDED",
        lambda b: b.sf.inject_request_limit(10**6),
        1,
        r"REQUEST_LIMIT_EXCEEDED",
    ),
    Case("salesforce session revoked", _sf_revoke, 1, r"rgsync connect salesforce", warm=True),
    Case("salesforce access token expired", _sf_expire_token, warm=True),
    Case("salesforce refresh token revoked", _sf_revoke_refresh, 1, r"rgsync connect salesforce", warm=True),
    Case(
        # The org's delete log no longer reaches back to the cursor (purged, or older than 15
        # days): getDeleted refuses the window, and the read becomes a full listing (SPEC §7.6).
        "salesforce delete log purged past the cursor",
        lambda b: b.sf.org.purge_deleted(before=b.sf.org.clock() + timedelta(minutes=2)),
        warm=True,
    ),
    Case("mailbox 5xx once", lambda b: _mail_5xx(b, 1)),
    Case(
        "mailbox 5xx persistent",
        lambda b: _mail_5xx(b, 10**6),
        1,
        r"the mailbox kept failing for \d+s.*nothing was lost",
    ),
    Case("mailbox 429 with Retry-After", _mail_429),
    Case("mailbox connection reset", _mail_reset),
    Case("mailbox create answers lost", _mail_lost_creates),
    Case(
        "mailbox access token expired",
        _mail_expire_token,
        warm=True,
        kinds=("gmail", "microsoft365"),  # Exchange signs in with a password on every call
    ),
    Case("mailbox sign-in revoked", _mail_revoke, 1, r"rgsync connect {connect}", warm=True),
    Case(
        "sign-in service 5xx while the token is renewed",
        lambda b: (
            b.mail.state.expire_access_tokens(),
            b.mail.inject_5xx(r"/oauth2/v2\.0/token", times=10**6),
        ),
        1,
        r"the mailbox kept failing .*Microsoft 365 sign-in service is unavailable.*HTTP 503",
        warm=True,
        kinds=("microsoft365",),
    ),
    Case("mailbox cursors expired", _mail_expire_cursors, warm=True),
]

MATRIX = [
    pytest.param(
        case,
        kind,
        id=f"{case.name} [{kind}]",
        marks=[pytest.mark.xfail(strict=True, reason=case.xfail)] if case.xfail else [],
    )
    for case in CASES
    for kind in KINDS
    if kind in case.kinds
]


@pytest.mark.parametrize(("case", "kind"), MATRIX)
def test_spec_7_every_fault_exits_as_documented_loses_nothing_and_the_next_run_converges(
    case: Case, kind: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory
) -> None:
    expected = reference(kind, tmp_path_factory)
    with open_box(tmp_path / "sandbox", kind) as box:
        if case.warm:
            assert box.run()[0] == 0
        case.inject(box)
        code, out = box.run()
        assert code == case.code, out
        if case.says:
            assert re.search(case.says.format(connect=CONNECT[kind]), out), out
        if code:
            assert "Traceback" not in out and "unexpected error" not in out, out
        box.mail.server.faults.clear()
        box.sf.server.faults.clear()
        if code and "rgsync connect" in case.says:
            return  # only `rgsync connect …` fixes that: nothing more a run can do
        code, out = box.run()
        assert code == 0, out
        assert box.view() == expected


# --- the nested-retry case (SPEC §7.1) ------------------------------------------------------------

CREATE = r"^POST /services/data/[^/]+/composite/sobjects$"
ONE_EACH = [("Email: Hello from Globex", 1), ("Email: Proposal for Globex", 1)]
TASK_MODE = """
[settings.general.emails]
save-as = "task"
"""


def email_tasks(box: Box) -> list[tuple[str, int]]:
    """Email Tasks in the org by Message-ID key: what a duplicate would show up in."""
    tasks = box.sandbox.salesforce.org.records("Task")
    return sorted(Counter(str(r.get("Subject")) for r in tasks if r.get("TaskSubtype") == "Email").items())


@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_1_a_create_whose_answer_is_lost_is_not_duplicated_within_one_session(
    kind: str, tmp_path: Path
) -> None:
    with open_box(tmp_path / "sandbox", kind, extra=TASK_MODE) as box:
        box.sf.server.faults.add(Fault(match=CREATE, lose_reply=True))
        code, out = box.run()
        assert code == 0, out
        assert email_tasks(box) == ONE_EACH
        assert box.run()[0] == 0
        assert email_tasks(box) == ONE_EACH


@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_1_a_create_whose_answer_is_lost_before_an_outage_is_not_duplicated_by_the_next_session(
    kind: str, tmp_path: Path
) -> None:
    with open_box(tmp_path / "sandbox", kind, extra=TASK_MODE) as box:
        # Salesforce saves the emails, the answer is lost, and Salesforce stays down: the run
        # ends at its deadline with the creates journalled but unconfirmed.
        box.sf.server.faults.add(
            Fault(match=CREATE, lose_reply=True, on_applied=lambda: box.sf.inject_503(10**6))
        )
        code, out = box.run()
        assert code == 1 and "Salesforce kept failing" in out, out
        store = StateStore.open(box.sandbox.paths.state_db)
        try:
            assert store.pending_intents()  # what the next session must look up before sending
        finally:
            store.close()
        box.sf.server.faults.clear()
        code, out = box.run()
        assert code == 0, out
        assert email_tasks(box) == ONE_EACH
        store = StateStore.open(box.sandbox.paths.state_db)
        try:
            assert not store.pending_intents() and len(store.links(Stream.EMAILS)) == 2
        finally:
            store.close()


# --- the state store (SPEC §7.1, §8) ----------------------------------------------------------------

MANY_EMAILS = "".join(
    f"""
[[mailbox.emails]]
key = "order-{n}"
from = "Bob Baker <bob@globex.com>"
to = ["sam@example.com"]
subject = "Globex order line {n:03d}"
when = "-2d 09:{n % 60:02d}"
body = "Line {n}."
"""
    for n in range(60)
)


@pytest.fixture(scope="module")
def many_emails_reference(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    """Both sides after clean runs of the many-emails world, per mailbox kind (made on demand)."""
    views: dict[str, Any] = {}

    def view(kind: str) -> Any:
        if kind not in views:
            with open_box(tmp_path_factory.mktemp(f"reference-many-{kind}"), kind, extra=MANY_EMAILS) as box:
                assert box.run()[0] == 0 and box.run()[0] == 0
                views[kind] = box.view()
        return views[kind]

    return {"view": view}


@pytest.mark.parametrize("kind", KINDS)
def test_spec_8_a_full_disk_under_the_state_store_exits_1_naming_the_fix_and_the_next_run_converges(
    kind: str, tmp_path: Path, many_emails_reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    expected = many_emails_reference["view"](kind)
    prepare = state_db._prepare

    def no_room_to_grow(connection: sqlite3.Connection, path: Path) -> None:
        # SQLite's own "database or disk is full" (SQLITE_FULL), without filling a real disk: the
        # file may not grow past the pages it has once its tables exist.
        prepare(connection, path)
        pages = connection.execute("PRAGMA page_count").fetchone()[0]
        connection.execute(f"PRAGMA max_page_count = {int(pages)}")

    with open_box(tmp_path / "sandbox", kind, extra=MANY_EMAILS) as box:
        monkeypatch.setattr(state_db, "_prepare", no_room_to_grow)
        code, out = box.run()
        assert code == 1, out
        assert "database or disk is full" in out and "free some space" in out, out
        assert "Traceback" not in out and "unexpected error" not in out and "savepoint" not in out
        monkeypatch.setattr(state_db, "_prepare", prepare)
        code, out = box.run()
        assert code == 0, out
        assert box.view() == expected


class _FailingDisk(sqlite3.Connection):
    """A state store connection whose disk fails at its n-th write statement (SQLITE_IOERR).

    SQLite reports an I/O error from the operating system as "disk I/O error"; the connection
    class raises the same error at a chosen write, so the run meets it mid-session.
    """

    fail_at = 0
    writes = 0

    def execute(self, sql: str, parameters: Any = (), /) -> sqlite3.Cursor:
        if sql.lstrip().split(" ", 1)[0].upper() in ("INSERT", "UPDATE", "DELETE", "REPLACE"):
            type(self).writes += 1
            if type(self).writes == type(self).fail_at:
                raise sqlite3.OperationalError("disk I/O error")
        return super().execute(sql, parameters)


@pytest.mark.parametrize("kind", KINDS)
def test_spec_8_an_io_error_under_the_state_store_exits_1_naming_the_fix_and_the_next_run_converges(
    kind: str, tmp_path: Path, many_emails_reference: dict[str, Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    """The disk fails in the middle of the session's own bookkeeping: after some emails were
    journalled and saved, before the session ends. Nothing is lost and nothing is saved twice."""
    expected = many_emails_reference["view"](kind)
    connect = sqlite3.connect

    def failing_connect(*args: Any, **kwargs: Any) -> sqlite3.Connection:
        return connect(*args, **kwargs, factory=_FailingDisk)

    with open_box(tmp_path / "sandbox", kind, extra=MANY_EMAILS) as box:
        _FailingDisk.writes, _FailingDisk.fail_at = 0, 40
        monkeypatch.setattr(state_db.sqlite3, "connect", failing_connect)
        code, out = box.run()
        monkeypatch.setattr(state_db.sqlite3, "connect", connect)
        assert _FailingDisk.writes >= 40, "the disk never failed: the session wrote less than assumed"
        assert code == 1, out
        assert "disk I/O error" in out and "check the disk" in out, out
        assert "Traceback" not in out and "unexpected error" not in out and "savepoint" not in out
        code, out = box.run()
        assert code == 0, out
        assert box.view() == expected


# --- an expired query locator (SPEC §7.6) ---------------------------------------------------------

QUERY_MORE = r"^GET /services/data/[^/]+/query/01g"
MANY_CONTACTS = "".join(
    f"""
[[org.contacts]]
key = "cora-{n}"
FirstName = "Cora{n}"
LastName = "Client"
Email = "cora{n}@clients.example"
"""
    for n in range(12)
)


@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_6_an_expired_query_locator_restarts_the_read_and_the_run_converges(
    kind: str, tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A query's next page is refused (400 INVALID_QUERY_LOCATOR: the locator expired or the org
    dropped it). The read starts again from its first page; nothing is lost or read twice.

    Salesforce may page answers in smaller batches than asked for; the emulator pages every five
    rows here so the small world's queries have next pages at all."""
    monkeypatch.setattr(sf_query_routes, "DEFAULT_BATCH", 5)
    with open_box(tmp_path_factory.mktemp(f"reference-contacts-{kind}"), kind, extra=MANY_CONTACTS) as box:
        assert box.run()[0] == 0 and box.run()[0] == 0
        expected = box.view()
    with open_box(tmp_path / "sandbox", kind, extra=MANY_CONTACTS) as box:
        expired = box.sf.server.faults.add(
            Fault(
                match=QUERY_MORE,
                response=Response(
                    400,
                    [
                        {
                            "message": "invalid query locator",
                            "errorCode": "INVALID_QUERY_LOCATOR",
                            "fields": [],
                        }
                    ],
                ),
            )
        )
        code, out = box.run()
        assert expired.fired == 1, "no query had a next page: the test world is too small"
        assert code == 0, out
        code, out = box.run()
        assert code == 0, out
        assert box.view() == expected
