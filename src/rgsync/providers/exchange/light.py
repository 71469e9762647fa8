"""Lean readings of EWS answers about emails: SyncFolderItems changes as `ListedEmail`s and
GetItem answers as `FetchedEmail`s, in place of exchangelib's Message.

exchangelib builds a Message from every field its class and each registered extended property
knows, present in the answer or not, one attribute at a time: for a listing or a page of emails
that was most of the adapter's CPU. Here only the fields asked for are read, each by exchangelib's
own field parser, so the values are those a Message would hold — but addresses and headers, read
as small records with the same attributes. Anything else (calendar items, tasks, contacts,
read-flag changes) keeps exchangelib's items.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, NamedTuple

from exchangelib import Message
from exchangelib.fields import (
    ExtendedPropertyField,
    MailboxField,
    MailboxListField,
    MessageHeaderField,
)
from exchangelib.services import GetItem, SyncFolderItems
from exchangelib.util import TNS


@dataclass(frozen=True)
class ListedEmail:
    """An email as an email folder's SyncFolderItems page lists it: what reads look at before
    GetItem (the page's additional fields are at most `LISTED_FIELDS`)."""

    id: str
    changekey: str | None = None
    datetime_received: datetime | None = None
    categories: list[str] | None = None


LISTED_FIELDS = frozenset({"datetime_received", "categories"})
_ITEM_ID = f"{{{TNS}}}ItemId"
# exchangelib's own fields parse these two values, so they come out exactly as on a Message.
_RECEIVED = Message.get_field_by_fieldname("datetime_received")
_CATEGORIES = Message.get_field_by_fieldname("categories")


class ListEmails(SyncFolderItems):  # type: ignore[misc]
    """SyncFolderItems of an email folder whose changes are `ListedEmail`s.

    exchangelib builds a whole Message per change (every field of the class set, one attribute
    at a time), most of a listing's CPU although a listing needs an id, a ChangeKey, the received
    time and the categories; GetItem reads the rest.
    """

    def _elem_to_obj(self, elem: Any) -> Any:
        change_type = self.change_types_map[elem.tag]
        if change_type == self.READ_FLAG_CHANGE:
            return super()._elem_to_obj(elem)
        if change_type == self.DELETE:
            found = elem.find(_ITEM_ID)
            return change_type, ListedEmail(id=found.get("Id"), changekey=found.get("ChangeKey"))
        item = elem[0]
        found = item.find(_ITEM_ID)
        return change_type, ListedEmail(
            id=found.get("Id"),
            changekey=found.get("ChangeKey"),
            datetime_received=_RECEIVED.from_xml(item, self.account),
            categories=_CATEGORIES.from_xml(item, self.account),
        )


def message_field(name: str) -> Any:
    """The exchangelib field of Message with this name."""
    return Message.get_field_by_fieldname(name)


_FIELD_URI = f"{{{TNS}}}ExtendedFieldURI"
# (property class, the ExtendedFieldURI's attributes) -> whether they name that property.
_NAMES_PROPERTY: dict[tuple[Any, tuple[tuple[str, str], ...]], bool] = {}


def _extended_value(field: Any, elem: Any, account: Any) -> Any:
    """What `ExtendedPropertyField.from_xml` returns, without matching each property's URI anew.

    exchangelib rebuilds and normalises both definitions for every property of every item; the
    answer depends only on the URI element's attributes, so it is kept per attribute set.
    """
    cls = field.value_cls
    for prop in elem.findall(cls.response_tag()):
        uri = prop.find(_FIELD_URI)
        if uri is None:
            matches = cls.is_property_instance(prop)
        else:
            key = (cls, tuple(sorted(uri.attrib.items())))
            matches = _NAMES_PROPERTY.get(key)
            if matches is None:
                if len(_NAMES_PROPERTY) > 1000:
                    _NAMES_PROPERTY.clear()  # a server naming endless properties: memory stays flat
                matches = _NAMES_PROPERTY[key] = cls.is_property_instance(prop)
        if matches:
            return cls.from_xml(elem=prop, account=account)
    return field.default


class LeanMailbox(NamedTuple):
    """An address of an email: the two values of exchangelib's Mailbox that rgsync reads."""

    name: str | None
    email_address: str | None


class LeanHeader(NamedTuple):
    """One InternetMessageHeader, as exchangelib's MessageHeader holds it."""

    name: str | None
    value: str | None


_MAILBOX = f"{{{TNS}}}Mailbox"
_NAME = f"{{{TNS}}}Name"
_EMAIL_ADDRESS = f"{{{TNS}}}EmailAddress"
_HEADER = f"{{{TNS}}}InternetMessageHeader"


def _mailbox(elem: Any) -> LeanMailbox:
    # As exchangelib's text fields: a missing or empty element is None.
    name, email = elem.find(_NAME), elem.find(_EMAIL_ADDRESS)
    return LeanMailbox(
        None if name is None else name.text or None, None if email is None else email.text or None
    )


Reader = Callable[[Any, Any], Any]  # (item element, account) -> the field's value


def _reader(field: Any) -> Reader:
    """How one asked field is read, chosen once per field: addresses and headers as lean records
    (exchangelib builds a validated object per address and per header, the bulk of reading an
    email), extended properties matched once per name, anything else by exchangelib's field."""
    tag = field.response_tag() if hasattr(field, "response_tag") else ""

    def plain(elem: Any, account: Any) -> Any:
        return field.from_xml(elem=elem, account=account)

    def extended(elem: Any, account: Any) -> Any:
        return _extended_value(field, elem, account)

    def headers(elem: Any, account: Any) -> Any:
        found = elem.find(tag)
        if found is None:
            return field.default
        return [LeanHeader(h.get("HeaderName") or None, h.text) for h in found.iterfind(_HEADER)]

    def mailboxes(elem: Any, account: Any) -> Any:
        found = elem.find(tag)
        if found is None:
            return field.default
        return [_mailbox(box) for box in found.iterfind(_MAILBOX)]

    def mailbox(elem: Any, account: Any) -> Any:
        found = elem.find(tag)
        box = None if found is None else found.find(_MAILBOX)
        if box is None:
            return plain(elem, account)  # absent, or not the usual shape: as exchangelib
        return _mailbox(box)

    if isinstance(field, ExtendedPropertyField):
        return extended
    if isinstance(field, MessageHeaderField):
        return headers
    if isinstance(field, MailboxListField):
        return mailboxes
    if isinstance(field, MailboxField) and field.field_uri is not None:
        return mailbox
    return plain


class FetchedEmail:
    """An email as GetItem returned it: `id`, `changekey` and each field asked for, as an
    attribute holding exchangelib's own value for it (HTMLBody, EWSDateTime, …) — addresses as
    `LeanMailbox` and headers as `LeanHeader`, with the attributes exchangelib's objects have."""

    def __init__(self, item_id: str | None, changekey: str | None, values: dict[str, Any]) -> None:
        self.__dict__.update(values)
        self.id = item_id
        self.changekey = changekey

    def __repr__(self) -> str:
        return f"FetchedEmail(id={self.id!r})"


class GetEmails(GetItem):  # type: ignore[misc]
    """GetItem of emails whose answers are `FetchedEmail`s with the fields asked for.

    exchangelib's Message is built from every field its class (and each registered extended
    property) knows, present or not: GetItem of a page of emails spent most of its CPU looking
    for fields nobody asked for. Each asked field is parsed by exchangelib's own field, so the
    values are those a Message would hold, whatever the item's type (meeting request, report…).
    """

    def __init__(self, *args: Any, fields: Sequence[Any], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.readers = [(f.name, _reader(f)) for f in fields]

    def _elem_to_obj(self, elem: Any) -> FetchedEmail:
        found = elem.find(_ITEM_ID)
        values = {name: read(elem, self.account) for name, read in self.readers}
        Message._clear(elem)  # as exchangelib does: the answer's tree shrinks as it is read
        return FetchedEmail(
            None if found is None else found.get("Id"),
            None if found is None else found.get("ChangeKey"),
            values,
        )
