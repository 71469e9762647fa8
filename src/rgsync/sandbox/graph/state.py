"""Everything the Graph emulator holds, under one lock, with the setup helpers tests use to act as
the user (deliver mail, add or edit calendar items, tasks and contacts, expire delta tokens)."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterable, Mapping
from datetime import UTC, datetime
from typing import Any

from rgsync.sandbox.graph.calendar import CalendarStore, Notification
from rgsync.sandbox.graph.common import GraphError
from rgsync.sandbox.graph.delta import ChangeLog, DeltaRounds
from rgsync.sandbox.graph.identity import IdentityStore
from rgsync.sandbox.graph.mail import MailStore
from rgsync.sandbox.graph.people import ContactStore
from rgsync.sandbox.graph.todo import TodoStore
from rgsync.sandbox.http import Fault, FaultPlan, Response


def _utc_now() -> datetime:
    return datetime.now(UTC)


class GraphState:
    """The mailbox (mail, calendar, contacts, To Do), the tenant and its tokens, and the change log.

    Setup helpers take the lock themselves; the emulator takes it around every request.
    `requests_without_immutable_ids` lists (method, path) of Graph calls that did not send
    `Prefer: IdType="ImmutableId"`.
    """

    def __init__(
        self,
        address: str,
        *,
        name: str = "",
        clock: Callable[[], datetime] | None = None,
        time_zone: str = "UTC",
    ) -> None:
        self.address = address
        self.name = name or address.partition("@")[0].replace(".", " ").title()
        self.clock: Callable[[], datetime] = clock or _utc_now
        self.time_zone = time_zone
        self.lock = threading.RLock()
        self.log = ChangeLog()
        self.rounds = DeltaRounds(self.log)
        self.identity = IdentityStore(address, self.name, self.clock)
        self.mail = MailStore(address, self.name, self.clock, self.log)
        self.calendar = CalendarStore(address, self.name, self.clock, self.log)
        self.people = ContactStore(self.clock, self.log)
        self.todo = TodoStore(self.clock, self.log)
        self.batch_faults = FaultPlan()
        self.lost_answers = FaultPlan()
        self.requests_without_immutable_ids: list[tuple[str, str]] = []

    # -- mail ------------------------------------------------------------------------------------
    def add_message(
        self,
        message: bytes | str | Mapping[str, Any],
        folder: str = "inbox",
        categories: Iterable[str] = (),
        *,
        thread: str | None = None,
        received: datetime | None = None,
    ) -> str:
        """Deliver a message (raw RFC 822, or Graph message fields) into a folder ('inbox',
        'sentitems', 'junkemail', 'drafts', 'deleteditems', 'archive'); returns its immutable id."""
        with self.lock:
            return self.mail.add_message(message, folder, categories, thread=thread, received=received)

    def move_message(self, message_id: str, folder: str) -> str:
        """Move a message (its REST id changes; the immutable id stays); returns the new REST id."""
        with self.lock:
            return self.mail.move(message_id, folder).rest_id

    def delete_message(self, message_id: str) -> None:
        """Delete a message for good."""
        with self.lock:
            self.mail.delete(message_id)

    def categories_of(self, message_id: str) -> list[str]:
        """The categories on a message."""
        with self.lock:
            return list(self.mail.resolve(message_id).categories)

    def set_categories(self, message_id: str, categories: Iterable[str]) -> None:
        """The user sets the categories of a message (e.g. 'Salesforce' for a manual save)."""
        with self.lock:
            self.mail.update(message_id, {"categories": list(categories)})

    # -- calendar --------------------------------------------------------------------------------
    def add_event(self, event: Mapping[str, Any]) -> str:
        """The user creates an event (Graph event JSON; may carry `organizer`, `responseStatus`,
        `iCalUId` for an invitation received from someone else); returns its id. Nothing is sent:
        setup events are not recorded as notifications."""
        with self.lock:
            stored, _ = self.calendar.create(event)
            self.calendar.notifications = [n for n in self.calendar.notifications if n.event_id != stored.id]
            return stored.id

    def update_event(self, event_id: str, changes: Mapping[str, Any]) -> None:
        """The user edits an event or one occurrence."""
        with self.lock:
            count = len(self.calendar.notifications)
            self.calendar.update(event_id, changes)
            del self.calendar.notifications[count:]

    def delete_event(self, event_id: str) -> None:
        """The user deletes an event, a series, or one occurrence."""
        with self.lock:
            count = len(self.calendar.notifications)
            self.calendar.delete(event_id)
            del self.calendar.notifications[count:]

    def event(self, event_id: str) -> dict[str, Any]:
        """An event (or occurrence) as Graph renders it, with its extended properties."""
        with self.lock:
            stored, original = self.calendar.resolve(event_id)
            if original is not None:
                return self.calendar.render_instance(self.calendar.instance_at(stored, original))
            return self.calendar.render(stored, expand=True)

    def events(self) -> list[dict[str, Any]]:
        """Every single event and series master, as Graph renders them."""
        with self.lock:
            return [self.calendar.render(e, expand=True) for e in self.calendar.all_events()]

    @property
    def notifications(self) -> list[Notification]:
        """Invitations, updates and cancellations Outlook would have sent for requests to the API."""
        with self.lock:
            return list(self.calendar.notifications)

    def invitations_sent(self) -> int:
        """How many messages to attendees requests to the API would have caused."""
        with self.lock:
            return len(self.calendar.notifications)

    # -- To Do -----------------------------------------------------------------------------------
    def task_list(self, name: str, *, create: bool = True) -> str:
        """The id of the task list with this name (created when missing unless `create` is False)."""
        with self.lock:
            found = self.todo.find_list(name)
            if found is None:
                if not create:
                    raise GraphError(404, "ErrorItemNotFound", f"No task list named '{name}'.")
                found = self.todo.create_list({"displayName": name})["id"]
            return found

    def add_task(self, list_name: str, task: Mapping[str, Any]) -> str:
        """The user adds a task (todoTask JSON) to the named list (created when missing)."""
        with self.lock:
            return self.todo.create(self.task_list(list_name), task).id

    def update_task(self, task_id: str, changes: Mapping[str, Any]) -> None:
        """The user edits a task."""
        with self.lock:
            stored = self._task(task_id)
            self.todo.update(stored.list_id, task_id, changes)

    def delete_task(self, task_id: str) -> None:
        """The user deletes a task."""
        with self.lock:
            stored = self._task(task_id)
            self.todo.delete(stored.list_id, task_id)

    def tasks(self, list_name: str) -> list[dict[str, Any]]:
        """The tasks of a list, with their linked resources."""
        with self.lock:
            list_id = self.todo.find_list(list_name)
            return (
                []
                if list_id is None
                else [self.todo.render(t, expand_links=True) for t in self.todo.in_list(list_id)]
            )

    def _task(self, task_id: str) -> Any:
        stored = self.todo.tasks.get(task_id)
        if stored is None:
            raise GraphError(404, "ErrorItemNotFound", "The specified object was not found in the store.")
        return stored

    # -- contacts --------------------------------------------------------------------------------
    def contact_folder(self, name: str, *, create: bool = True) -> str:
        """The id of the contact folder with this name (created when missing unless `create` is False)."""
        with self.lock:
            found = self.people.find_folder(name)
            if found is None:
                if not create:
                    raise GraphError(404, "ErrorItemNotFound", f"No contact folder named '{name}'.")
                found = self.people.create_folder({"displayName": name})["id"]
            return found

    def add_contact(self, contact: Mapping[str, Any], folder: str | None = None) -> str:
        """The user adds a contact (Graph contact JSON) to a named folder (default: Contacts)."""
        with self.lock:
            folder_id = self.contact_folder(folder) if folder else "contacts"
            return self.people.create(folder_id, contact).id

    def update_contact(self, contact_id: str, changes: Mapping[str, Any]) -> None:
        """The user edits a contact."""
        with self.lock:
            self.people.update(contact_id, changes)

    def delete_contact(self, contact_id: str) -> None:
        """The user deletes a contact."""
        with self.lock:
            self.people.delete(contact_id)

    def contacts(self, folder: str | None = None) -> list[dict[str, Any]]:
        """The contacts of a named folder (default: Contacts), with their extended properties."""
        with self.lock:
            folder_id = self.people.find_folder(folder) if folder else self.people.root_id
            return (
                []
                if folder_id is None
                else [self.people.render(c, expand=True) for c in self.people.in_folder(folder_id)]
            )

    # -- sync state, tokens, faults --------------------------------------------------------------
    def expire_delta_tokens(self, *, code: str = "syncStateNotFound", status: int = 410) -> None:
        """Every delta and skip token handed out so far now gets `status` with this error code."""
        with self.lock:
            self.rounds.expire(code=code, status=status)

    def expire_access_tokens(self) -> None:
        """Every access token has expired (401 on Graph); the refresh token still gets new ones."""
        with self.lock:
            self.identity.expire_access_tokens()

    def revoke_tokens(self) -> None:
        """The user's sign-in is revoked: access and refresh tokens stop working (401 / invalid_grant)."""
        with self.lock:
            self.identity.revoke_all()

    def approve_device_code(self, user_code: str) -> bool:
        """The user enters the code on the device-login page and signs in."""
        with self.lock:
            return self.identity.approve(user_code)

    def throttle_in_batch(
        self, match: str = ".*", times: int = 1, *, retry_after: int = 1, nth: int | None = None
    ) -> Fault:
        """Requests inside a `$batch` matching `match` ('METHOD /url' of the inner request) get a 429
        with Retry-After while the batch itself succeeds (the next `times`, or only the N-th)."""
        from rgsync.sandbox.graph.common import throttled_response

        fault = Fault(match=match, response=throttled_response(retry_after), times=times, nth=nth)
        return self.batch_faults.add(fault)

    def lose_answer(self, match: str, *, status: int = 504, times: int = 1, nth: int | None = None) -> Fault:
        """Requests matching `match` ('METHOD /v1.0/path' of a whole call, or 'METHOD /path' of a
        request inside a batch) are carried out, but the client gets `status` instead of the answer:
        a gateway that timed out after the mailbox did the work (the case idempotent retries guard)."""
        from rgsync.sandbox.graph.common import error_response

        message = (
            "The gateway did not receive a response in time."
            if status == 504
            else "The service is temporarily unavailable."
        )
        code = "GatewayTimeout" if status == 504 else "ServiceUnavailable"
        return self.lost_answers.add(
            Fault(match=match, response=error_response(status, code, message), times=times, nth=nth)
        )

    def fail_in_batch(self, match: str, response: Response, times: int = 1) -> Fault:
        """Requests inside a `$batch` matching `match` get `response` instead of their answer."""
        return self.batch_faults.add(Fault(match=match, response=response, times=times))

    def load(self, scenario: Mapping[str, Any]) -> None:
        """Load scenario data (see `rgsync.sandbox.graph.scenario`)."""
        from rgsync.sandbox.graph.scenario import load_scenario

        with self.lock:
            load_scenario(self, scenario)
