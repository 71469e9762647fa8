"""`Lookups`, the read-only lookups of the Crm protocol, and records by natural key.

Natural keys (`find_existing`, SPEC §7.1):

* EMAIL — the Internet Message-ID. EmailMessage.MessageIdentifier across the org (a colleague's
  copy counts: one record per Message-ID per org). For email Tasks: rgsync's external-id field
  when the org has it on Task; otherwise the user's own Email Tasks created in the last two days,
  matched on the `Message-ID:` line of the Description header block rgsync writes. Two days cover
  a crash and its rerun; older Tasks are not searched (their emails are past the cursor anyway).
* EVENT — `event_key(subject, start, owner)`: Subject + StartDateTime + OwnerId (see `events`).
* EVENT_INVITEE — `invitee|<event id>|<user id>`: the user's EventRelation on that Event.
* EMAIL_RECIPIENT — `recipient|<email id>|<user id>`: the user's EmailMessageRelation on that email.
* TASK — the tasks engine's key `subject|due|owner` (Subject + ActivityDate + OwnerId); a key
  without '|' is matched on Subject alone among the user's Tasks.
* CONTACT / LEAD — the email address (unconverted Leads only); `name:First Last` for a Contact
  without address.
* ACCOUNT — a website domain (as `find_accounts_by_domain`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection

from rgsync.model import EmailMode, OrgInfo, RecordKind, SaveEmailsAs
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.client import SalesforceClient
from rgsync.providers.salesforce.lookups.events import EventLookups
from rgsync.providers.salesforce.mapping import MESSAGE_ID_MAX, OrgShape, key_value, message_id_of_description

EMAIL_TASK_LOOKBACK = "LAST_N_DAYS:2"


class Lookups(EventLookups):
    """The read-only lookups of the Crm protocol."""

    def __init__(
        self,
        client: SalesforceClient,
        org: Callable[[], OrgInfo],
        shape: Callable[[], OrgShape],
        email_mode: str = "auto",
    ) -> None:
        self.client = client
        self.org = org
        self.shape = shape
        self.email_mode = email_mode
        # People addresses seen this session (Id → address), so an EmailMessage can put each
        # person in the right junction list without another query.
        self.person_emails: dict[str, str] = {}
        # Message-ID → Id of the user's recent email Tasks (Task mode without the key field).
        self._email_tasks: dict[str, str] | None = None

    # -- natural keys --------------------------------------------------------------------------------------
    def find_existing(self, kind: RecordKind, keys: Collection[str]) -> dict[str, str]:
        """Ids of records that already carry these natural keys (see the module docstring)."""
        wanted = list(dict.fromkeys(k for k in keys if k))
        if not wanted:
            return {}
        if kind is RecordKind.EMAIL:
            return self._existing_emails(wanted)
        if kind is RecordKind.EVENT:
            return self._existing_events(wanted)
        if kind is RecordKind.EVENT_INVITEE:
            return self._existing_invitations(wanted)
        if kind is RecordKind.EMAIL_RECIPIENT:
            return self._existing_recipients(wanted)
        if kind is RecordKind.TASK:
            return self._existing_tasks(wanted)
        if kind in (RecordKind.CONTACT, RecordKind.LEAD):
            return self._existing_people(kind, wanted)
        if kind is RecordKind.ACCOUNT:
            return {d: a.id for d, a in self.find_accounts_by_domain(wanted).items()}
        return {}

    def _existing_emails(self, keys: list[str]) -> dict[str, str]:
        org = self.org()
        shape = self.shape()
        by_identifier = {k[:MESSAGE_ID_MAX]: k for k in keys}
        queries: list[str] = []
        if org.enhanced_email:
            queries += soql.chunked_in_queries(
                lambda values: (
                    f"SELECT Id, MessageIdentifier FROM EmailMessage WHERE MessageIdentifier IN {values}"
                ),
                list(by_identifier),
            )
        email_message_queries = len(queries)
        task_field = shape.key_field("Task")
        by_key = {key_value(k): k for k in keys}
        task_mode_possible = SaveEmailsAs(self.email_mode).resolved(org.enhanced_email) is EmailMode.TASK
        if task_field:
            queries += soql.chunked_in_queries(
                lambda values: f"SELECT Id, {task_field} FROM Task WHERE {task_field} IN {values}",
                list(by_key),
            )
        elif task_mode_possible and self._email_tasks is None:
            user = soql.record_id(org.user_id)
            queries.append(
                f"SELECT Id, Description FROM Task WHERE OwnerId = {user} AND TaskSubtype = 'Email' "
                f"AND CreatedDate = {EMAIL_TASK_LOOKBACK}"
            )
        found: dict[str, str] = {}
        for n, rows in enumerate(self.client.queries(queries)):
            for row in rows:
                if n < email_message_queries:
                    key = by_identifier.get(str(row.get("MessageIdentifier") or ""))
                elif task_field:
                    key = by_key.get(str(row.get(task_field) or ""))
                else:
                    if self._email_tasks is None:
                        self._email_tasks = {}
                    message_id = message_id_of_description(str(row.get("Description") or ""))
                    if message_id:
                        self._email_tasks.setdefault(message_id, str(row["Id"]))
                    continue
                if key and key not in found:
                    found[key] = str(row["Id"])
        if not task_field and task_mode_possible:
            if self._email_tasks is None:
                self._email_tasks = {}
            for key in keys:
                if key not in found and key in self._email_tasks:
                    found[key] = self._email_tasks[key]
        return found

    def _existing_recipients(self, keys: list[str]) -> dict[str, str]:
        return self._existing_relations(keys, "recipient", "EmailMessageRelation", "EmailMessageId")

    def forget_email_tasks(self) -> None:
        """Drop the email Tasks known from this session: after a save whose answer was lost, only
        a fresh look at the org tells whether it was carried out."""
        self._email_tasks = None

    def remember_email_task(self, message_id: str, task_id: str) -> None:
        """An email Task this session created, so a later lookup finds it without a query."""
        if self._email_tasks is not None and message_id:
            self._email_tasks[message_id] = task_id

    def _existing_tasks(self, keys: list[str]) -> dict[str, str]:
        shape = self.shape()
        found: dict[str, str] = {}
        key_field = shape.key_field("Task")
        if key_field:
            by_value = {key_value(k): k for k in keys}
            queries = soql.chunked_in_queries(
                lambda values: f"SELECT Id, {key_field} FROM Task WHERE {key_field} IN {values}",
                list(by_value),
            )
            for rows in self.client.queries(queries):
                for row in rows:
                    key = by_value.get(str(row.get(key_field) or ""))
                    if key:
                        found.setdefault(key, str(row["Id"]))
        missing = [k for k in keys if k not in found]
        if not missing:
            return found
        parsed: dict[str, tuple[str, str, str]] = {}
        for key in missing:
            parts = key.rsplit("|", 2)
            parsed[key] = (parts[0], parts[1], parts[2]) if len(parts) == 3 else (key, "", "")
        owners = sorted({o for _, _, o in parsed.values() if soql.is_id(o)} or {self.org().user_id})
        owner_filter = f"OwnerId IN {soql.in_list(soql.record_id(o) for o in owners)}"
        queries = soql.chunked_in_queries(
            lambda values: (
                f"SELECT Id, Subject, ActivityDate, OwnerId FROM Task WHERE {owner_filter} "
                f"AND Subject IN {values} ORDER BY Id"
            ),
            sorted({s[:255] for s, _, _ in parsed.values()}),
        )
        rows = [row for answer in self.client.queries(queries) for row in answer]
        for key, (subject, due, owner) in parsed.items():
            for row in rows:
                if str(row.get("Subject") or "").strip() != subject.strip():
                    continue
                if "|" in key and (
                    str(row.get("ActivityDate") or "") != due
                    or str(row.get("OwnerId") or "")[:15] != owner[:15]
                ):
                    continue
                found[key] = str(row["Id"])
                break
        return found

    def _existing_people(self, kind: RecordKind, keys: list[str]) -> dict[str, str]:
        sobject = "Lead" if kind is RecordKind.LEAD else "Contact"
        converted = " AND IsConverted = false" if sobject == "Lead" else ""
        addresses = sorted({k.lower() for k in keys if not k.startswith("name:")})
        names = [k for k in keys if k.startswith("name:")]
        queries = (
            soql.chunked_in_queries(
                lambda values: (
                    f"SELECT Id, Email FROM {sobject} WHERE Email IN {values}{converted} ORDER BY Id"
                ),
                addresses,
            )
            if addresses
            else []
        )
        for key in names:
            first, _, last = key[len("name:") :].strip().rpartition(" ")
            queries.append(
                f"SELECT Id, Email FROM {sobject} WHERE LastName = {soql.text(last)} "
                f"AND FirstName = {soql.text(first) if first else 'null'}{converted} ORDER BY Id"
            )
        answers = self.client.queries(queries)
        found: dict[str, str] = {}
        by_address: dict[str, str] = {}
        for rows in answers[: len(answers) - len(names)]:
            for row in rows:
                by_address.setdefault(str(row.get("Email") or "").lower(), str(row["Id"]))
        for key in keys:
            if not key.startswith("name:") and key.lower() in by_address:
                found[key] = by_address[key.lower()]
        for key, rows in zip(names, answers[len(answers) - len(names) :], strict=True):
            if rows:
                found[key] = str(rows[0]["Id"])
        return found
