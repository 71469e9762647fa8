"""Saves that are whole or finished later, through the real adapters on the sandbox (SPEC §7.1, §7.10).

Every mailbox kind (Gmail, Exchange, Microsoft 365) and both save modes (email Task, EmailMessage):
a reply lost after Salesforce saved the emails, a session stopped right after the save, a label or
category the mailbox refuses, and an email left without its sender relation by an older rgsync. Each
ends with every email saved exactly once, with its sender link and its `Salesforce` label, and with
nothing left in the journal.
"""

from __future__ import annotations

import contextlib
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync import registry
from rgsync.demo.sandbox import Sandbox, start_sandbox
from rgsync.model import Stream
from rgsync.sandbox.ews import soap
from rgsync.sandbox.http import Fault, Response
from rgsync.sandbox.scenario import parse_scenario
from rgsync.session import RunOptions, SessionResult, SyncSession
from rgsync.session.retry import no_wait_policy
from rgsync.settings import load_settings
from rgsync.state import StateStore

KINDS = ("gmail", "exchange", "microsoft365")
MODES = ("email-message", "task")
COUNT = 4
SAVE_LABEL = "Salesforce"


def scenario(save_as: str) -> str:
    emails = "".join(
        f"""
[[mailbox.emails]]
key = "quote{n}"
from = "Bob Baker <bob@globex.com>"
to = ["ann@acme.com"]
subject = "Quote {n}"
when = "-{n + 1}h"
body = "About quote {n}"
"""
        for n in range(COUNT)
    )
    return f"""
[user]
name = "Ann Lee"
address = "ann@acme.com"
time-zone = "UTC"
salesforce-user = "ann"

[settings.general.emails]
save-as = "{save_as}"

[org]
enhanced-email = true

[[org.users]]
key = "ann"
Name = "Ann Lee"
Email = "ann@acme.com"

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
{emails}"""


@contextlib.contextmanager
def started(directory: Path, kind: str, save_as: str) -> Iterator[Sandbox]:
    """A sandbox whose tokens stay in its own profile, never the OS keyring."""
    patch = pytest.MonkeyPatch()
    patch.setenv("RGSYNC_KEYRING", "file")
    patch.delenv("RGSYNC_STATE_DIR", raising=False)
    patch.delenv("RGSYNC_CONFIG", raising=False)
    try:
        sandbox = start_sandbox(parse_scenario(scenario(save_as)), directory, mailbox=kind)
        try:
            yield sandbox
        finally:
            sandbox.stop()
    finally:
        patch.undo()


def run(sandbox: Sandbox, *, attempts: int = 5) -> SessionResult:
    """One session as `rgsync run --force` opens it, with a retry policy that does not sleep."""
    paths = sandbox.paths
    settings = load_settings(paths.settings_file, paths.org_policy_file).effective()
    with StateStore.open(paths.state_db) as state:
        mailbox = registry.open_mailbox(settings, paths)
        try:
            crm = registry.open_crm(settings, paths)
            try:
                # `attempts` tries in all: the deadline (virtual seconds) leaves room for that many waits.
                retry = no_wait_policy(deadline=2 ** (attempts - 1) - 0.5)
                session = SyncSession(settings, state, mailbox, crm, time_zone="UTC", retry=retry)
                return session.run(RunOptions(force=True))
            finally:
                crm.close()
        finally:
            mailbox.close()


def saved(sandbox: Sandbox, save_as: str) -> Counter[str]:
    """How many times each email is in the org, by subject."""
    org = sandbox.salesforce.org
    if save_as == "email-message":
        return Counter(str(r["Subject"]) for r in org.records("EmailMessage"))
    tasks = [r for r in org.records("Task") if r.get("TaskSubtype") == "Email"]
    return Counter(str(r["Subject"]).removeprefix("Email: ") for r in tasks)


def sender_links(sandbox: Sandbox) -> dict[str, int]:
    """EmailMessage subject → how many FromAddress relations name Bob's Contact."""
    org = sandbox.salesforce.org
    bob = sandbox.keys["bob"]
    subjects = {str(r["Id"]): str(r["Subject"]) for r in org.records("EmailMessage")}
    out = dict.fromkeys(subjects.values(), 0)
    for relation in org.records("EmailMessageRelation"):
        if relation["RelationType"] == "FromAddress" and relation.get("RelationId") == bob:
            out[subjects[str(relation["EmailMessageId"])]] += 1
    return out


def labels(sandbox: Sandbox, mailbox_id: str) -> set[str]:
    state = sandbox.mailbox.state
    if sandbox.mailbox_kind == "gmail":
        message = state.gmail.messages[mailbox_id]
        return {
            str(state.gmail.user_labels[i]["name"]) for i in message.label_ids if i in state.gmail.user_labels
        }
    return set(state.categories_of(mailbox_id))


def linked_labels(sandbox: Sandbox) -> list[set[str]]:
    """The labels/categories of every email the state store says was saved."""
    with StateStore.open(sandbox.paths.state_db) as state:
        ids = list(state.links(Stream.EMAILS))
    return [labels(sandbox, i) for i in ids]


def journal(sandbox: Sandbox) -> list[str]:
    with StateStore.open(sandbox.paths.state_db) as state:
        return sorted(i.kind for i in state.pending_intents())


def open_issues(sandbox: Sandbox) -> list[str]:
    with StateStore.open(sandbox.paths.state_db) as state:
        return sorted(i.code for i in state.issues())


def save_request(save_as: str) -> str:
    """The request that saves the emails: one Composite with the relations, or Task collections."""
    return (
        r"POST \S+/composite writes EmailMessage"
        if save_as == "email-message"
        else r"POST \S+/composite/sobjects$"
    )


def assert_whole(sandbox: Sandbox, save_as: str) -> None:
    """Every email saved once, with its sender link (EmailMessage) and its label; nothing pending."""
    assert saved(sandbox, save_as) == Counter({f"Quote {n}": 1 for n in range(COUNT)})
    if save_as == "email-message":
        assert sender_links(sandbox) == {f"Quote {n}": 1 for n in range(COUNT)}
    marks = linked_labels(sandbox)
    assert len(marks) == COUNT and all(SAVE_LABEL in m for m in marks), marks
    assert journal(sandbox) == []


@pytest.mark.parametrize("save_as", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_10_a_reply_lost_after_the_save_neither_duplicates_nor_loses_a_link(
    tmp_path: Path, kind: str, save_as: str
) -> None:
    with started(tmp_path / "box", kind, save_as) as sandbox:
        lost = sandbox.salesforce.server.faults.add(Fault(match=save_request(save_as), lose_reply=True))
        result = run(sandbox)
        assert result.status == "completed", result.message
        assert lost.fired == 1
        assert_whole(sandbox, save_as)
        assert open_issues(sandbox) == []


@pytest.mark.parametrize("save_as", MODES)
@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_1_a_session_stopped_right_after_the_save_is_finished_by_the_next(
    tmp_path: Path, kind: str, save_as: str
) -> None:
    with started(tmp_path / "box", kind, save_as) as sandbox:
        sandbox.salesforce.server.faults.add(Fault(match=save_request(save_as), lose_reply=True))
        stopped = run(sandbox, attempts=1)  # the emails are in Salesforce, the session never heard
        assert stopped.status != "completed"
        assert sum(saved(sandbox, save_as).values()) == COUNT
        assert journal(sandbox) == ["email"] * COUNT
        assert linked_labels(sandbox) == []

        assert run(sandbox).status == "completed"
        assert_whole(sandbox, save_as)


def refuse_labels(sandbox: Sandbox) -> Fault:
    """The mailbox refuses every label/category change, each service in its own words."""
    server = sandbox.mailbox.server
    if sandbox.mailbox_kind == "gmail":
        body = {"error": {"code": 403, "message": "Insufficient Permission", "status": "PERMISSION_DENIED"}}
        return server.faults.add(
            Fault(match=r"POST \S+/messages/batchModify", response=Response(403, body), times=1000)
        )
    if sandbox.mailbox_kind == "exchange":
        refusal = soap.fault("a:ErrorAccessDenied", "Access is denied.", status=500)
        return server.faults.add(Fault(match="UpdateItem", response=refusal, times=1000))
    # Graph answers each request inside a $batch on its own; the emulator faults those separately.
    body = {"error": {"code": "ErrorAccessDenied", "message": "Access is denied."}}
    fault = Fault(match=r"PATCH /me/messages/", response=Response(403, body), times=1000)
    return sandbox.mailbox.state.batch_faults.add(fault)  # type: ignore[no-any-return]


@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_10_a_refused_label_is_an_issue_and_is_set_at_the_next_session(
    tmp_path: Path, kind: str
) -> None:
    with started(tmp_path / "box", kind, "email-message") as sandbox:
        refused = refuse_labels(sandbox)
        first = run(sandbox, attempts=2)
        assert first.status == "completed", first.message  # the emails are saved all the same
        assert sender_links(sandbox) == {f"Quote {n}": 1 for n in range(COUNT)}
        assert open_issues(sandbox) == ["MAIL-LABEL"]
        assert journal(sandbox) == ["label"] * COUNT
        assert all(SAVE_LABEL not in m for m in linked_labels(sandbox)) and refused.fired >= 1

        refused.times = refused.fired  # the mailbox takes labels again
        assert run(sandbox).status == "completed"
        assert_whole(sandbox, "email-message")
        assert open_issues(sandbox) == []


def test_spec_7_10_recovery_repairs_an_email_left_without_its_sender_link(tmp_path: Path) -> None:
    """An email an older rgsync saved without its relation (the save and the relation were two calls)
    is completed when recovery adopts it; a refused repair is an issue and is retried."""
    with started(tmp_path / "box", "gmail", "email-message") as sandbox:
        sandbox.salesforce.server.faults.add(Fault(match=save_request("email-message"), lose_reply=True))
        assert run(sandbox, attempts=1).status != "completed"
        org = sandbox.salesforce.org
        bob = sandbox.keys["bob"]
        for relation in org.records("EmailMessageRelation"):
            if relation["RelationType"] == "FromAddress" and relation.get("RelationId") == bob:
                org.delete(relation["Id"])
        assert set(sender_links(sandbox).values()) == {0}

        refused = Response(403, [{"errorCode": "INSUFFICIENT_ACCESS", "message": "no access to relations"}])
        sandbox.salesforce.server.faults.add(Fault(match=r"POST \S+/composite/sobjects$", response=refused))
        assert run(sandbox).status == "completed"
        assert open_issues(sandbox) == ["SF-SENDER-LINK"]
        assert journal(sandbox) == ["email-sender"] * COUNT
        assert set(sender_links(sandbox).values()) == {0}

        assert run(sandbox).status == "completed"
        assert_whole(sandbox, "email-message")
        assert open_issues(sandbox) == []


LABEL_CALLS = {
    "gmail": r"POST \S+/messages/batchModify",
    "exchange": "UpdateItem",
    "microsoft365": r"POST /v1.0/\$batch",  # categories are set inside a JSON batch
}


@pytest.mark.parametrize("kind", KINDS)
def test_spec_7_10_when_the_mailbox_applies_the_label_the_journal_still_holds_it(
    tmp_path: Path, kind: str
) -> None:
    """A kill at the instant the label lands (or before) leaves it journalled for the next session;
    the save itself is already recorded (its link) by then."""
    with started(tmp_path / "box", kind, "email-message") as sandbox:
        moments: list[tuple[list[str], int, int]] = []

        def look() -> None:
            marks = linked_labels(sandbox)
            moments.append((journal(sandbox), len(marks), sum(SAVE_LABEL in m for m in marks)))

        sandbox.mailbox.server.faults.add(Fault(match=LABEL_CALLS[kind], on_applied=look, times=1000))
        assert run(sandbox).status == "completed"

        assert (["label"] * COUNT, COUNT, COUNT) in moments, moments
        assert_whole(sandbox, "email-message")
