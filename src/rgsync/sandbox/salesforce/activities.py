"""Object-specific save behaviour: derived fields, Event timing, Shared Activities relations and
Enhanced Email's auto-created Task.

`store.Org` calls these hooks from insert/update/delete; they raise `RecordError` for what
Salesforce refuses and write companion rows (TaskRelation, EventRelation, EmailMessageRelation,
the email's Task) through the org so that allOrNone rollback covers them too.
"""

from __future__ import annotations

import html
import re
from collections.abc import Iterator, Mapping
from datetime import UTC, datetime, time, timedelta
from typing import Any, Protocol

from . import ids
from .errors import RecordError
from .schema import SObjectType


class Org(Protocol):
    """What the hooks need of the org (`store.Org` is the one): declared here, so the org may call
    its hooks without the hooks importing the org back."""

    shared_activities: bool
    objects: dict[str, SObjectType]

    def type_of(self, record_id: str) -> str | None: ...

    def row(self, record_id: str) -> dict[str, Any] | None: ...

    def iter_rows(self, object_name: str, *, include_deleted: bool = False) -> Iterator[dict[str, Any]]: ...

    def child_rows(
        self, kind: str, parent_id: str, *, include_deleted: bool = False
    ) -> list[dict[str, Any]]: ...

    def indexed_rows(self, kind: str, field_name: str, values: list[str]) -> list[dict[str, Any]]: ...

    def check_reference(self, field_name: str, targets: tuple[str, ...], value: Any) -> str: ...

    def insert(self, object_name: str, values: Mapping[str, Any], *, audit: bool = False) -> str: ...

    def update(
        self, record_id: str, values: Mapping[str, Any], *, expected_type: str | None = None
    ) -> str: ...

    def _now(self) -> datetime: ...

    def _store(self, record_id: str, row: dict[str, Any]) -> None: ...

    def _soft_delete(self, obj: SObjectType, current: dict[str, Any]) -> None: ...


MAX_WHO_CONTACTS = 50
MAX_EVENT_DAYS = 14
_NAMED = ("Contact", "Lead", "User")


def _error(code: str, message: str, fields: tuple[str, ...] = ()) -> Exception:
    return RecordError(code, message, fields)


def check_update_allowed(org: Org, obj: SObjectType, current: dict[str, Any], given: set[str]) -> None:
    """Refuse updates Salesforce refuses whatever the values: converted leads, sent emails."""
    if obj.name == "Lead" and current.get("IsConverted"):
        raise _error("CANNOT_UPDATE_CONVERTED_LEAD", "cannot reference converted lead")
    if obj.name == "EmailMessage" and current.get("Status") != "5":
        allowed = {"IsExternallyVisible", "Status"}
        if current.get("IsClientManaged"):
            allowed.add("RelatedToId")
        locked = sorted(name for name in given if name not in allowed and not obj.fields[name].custom)
        if locked:
            raise _error(
                "FIELD_INTEGRITY_EXCEPTION",
                f"You can't change {', '.join(locked)} on an email message that isn't a draft.",
                tuple(locked),
            )


def before_save(
    org: Org,
    obj: SObjectType,
    row: dict[str, Any],
    given: set[str],
    junctions: dict[str, Any],
    previous: dict[str, Any] | None,
) -> None:
    """Fill derived fields and apply the object's own rules to `row` (not yet stored)."""
    if obj.name in _NAMED and "LastName" in obj.fields:
        row["Name"] = " ".join(part for part in (row.get("FirstName"), row.get("LastName")) if part) or None
    if obj.name == "Opportunity":
        stage = row.get("StageName")
        row["IsClosed"] = stage in ("Closed Won", "Closed Lost")
        row["IsWon"] = stage == "Closed Won"
    elif obj.name == "Task":
        _apply_who_list(org, row, junctions.get("TaskWhoIds"), "TaskWhoIds")
        closed = row.get("Status") == "Completed"
        if closed and not (previous or {}).get("IsClosed"):
            row["CompletedDateTime"] = org._now()
        elif not closed:
            row["CompletedDateTime"] = None
        row["IsClosed"] = closed
        row["AccountId"] = _account_for(org, row)
    elif obj.name == "Event":
        _apply_who_list(org, row, junctions.get("EventWhoIds"), "EventWhoIds")
        _settle_event_times(row, given, previous)
        if row.get("IsPrivate") and (row.get("WhatId") or row.get("WhoId")):
            raise _error(
                "FIELD_INTEGRITY_EXCEPTION",
                "You can't relate a private event to other records.",
                ("IsPrivate",),
            )
        row["AccountId"] = _account_for(org, row)
    elif obj.name == "EmailMessage":
        if previous is None:
            if row.get("TextBody") is None and row.get("HtmlBody"):
                row["TextBody"] = _text_from_html(row["HtmlBody"])
            for name in ("ToIds", "CcIds", "BccIds"):
                for value in junctions.get(name) or []:
                    org.check_reference(name, ("Contact", "Lead", "User"), value)
    elif obj.name in ("TaskRelation", "EventRelation"):
        parent = "TaskId" if obj.name == "TaskRelation" else "EventId"
        relation = ids.normalize(row.get("RelationId")) or ""
        row["IsWhat"] = org.type_of(relation) in ("Account", "Opportunity")
        if previous is None:
            for other in org.child_rows(obj.name, ids.normalize(row.get(parent)) or ""):
                if other["RelationId"] == relation:
                    raise _error(
                        "DUPLICATE_VALUE",
                        f"duplicate value found: RelationId duplicates value on record with id: {other['Id']}",
                    )
    elif obj.name == "EmailMessageRelation":
        related = ids.normalize(row.get("RelationId"))
        if related:
            relation = related
            row["RelationObjectType"] = org.type_of(relation)
            target = org.row(relation)
            if row.get("RelationAddress") is None and target is not None:
                row["RelationAddress"] = target.get("Email")
        elif not row.get("RelationAddress"):
            raise _error(
                "REQUIRED_FIELD_MISSING",
                "Required fields are missing: [RelationAddress]",
                ("RelationAddress",),
            )


def after_save(
    org: Org,
    obj: SObjectType,
    row: dict[str, Any],
    junctions: dict[str, Any],
    previous: dict[str, Any] | None,
) -> None:
    """Write companion rows once `row` is stored (it has its Id)."""
    if obj.name == "Task" and org.shared_activities:
        _sync_relations(org, "TaskRelation", "TaskId", row, previous, "TaskWhoIds" in junctions)
    elif obj.name == "Event" and org.shared_activities:
        _sync_relations(org, "EventRelation", "EventId", row, previous, "EventWhoIds" in junctions)
    elif obj.name == "EmailMessage" and previous is None:
        _file_email(org, row, junctions)
    elif (
        obj.name == "EmailMessage"
        and previous is not None
        and row.get("ActivityId")
        and row.get("RelatedToId") != previous.get("RelatedToId")
    ):
        org.update(row["ActivityId"], {"WhatId": row.get("RelatedToId")})


def cascade(org: Org, obj: SObjectType, row: dict[str, Any]) -> list[tuple[str, str]]:
    """The (type, Id) of live records Salesforce deletes together with `row`."""
    children: list[tuple[str, str]] = []
    record_id = row["Id"]
    if obj.name == "Task":
        children += [("TaskRelation", r["Id"]) for r in org.child_rows("TaskRelation", record_id)]
        children += [
            ("EmailMessage", r["Id"])
            for r in org.iter_rows("EmailMessage")
            if r.get("ActivityId") == record_id
        ]
    elif obj.name == "Event":
        children += [("EventRelation", r["Id"]) for r in org.child_rows("EventRelation", record_id)]
    elif obj.name == "EmailMessage":
        children += [
            ("EmailMessageRelation", r["Id"]) for r in org.child_rows("EmailMessageRelation", record_id)
        ]
        if row.get("ActivityId"):
            children.append(("Task", row["ActivityId"]))
    return children


# --- who/what ----------------------------------------------------------------------------


def _apply_who_list(org: Org, row: dict[str, Any], who_ids: list[str] | None, name: str) -> None:
    """TaskWhoIds/EventWhoIds: up to 50 contacts or one lead; the first becomes WhoId."""
    if who_ids is None:
        return
    normal = [org.check_reference(name, ("Contact", "Lead"), value) for value in who_ids]
    normal = list(dict.fromkeys(normal))
    leads = [v for v in normal if org.type_of(v) == "Lead"]
    if leads and len(normal) > 1:
        raise _error(
            "FIELD_INTEGRITY_EXCEPTION",
            "You can relate an activity to one lead or to up to 50 contacts, not both.",
            (name,),
        )
    if len(normal) > MAX_WHO_CONTACTS:
        raise _error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"You can relate an activity to up to {MAX_WHO_CONTACTS} contacts.",
            (name,),
        )
    row["WhoId"] = normal[0] if normal else None
    row["_who_ids"] = normal


def _account_for(org: Org, row: dict[str, Any]) -> str | None:
    """AccountId of an activity: the What's account, else the primary contact's account."""
    what = org.row(row["WhatId"]) if row.get("WhatId") else None
    if what is not None:
        kind = org.type_of(what["Id"])
        if kind == "Account":
            return str(what["Id"])
        if kind == "Opportunity":
            return what.get("AccountId")
    who = org.row(row["WhoId"]) if row.get("WhoId") else None
    if who is not None and org.type_of(who["Id"]) == "Contact":
        return who.get("AccountId")
    return None


def _sync_relations(
    org: Org,
    relation_type: str,
    parent_field: str,
    row: dict[str, Any],
    previous: dict[str, Any] | None,
    list_given: bool,
) -> None:
    """Keep TaskRelation/EventRelation rows in step with WhoId(s) and WhatId."""
    activity_id = row["Id"]
    who_list: list[str] | None = row.pop("_who_ids", None)
    if "_who_ids" in (previous or {}):
        previous = {k: v for k, v in (previous or {}).items() if k != "_who_ids"}
    existing = org.child_rows(relation_type, activity_id)
    current_who = [
        r["RelationId"] for r in existing if not r["IsWhat"] and _is_who_relation(relation_type, r)
    ]
    old_who = (previous or {}).get("WhoId")
    if list_given and who_list is not None:
        wanted = who_list
    elif previous is None or old_who != row.get("WhoId"):
        wanted = [w for w in current_who if w != old_who]
        if row.get("WhoId"):
            wanted = [row["WhoId"], *[w for w in wanted if w != row["WhoId"]]]
    else:
        wanted = current_who
    for relation in existing:
        if relation["IsWhat"]:
            if relation["RelationId"] != row.get("WhatId"):
                org._soft_delete(org.objects[relation_type], relation)
        elif _is_who_relation(relation_type, relation) and relation["RelationId"] not in wanted:
            if relation_type == "EventRelation" and relation.get("IsInvitee"):
                org._store(relation["Id"], {**relation, "IsParent": False})
            else:
                org._soft_delete(org.objects[relation_type], relation)
    have = {r["RelationId"] for r in existing if not r["IsDeleted"]}
    invitees = {
        r["RelationId"]: r for r in existing if relation_type == "EventRelation" and r.get("IsInvitee")
    }
    for who in wanted:
        if who in invitees and not invitees[who].get("IsParent"):
            org._store(invitees[who]["Id"], {**invitees[who], "IsParent": True})
        elif who not in have:
            values: dict[str, Any] = {parent_field: activity_id, "RelationId": who}
            if relation_type == "EventRelation":
                values.update(IsParent=True, IsInvitee=False)
            _insert_companion(org, relation_type, values)
    what = row.get("WhatId")
    if what and not any(r["IsWhat"] and r["RelationId"] == what for r in existing):
        values = {parent_field: activity_id, "RelationId": what}
        if relation_type == "EventRelation":
            values.update(IsParent=True, IsInvitee=False)
        _insert_companion(org, relation_type, values)


def _is_who_relation(relation_type: str, relation: dict[str, Any]) -> bool:
    return relation_type == "TaskRelation" or bool(relation.get("IsParent"))


def _insert_companion(org: Org, relation_type: str, values: dict[str, Any]) -> str:
    """Insert a row Salesforce creates itself (bypasses the createable flag, not the checks)."""
    shared = org.shared_activities
    org.shared_activities = True
    try:
        return org.insert(relation_type, values)
    finally:
        org.shared_activities = shared


# --- Event timing ------------------------------------------------------------------------


def _settle_event_times(row: dict[str, Any], given: set[str], previous: dict[str, Any] | None) -> None:
    """Derive StartDateTime/EndDateTime/DurationInMinutes/ActivityDate(Time)/EndDate as Salesforce does."""
    if row.get("IsAllDayEvent"):
        first = row.get("ActivityDate")
        if "StartDateTime" in given and row.get("StartDateTime") is not None and "ActivityDate" not in given:
            first = row["StartDateTime"].date()
        if first is None:
            raise _error(
                "REQUIRED_FIELD_MISSING", "Required fields are missing: [ActivityDate]", ("ActivityDate",)
            )
        days = 1
        if "EndDateTime" in given and row.get("EndDateTime") is not None:
            days = (row["EndDateTime"].date() - first).days + 1
        elif row.get("DurationInMinutes"):
            days = max(1, -(-int(row["DurationInMinutes"]) // 1440))
        if days < 1:
            raise _error(
                "FIELD_INTEGRITY_EXCEPTION",
                "End Date Time: the end can't be before the start.",
                ("EndDateTime",),
            )
        _check_span(days)
        midnight = datetime.combine(first, time(), UTC)
        row.update(
            ActivityDate=first,
            StartDateTime=midnight,
            EndDateTime=midnight + timedelta(days=days - 1),
            DurationInMinutes=days * 1440,
            ActivityDateTime=None,
            EndDate=first + timedelta(days=days - 1),
        )
        return
    start: Any = row.get("StartDateTime")
    if (
        "ActivityDateTime" in given
        and "StartDateTime" not in given
        and row.get("ActivityDateTime") is not None
    ):
        start = row["ActivityDateTime"]
    if start is None:
        raise _error(
            "REQUIRED_FIELD_MISSING", "Required fields are missing: [StartDateTime]", ("StartDateTime",)
        )
    end: Any = row.get("EndDateTime")
    duration: Any = row.get("DurationInMinutes")
    end_given = "EndDateTime" in given and end is not None
    duration_given = "DurationInMinutes" in given and duration is not None
    if end_given and duration_given:
        if start + timedelta(minutes=int(duration)) != end:
            raise _error(
                "FIELD_INTEGRITY_EXCEPTION",
                "Duration in minutes doesn't match the start and end times.",
                ("DurationInMinutes",),
            )
    elif duration_given:
        end = start + timedelta(minutes=int(duration))
    elif end_given:
        pass
    elif (
        previous is not None
        and previous.get("DurationInMinutes") is not None
        and not previous.get("IsAllDayEvent")
    ):
        end = start + timedelta(minutes=int(previous["DurationInMinutes"]))
    elif end is None and duration is None:
        raise _error(
            "REQUIRED_FIELD_MISSING",
            "Required fields are missing: [DurationInMinutes]",
            ("DurationInMinutes",),
        )
    elif end is None:
        end = start + timedelta(minutes=int(duration or 0))
    if end < start:
        raise _error(
            "FIELD_INTEGRITY_EXCEPTION", "End Date Time: the end can't be before the start.", ("EndDateTime",)
        )
    minutes = int((end - start).total_seconds() // 60)
    _check_span(minutes / 1440)
    row.update(
        StartDateTime=start,
        EndDateTime=end,
        DurationInMinutes=minutes,
        ActivityDateTime=start,
        ActivityDate=start.date(),
        EndDate=end.date(),
    )


def _check_span(days: float) -> None:
    if days > MAX_EVENT_DAYS:
        raise _error(
            "FIELD_INTEGRITY_EXCEPTION",
            f"Events can't last longer than {MAX_EVENT_DAYS} days.",
            ("EndDateTime",),
        )


# --- Enhanced Email ----------------------------------------------------------------------


def _file_email(org: Org, email: dict[str, Any], junctions: dict[str, Any]) -> None:
    """EmailMessageRelation rows for sender and recipients, and the email's Task (Enhanced Email)."""
    recipients: list[str] = []
    for name, kind in (("ToIds", "ToAddress"), ("CcIds", "CcAddress"), ("BccIds", "BccAddress")):
        for value in junctions.get(name) or []:
            relation = ids.normalize(value) or value
            _insert_companion(
                org,
                "EmailMessageRelation",
                {"EmailMessageId": email["Id"], "RelationId": relation, "RelationType": kind},
            )
            recipients.append(relation)
    sender = email.get("FromAddress")
    if sender:
        # Through the org's field index, not a scan of every user: a team org has one user per
        # mailbox and files one email after another.
        user = next(
            (
                u
                for u in org.indexed_rows("User", "Email", [sender])
                if not u["IsDeleted"] and (u.get("Email") or "").lower() == sender.lower()
            ),
            None,
        )
        values: dict[str, Any] = {
            "EmailMessageId": email["Id"],
            "RelationType": "FromAddress",
            "RelationAddress": sender,
        }
        if user is not None:
            values["RelationId"] = user["Id"]
        _insert_companion(org, "EmailMessageRelation", values)
    people = [r for r in dict.fromkeys(recipients) if org.type_of(r) in ("Contact", "Lead")]
    contacts = [r for r in people if org.type_of(r) == "Contact"][:MAX_WHO_CONTACTS]
    who = contacts or people[:1]
    when = email.get("MessageDate") or org._now()
    task: dict[str, Any] = {
        "Subject": ("Email: " + (email.get("Subject") or ""))[:255],
        "Status": "Completed",
        "Priority": "Normal",
        "TaskSubtype": "Email",
        "ActivityDate": when.date().isoformat(),
        "Description": (email.get("TextBody") or "")[:32000] or None,
        "WhatId": email.get("RelatedToId"),
    }
    if who and org.shared_activities:
        task["TaskWhoIds"] = who
    elif who:
        task["WhoId"] = who[0]
    task_id = org.insert("Task", task)
    org._store(email["Id"], {**org.row(email["Id"]), "ActivityId": task_id})  # type: ignore[dict-item]


def _text_from_html(markup: str) -> str:
    text = re.sub(r"<(br|/p|/div)\s*/?>", "\n", markup, flags=re.IGNORECASE)
    text = re.sub(r"<[^>]+>", "", text)
    return html.unescape(text).strip()
