"""Writing contacts in batched calls sent one after the other, never in parallel:
batchCreateContacts then members.modify, batchUpdateContacts with fresh etags, batchDeleteContacts."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from rgsync.model import ContactItem, Create, Delete, Update, Write, WriteResult
from rgsync.providers.base import ItemError
from rgsync.providers.google.api import chunks
from rgsync.providers.google.people.group import ContactGroup
from rgsync.providers.google.people.person import PERSON_FIELD, PERSON_FIELDS, clean_entry

CREATE_LIMIT = 200
UPDATE_LIMIT = 200
DELETE_LIMIT = 500
GET_LIMIT = 200


class ContactWriting(ContactGroup):
    """Creates, updates and deletes of contacts in the group (SPEC §6.2)."""

    def apply(self, writes: Sequence[Write], results: list[WriteResult | None]) -> None:
        """Carry out `writes` in batched calls sent one after the other, filling `results`."""
        creates = [n for n, w in enumerate(writes) if isinstance(w, Create) and results[n] is None]
        updates = [n for n, w in enumerate(writes) if isinstance(w, Update) and results[n] is None]
        deletes = [n for n, w in enumerate(writes) if isinstance(w, Delete) and results[n] is None]
        for group in chunks(creates, CREATE_LIMIT):
            self._create(writes, list(group), results)
        for group in chunks(updates, UPDATE_LIMIT):
            self._update(writes, list(group), results)
        for group in chunks(deletes, DELETE_LIMIT):
            self._delete(writes, list(group), results)

    def _create(self, writes: Sequence[Write], indexes: list[int], results: list[WriteResult | None]) -> None:
        good: list[int] = []
        for n in indexes:
            record = writes[n].record  # type: ignore[union-attr]
            if isinstance(record, ContactItem):
                good.append(n)
            else:
                results[n] = WriteResult(
                    ok=False,
                    error_code="MAIL-REFUSED",
                    message=f"cannot create {type(record).__name__} as a contact",
                )
        if not good:
            return
        contacts = [{"contactPerson": self.body_for(writes[n].record)} for n in good]  # type: ignore[union-attr, arg-type]
        request = self._people.batchCreateContacts(body={"contacts": contacts, "readMask": "metadata"})
        try:
            response = self.api.execute(request, "creating contacts")
        except ItemError as exc:
            if len(good) == 1:
                results[good[0]] = WriteResult(
                    ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message
                )
                return
            # The whole batch was refused for one bad contact: send them one by one to find it.
            for n in good:
                self._create(writes, [n], results)
            return
        created = response.get("createdPeople", [])
        outcome: dict[int, WriteResult] = {}
        for n, entry in zip(good, created, strict=False):
            person = entry.get("person") or {}
            status = entry.get("status") or {}
            if person.get("resourceName") and not status.get("code"):
                outcome[n] = WriteResult(ok=True, id=str(person["resourceName"]))
            else:
                outcome[n] = WriteResult(
                    ok=False, error_code="MAIL-REFUSED", message=str(status.get("message") or "not created")
                )
        # A create counts as done only once the contact is in the group: should adding it fail,
        # the contact is found by its tag and put there when the session tries again.
        self.add_to_group([r.id for r in outcome.values() if r.ok and r.id])
        for n, result in outcome.items():
            results[n] = result

    def _current(self, names: Sequence[str]) -> dict[str, dict[str, Any]]:
        """Fresh copies (with etags) of contacts by resource name; missing ones are left out."""
        request = self._people.getBatchGet(resourceNames=list(names), personFields=PERSON_FIELDS)
        response = self.api.execute(request, "the contacts to change")
        out: dict[str, dict[str, Any]] = {}
        for entry in response.get("responses", []):
            person = entry.get("person")
            if person and person.get("resourceName"):
                out[str(entry.get("requestedResourceName") or person["resourceName"])] = dict(person)
        return out

    def _update(
        self,
        writes: Sequence[Write],
        indexes: list[int],
        results: list[WriteResult | None],
        *,
        again: bool = True,
    ) -> None:
        current = self._current([writes[n].id for n in indexes])  # type: ignore[union-attr]
        contacts: dict[str, dict[str, Any]] = {}
        fields: set[str] = set()
        for n in indexes:
            write = writes[n]
            assert isinstance(write, Update)
            person = current.get(write.id)
            if person is None:
                results[n] = WriteResult(ok=False, error_code="MAIL-NOT-FOUND", message="contact not found")
                continue
            fields |= {PERSON_FIELD[k] for k in write.changes if k in PERSON_FIELD}
        if not fields:
            for n in indexes:
                results[n] = results[n] or WriteResult(ok=True, id=writes[n].id)  # type: ignore[union-attr]
            return
        live = [n for n in indexes if results[n] is None]
        for n in live:
            write = writes[n]
            assert isinstance(write, Update)
            person = current[write.id]
            # One mask serves the whole batch, so every contact sends every masked field in full.
            merged = self.merge(person, write.changes)
            body: dict[str, Any] = {"etag": person.get("etag"), "resourceName": write.id}
            for field in fields:
                body[field] = merged.get(field, [clean_entry(e) for e in person.get(field) or []])
            contacts[write.id] = body
        request = self._people.batchUpdateContacts(
            body={"contacts": contacts, "updateMask": ",".join(sorted(fields)), "readMask": "metadata"}
        )
        try:
            response = self.api.execute(request, "changing contacts")
        except ItemError as exc:
            if exc.code == "MAIL-CONFLICT" and again:
                # Changed meanwhile (etag mismatch): read them again and retry once.
                self._update(writes, live, results, again=False)
                return
            if len(live) > 1:
                for n in live:
                    self._update(writes, [n], results, again=again)
                return
            results[live[0]] = WriteResult(
                ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message
            )
            return
        updated = response.get("updateResult") or {}
        for n in live:
            name = writes[n].id  # type: ignore[union-attr]
            status = (updated.get(name) or {}).get("status") or {}
            if status.get("code"):
                results[n] = WriteResult(
                    ok=False, error_code="MAIL-REFUSED", message=str(status.get("message") or "not changed")
                )
            else:
                results[n] = WriteResult(ok=True, id=name)

    def _delete(self, writes: Sequence[Write], indexes: list[int], results: list[WriteResult | None]) -> None:
        names = [writes[n].id for n in indexes]  # type: ignore[union-attr]
        try:
            self.api.execute(
                self._people.batchDeleteContacts(body={"resourceNames": names}), "deleting contacts"
            )
        except ItemError as exc:
            if len(indexes) == 1:
                gone = exc.code in ("MAIL-NOT-FOUND", "MAIL-GONE")
                results[indexes[0]] = (
                    WriteResult(ok=True, id=names[0])
                    if gone
                    else WriteResult(ok=False, error_code=exc.code or "MAIL-REFUSED", message=exc.message)
                )
                return
            # One contact already gone spoils the batch: delete them one by one.
            for n in indexes:
                self._delete(writes, [n], results)
            return
        for n, name in zip(indexes, names, strict=True):
            results[n] = WriteResult(ok=True, id=name)
