"""Batched lookups: people by address, Accounts, Opportunities, and records by natural key.

Every lookup sends many values per SOQL `IN` list, chunked to stay under the URI limit, and
bundles the chunks into Composite requests of up to five queries (SPEC §3.3, §10).

Natural keys (`find_existing`, SPEC §7.1):

* EMAIL — the Internet Message-ID. EmailMessage.MessageIdentifier across the org (a colleague's
  copy counts: one record per Message-ID per org). For email Tasks: rgsync's external-id field
  when the org has it on Task; otherwise the user's own Email Tasks created in the last two days,
  matched on the `Message-ID:` line of the Description header block rgsync writes. Two days cover
  a crash and its rerun; older Tasks are not searched (their emails are past the cursor anyway).
* EVENT — `event_key(subject, start, owner)`: Subject + StartDateTime + OwnerId.
* EVENT_INVITEE — `invitee|<event id>|<user id>`: the user's EventRelation on that Event.
* TASK — the tasks engine's key `subject|due|owner` (Subject + ActivityDate + OwnerId); a key
  without '|' is matched on Subject alone among the user's Tasks.
* CONTACT / LEAD — the email address (unconverted Leads only); `name:First Last` for a Contact
  without address.
* ACCOUNT — a website domain (as `find_accounts_by_domain`).
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Iterable
from datetime import UTC, datetime
from typing import Any

from rgsync.model import (
    Account,
    ExistingEvent,
    Opportunity,
    OrgInfo,
    Person,
    PersonKind,
    RecordKind,
    event_key,
    meeting_key,
)
from rgsync.providers.base import ProviderError
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.client import SalesforceClient
from rgsync.providers.salesforce.mapping import (
    KEY_MAX,
    MESSAGE_ID_MAX,
    OrgShape,
    event_from_record,
    key_value,
    message_id_of_description,
    parse_date,
    parse_datetime,
    website_domain,
)

EMAIL_TASK_LOOKBACK = "LAST_N_DAYS:2"


class Lookups:
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

    # -- people ---------------------------------------------------------------------------------------
    def find_people(self, emails: Collection[str]) -> dict[str, list[Person]]:
        """Contacts and unconverted Leads by email, many addresses per query (SPEC §3.3)."""
        wanted = sorted({e.strip().lower() for e in emails if e and e.strip()})
        if not wanted:
            return {}
        contact_queries = soql.chunked_in_queries(
            lambda values: (
                f"SELECT Id, Email, FirstName, LastName, AccountId, OwnerId FROM Contact WHERE Email IN {values}"
            ),
            wanted,
        )
        lead_queries = soql.chunked_in_queries(
            lambda values: (
                "SELECT Id, Email, FirstName, LastName, OwnerId FROM Lead "
                f"WHERE IsConverted = false AND Email IN {values}"
            ),
            wanted,
        )
        answers = self.client.queries(contact_queries + lead_queries)
        found: dict[str, list[Person]] = {}
        for n, rows in enumerate(answers):
            kind = PersonKind.CONTACT if n < len(contact_queries) else PersonKind.LEAD
            for row in rows:
                address = str(row.get("Email") or "").lower()
                if address not in wanted:
                    continue
                person = Person(
                    id=str(row["Id"]),
                    kind=kind,
                    email=address,
                    first_name=str(row.get("FirstName") or ""),
                    last_name=str(row.get("LastName") or ""),
                    account_id=str(row.get("AccountId") or "") or None,
                    owner_id=str(row.get("OwnerId") or "") or None,
                )
                self.person_emails[person.id] = address
                found.setdefault(address, []).append(person)
        # Contacts first, then Leads (an address found as both links the Contact, SPEC §3.3).
        return {
            k: sorted(v, key=lambda p: (p.kind is not PersonKind.CONTACT, p.id)) for k, v in found.items()
        }

    def person_addresses(self, ids: Iterable[str]) -> dict[str, str]:
        """Addresses of Contacts/Leads by Id, from this session's lookups or one batched query."""
        missing = sorted({i for i in ids if soql.is_id(i) and i not in self.person_emails})
        if missing:
            queries: list[str] = []
            for sobject, prefix in (("Contact", "003"), ("Lead", "00Q")):
                of_type = [i for i in missing if i.startswith(prefix)]
                if of_type:
                    template = f"SELECT Id, Email FROM {sobject} WHERE Id IN "
                    queries += soql.chunked_in_queries(template.__add__, of_type, soql.record_id)
            for rows in self.client.queries(queries):
                for row in rows:
                    self.person_emails[str(row["Id"])] = str(row.get("Email") or "").lower()
        return {i: self.person_emails.get(i, "") for i in ids}

    # -- accounts and opportunities -----------------------------------------------------------------------
    def find_accounts_by_domain(self, domains: Collection[str]) -> dict[str, Account]:
        """An Account whose Website has each domain: LIKE in SOQL, the exact domain check here."""
        wanted = sorted({d.strip().lower() for d in domains if d and d.strip()})
        if not wanted:
            return {}
        queries = soql.chunked_in_queries(
            lambda values: f"SELECT Id, Name, Website FROM Account WHERE {values} ORDER BY Id",
            wanted,
            lambda domain: f"Website LIKE {soql.like(domain)}",
            " OR ",
        )
        found: dict[str, Account] = {}
        for rows in self.client.queries(queries):
            for row in sorted(rows, key=lambda r: str(r["Id"])):
                domain = website_domain(str(row.get("Website") or ""))
                if domain in wanted and domain not in found:
                    found[domain] = Account(
                        str(row["Id"]), str(row.get("Name") or ""), str(row.get("Website") or "")
                    )
        return found

    def accounts_by_id(self, ids: Collection[str]) -> dict[str, Account]:
        """Accounts by Id."""
        wanted = sorted({i for i in ids if soql.is_id(i)})
        if not wanted:
            return {}
        queries = soql.chunked_in_queries(
            lambda values: f"SELECT Id, Name, Website FROM Account WHERE Id IN {values}",
            wanted,
            soql.record_id,
        )
        out: dict[str, Account] = {}
        for rows in self.client.queries(queries):
            for row in rows:
                account = Account(str(row["Id"]), str(row.get("Name") or ""), str(row.get("Website") or ""))
                out[account.id] = account
                out[account.id[:15]] = account
        return {i: out[i] for i in ids if i in out}

    def accounts_by_name(self, names: Collection[str]) -> dict[str, str]:
        """Account Ids by name (case-insensitive; the lowest Id when several share a name)."""
        wanted = sorted({n.strip() for n in names if n and n.strip()})
        if not wanted:
            return {}
        queries = soql.chunked_in_queries(
            lambda values: f"SELECT Id, Name FROM Account WHERE Name IN {values} ORDER BY Id", wanted
        )
        out: dict[str, str] = {}
        for rows in self.client.queries(queries):
            for row in rows:
                out.setdefault(str(row.get("Name") or "").casefold(), str(row["Id"]))
        return {name: out[name.casefold()] for name in wanted if name.casefold() in out}

    def opportunities_for(self, account_ids: Collection[str], owner_id: str) -> list[Opportunity]:
        """Opportunities owned by `owner_id` on these Accounts (SPEC §3.5)."""
        wanted = sorted({i for i in account_ids if soql.is_id(i)})
        if not wanted:
            return []
        owner = soql.record_id(owner_id)
        queries = soql.chunked_in_queries(
            lambda values: (
                "SELECT Id, Name, AccountId, OwnerId, LastModifiedDate, CloseDate FROM Opportunity "
                f"WHERE OwnerId = {owner} AND AccountId IN {values}"
            ),
            wanted,
            soql.record_id,
        )
        out: list[Opportunity] = []
        for rows in self.client.queries(queries):
            for row in rows:
                out.append(
                    Opportunity(
                        id=str(row["Id"]),
                        name=str(row.get("Name") or ""),
                        account_id=str(row.get("AccountId") or "") or None,
                        owner_id=str(row.get("OwnerId") or ""),
                        last_modified=parse_datetime(row.get("LastModifiedDate"))
                        or datetime.min.replace(tzinfo=UTC),
                        close_date=parse_date(row.get("CloseDate")),
                    )
                )
        return out

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
        task_mode_possible = self.email_mode == "task" or (
            self.email_mode == "auto" and not org.enhanced_email
        )
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

    def remember_email_task(self, message_id: str, task_id: str) -> None:
        """An email Task this session created, so a later lookup finds it without a query."""
        if self._email_tasks is not None and message_id:
            self._email_tasks[message_id] = task_id

    def _events_matching(self, pairs: list[tuple[str, datetime]], extra: str = "") -> list[dict[str, Any]]:
        """Events whose Subject is one of the subjects and StartDateTime within the starts' range."""
        subjects = sorted({s for s, _ in pairs})
        starts = [t for _, t in pairs]
        low, high = min(starts), max(starts)
        fields = (
            "Id, Subject, StartDateTime, EndDateTime, IsAllDayEvent, ActivityDate, DurationInMinutes, OwnerId"
        )
        timing = f"StartDateTime >= {soql.datetime_literal(low)} AND StartDateTime <= {soql.datetime_literal(high)}"
        queries = soql.chunked_in_queries(
            lambda values: (
                f"SELECT {fields} FROM Event WHERE {timing}{extra} AND Subject IN {values} ORDER BY Id"
            ),
            [s[:255] for s in subjects],
        )
        return [row for rows in self.client.queries(queries) for row in rows]

    def _existing_events(self, keys: list[str]) -> dict[str, str]:
        shape = self.shape()
        key_field = shape.key_field("Event")
        if key_field:
            by_value = {key_value(k): k for k in keys}
            queries = soql.chunked_in_queries(
                lambda values: f"SELECT Id, {key_field} FROM Event WHERE {key_field} IN {values}",
                list(by_value),
            )
            found: dict[str, str] = {}
            for rows in self.client.queries(queries):
                for row in rows:
                    key = by_value.get(str(row.get(key_field) or ""))
                    if key:
                        found.setdefault(key, str(row["Id"]))
            missing = [k for k in keys if k not in found]
            return found | (self._events_by_fields(missing) if missing else {})
        return self._events_by_fields(keys)

    def _events_by_fields(self, keys: list[str]) -> dict[str, str]:
        pairs: list[tuple[str, datetime]] = []
        owners: set[str] = set()
        wanted = set(keys)
        for key in keys:
            parts = key.rsplit("|", 2)
            if len(parts) != 3:
                continue
            start = parse_datetime(parts[1])
            if start is None:
                continue
            pairs.append((parts[0], start))
            if soql.is_id(parts[2]):
                owners.add(parts[2])
        if not pairs:
            return {}
        extra = f" AND OwnerId IN {soql.in_list(soql.record_id(o) for o in sorted(owners))}" if owners else ""
        found: dict[str, str] = {}
        for row in self._events_matching(pairs, extra):
            item = event_from_record(row, OrgShape())
            if item is None:
                continue
            key = event_key(item.subject, item.start, item.owner_id or "")
            if key in wanted and key not in found:
                found[key] = item.id
        return found

    def _existing_invitations(self, keys: list[str]) -> dict[str, str]:
        pairs = []
        for key in keys:
            parts = key.split("|")
            if len(parts) == 3 and parts[0] == "invitee" and soql.is_id(parts[1]) and soql.is_id(parts[2]):
                pairs.append((parts[1], parts[2], key))
        if not pairs:
            return {}
        users = sorted({u for _, u, _ in pairs})
        queries = soql.chunked_in_queries(
            lambda values: (
                "SELECT EventId, RelationId FROM EventRelation WHERE IsInvitee = true AND RelationId IN "
                f"{soql.in_list(soql.record_id(u) for u in users)} AND EventId IN {values}"
            ),
            sorted({e for e, _, _ in pairs}),
            soql.record_id,
        )
        present = {
            (str(r["EventId"])[:15], str(r["RelationId"])[:15])
            for rows in self.client.queries(queries)
            for r in rows
        }
        return {key: event for event, user, key in pairs if (event[:15], user[:15]) in present}

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

    def find_meetings(self, keys: Collection[str]) -> dict[str, ExistingEvent]:
        """Events of any owner for these meetings (Subject + start), with the user's edit access.

        Editable = the user owns it, or UserRecordAccess says HasEditAccess. Where that object
        cannot be queried, only the user's own Events count as editable.
        """
        wanted = set(keys)
        pairs: list[tuple[str, datetime]] = []
        for key in wanted:
            subject, _, when = key.rpartition("|")
            start = parse_datetime(when)
            if start is not None:
                pairs.append((subject, start))
        if not pairs:
            return {}
        user_id = self.org().user_id
        matches: dict[str, list[tuple[str, str]]] = {}
        for row in self._events_matching(pairs):
            item = event_from_record(row, OrgShape())
            if item is None:
                continue
            key = meeting_key(item.subject, item.start)
            if key in wanted:
                matches.setdefault(key, []).append((item.id, item.owner_id or ""))
        others = sorted(
            {event for found in matches.values() for event, owner in found if owner[:15] != user_id[:15]}
        )
        editable = self._edit_access(user_id, others) if others else set()
        out: dict[str, ExistingEvent] = {}
        for key, found in matches.items():
            ranked = sorted(
                found, key=lambda pair: (pair[1][:15] != user_id[:15], pair[0] not in editable, pair[0])
            )
            event_id, owner = ranked[0]
            out[key] = ExistingEvent(
                id=event_id, owner_id=owner, editable=owner[:15] == user_id[:15] or event_id in editable
            )
        return out

    def _edit_access(self, user_id: str, record_ids: list[str]) -> set[str]:
        user = soql.record_id(user_id)
        editable: set[str] = set()
        try:
            for start in range(0, len(record_ids), 200):  # UserRecordAccess takes at most 200 Ids
                chunk = record_ids[start : start + 200]
                rows = self.client.query(
                    f"SELECT RecordId, HasEditAccess FROM UserRecordAccess WHERE UserId = {user} "
                    f"AND RecordId IN {soql.in_list(soql.record_id(r) for r in chunk)}"
                )
                editable |= {str(r["RecordId"]) for r in rows if r.get("HasEditAccess")}
        except ProviderError as exc:
            if exc.code.startswith("SF-INVALID") or exc.code in ("SF-NOT-FOUND", "SF-MALFORMED_QUERY"):
                return set()
            raise
        return editable | {r[:15] for r in editable}


__all__ = ["KEY_MAX", "Lookups"]
