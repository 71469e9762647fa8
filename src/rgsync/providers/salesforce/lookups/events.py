"""Events by natural key, the user's invitations, and meetings colleagues saved (SPEC §4.2, §7.1).

* EVENT — `event_key(subject, start, owner)`: Subject + StartDateTime + OwnerId (rgsync's
  external-id field first, where the org has it on Event).
* EVENT_INVITEE — `invitee|<event id>|<user id>`: the user's EventRelation on that Event.
* Meetings (`find_meetings`) — Events of any owner by Subject + start, with the user's edit access.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any

from rgsync.model import ExistingEvent, event_key, meeting_key
from rgsync.providers.base import ProviderError
from rgsync.providers.salesforce import soql
from rgsync.providers.salesforce.lookups.directory import DirectoryLookups
from rgsync.providers.salesforce.mapping import OrgShape, event_from_record, key_value, parse_datetime


class EventLookups(DirectoryLookups):
    """The Event lookups of `Lookups`: natural keys, invitations, colleagues' meetings."""

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
        return self._existing_relations(keys, "invitee", "EventRelation", "EventId", "IsInvitee = true AND ")

    def _existing_relations(
        self, keys: list[str], prefix: str, sobject: str, parent_field: str, condition: str = ""
    ) -> dict[str, str]:
        """Which `PREFIX|parent id|user id` relation keys already exist, as key → parent id.

        One query per chunk of parents, all users in one `IN`: a crash between the create and the
        journal entry leaves a relation Salesforce holds and the journal does not (SPEC §7.1).
        """
        pairs = []
        for key in keys:
            parts = key.split("|")
            if len(parts) == 3 and parts[0] == prefix and soql.is_id(parts[1]) and soql.is_id(parts[2]):
                pairs.append((parts[1], parts[2], key))
        if not pairs:
            return {}
        users = sorted({u for _, u, _ in pairs})
        queries = soql.chunked_in_queries(
            lambda values: (
                f"SELECT {parent_field}, RelationId FROM {sobject} WHERE {condition}RelationId IN "
                f"{soql.in_list(soql.record_id(u) for u in users)} AND {parent_field} IN {values}"
            ),
            sorted({p for p, _, _ in pairs}),
            soql.record_id,
        )
        present = {
            (str(r[parent_field])[:15], str(r["RelationId"])[:15])
            for rows in self.client.queries(queries)
            for r in rows
        }
        return {key: parent for parent, user, key in pairs if (parent[:15], user[:15]) in present}

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
