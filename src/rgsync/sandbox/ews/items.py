"""Items as EWS shows and changes them: response shapes, restrictions, updates, normalisation.

* `Shape` is an ItemShape (BaseShape + AdditionalProperties): IdOnly returns only the ids and the
  properties asked for; Default/AllProperties return what is stored, but never extended properties
  that were not asked for and never MimeContent unless IncludeMimeContent is set — as Exchange.
* `matches` evaluates a Restriction (And/Or/Not, IsEqualTo …, Exists, Contains) on FieldURI,
  IndexedFieldURI and ExtendedFieldURI paths.
* `apply_updates` carries out SetItemField / AppendToItemField / DeleteItemField; `normalise`
  fills in and checks what Exchange derives (Organizer, UID, task status and percentage, …).

Calendar views and occurrences are in `views`.
"""

from __future__ import annotations

import copy
import itertools
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from lxml import etree

from .builders import html_to_text
from .recurrence import read_pattern
from .soap import format_bool, format_datetime, local, parse_datetime, sub, t
from .store import EwsError, EwsState, StoredItem, extended_key

INDEXED_CONTAINERS = {
    "contacts:EmailAddress": "EmailAddresses",
    "contacts:PhoneNumber": "PhoneNumbers",
    "contacts:ImAddress": "ImAddresses",
    "contacts:PhysicalAddress": "PhysicalAddresses",
}
# Properties Exchange computes; a client setting them gets ErrorInvalidPropertySet.
READ_ONLY = {
    "IsMeeting",
    "MyResponseType",
    "Organizer",
    "CalendarItemType",
    "DateTimeCreated",
    "LastModifiedTime",
    "Size",
    "IsRecurring",
    "ConversationId",
    "IsComplete",
}


def prop_for_uri(uri: str) -> str:
    """The property (element) name a FieldURI stands for: 'calendar:Start' -> 'Start'."""
    return uri.partition(":")[2]


@dataclass
class Shape:
    """An ItemShape: base shape, additional properties, body type, MIME."""

    base: str = "IdOnly"
    fields: set[str] = field(default_factory=set)
    indexed: dict[str, set[str]] = field(default_factory=dict)
    extended: list[tuple[str, str]] = field(default_factory=list)
    mime: bool = False
    body_type: str = "Best"
    # What `wants` answered so far: a page of items asks the same few dozen names again and again.
    _answers: dict[str, bool] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def parse(cls, elem: Any) -> Shape:
        """Read an `m:ItemShape` (None gives IdOnly)."""
        shape = cls()
        if elem is None:
            return shape
        for child in elem:
            name = local(child.tag)
            if name == "BaseShape":
                shape.base = (child.text or "IdOnly").strip()
            elif name == "IncludeMimeContent":
                shape.mime = (child.text or "").strip().lower() in ("true", "1")
            elif name == "BodyType":
                shape.body_type = (child.text or "Best").strip()
            elif name == "AdditionalProperties":
                for uri in child:
                    kind = local(uri.tag)
                    if kind == "FieldURI":
                        shape.fields.add(prop_for_uri(uri.get("FieldURI", "")))
                    elif kind == "IndexedFieldURI":
                        base_uri = ":".join(uri.get("FieldURI", "").split(":")[:2])
                        container = INDEXED_CONTAINERS.get(base_uri, prop_for_uri(base_uri))
                        shape.indexed.setdefault(container, set()).add(uri.get("FieldIndex", ""))
                    elif kind == "ExtendedFieldURI":
                        shape.extended.append(extended_key(uri))
        if "MimeContent" in shape.fields:
            shape.mime = True
        return shape

    def wants(self, name: str) -> bool:
        """Whether a property belongs in the response for this shape."""
        answer = self._answers.get(name)
        if answer is None:
            answer = self._answers[name] = self._wants(name)
        return answer

    def _wants(self, name: str) -> bool:
        if name == "MimeContent":
            return self.mime
        if name in self.fields or name in self.indexed:
            return True
        # Exchange leaves these out of AllProperties; they must be asked for by name.
        if name in ("TextBody", "UniqueBody", "InternetMessageHeaders"):
            return False
        return self.base in ("Default", "AllProperties")


def render(item: StoredItem, shape: Shape, state: EwsState, *, ids_only: bool = False) -> Any:
    """The `t:{Tag}` element of an item as `shape` asks for it."""
    elem = etree.Element(t(item.tag))
    sub(elem, t("ItemId"), Id=item.id, ChangeKey=item.changekey)
    if ids_only:
        return elem
    if shape.wants("ParentFolderId"):
        folder = state.folders.get(item.folder_id)
        if folder is not None:
            sub(elem, t("ParentFolderId"), Id=folder.id, ChangeKey=folder.changekey)
    # Stored properties first, then what Exchange derives (only the derived ones the shape asks
    # for are built: a plain-text copy of every HTML body is not made for each item listed).
    props: Any = itertools.chain(item.props.items(), computed(item, shape.wants).items())
    for name, value in props:
        if name in ("ItemId", "ParentFolderId") or not shape.wants(name):
            continue
        if name in shape.indexed and name not in shape.fields and shape.base == "IdOnly":
            value = _indexed_subset(value, shape.indexed[name])
        value = copy.deepcopy(value)
        if name == "Body" and shape.body_type == "Text" and value.get("BodyType") == "HTML":
            value.text = html_to_text(value.text or "")
            value.set("BodyType", "Text")
        elem.append(value)
    for key in shape.extended:
        if key in item.extended:
            elem.append(copy.deepcopy(item.extended[key]))
        elif key[0] == "InternetHeaders":
            header = internet_header(item, key[1])
            if header is not None:
                elem.append(_header_property(key[1], header))
    return elem


def internet_header(item: StoredItem, name: str) -> str | None:
    """A header of a delivered message (the InternetHeaders property set reads them by name)."""
    headers = item.props.get("InternetMessageHeaders")
    wanted = name.lower()
    for header in headers if headers is not None else ():
        if (header.get("HeaderName") or "").lower() == wanted:
            return header.text or ""
    return None


def _header_property(name: str, value: str) -> Any:
    prop = etree.Element(t("ExtendedProperty"))
    sub(
        prop,
        t("ExtendedFieldURI"),
        DistinguishedPropertySetId="InternetHeaders",
        PropertyName=name,
        PropertyType="String",
    )
    sub(prop, t("Value"), value)
    return prop


def _indexed_subset(container: Any, keys: set[str]) -> Any:
    out = etree.Element(container.tag)
    for entry in container:
        if entry.get("Key") in keys:
            out.append(copy.deepcopy(entry))
    return out


def computed(item: StoredItem, wanted: Callable[[str], bool] | None = None) -> dict[str, Any]:
    """Properties Exchange derives from the stored ones (TextBody, IsMeeting, CalendarItemType …)
    and that are not stored themselves; with `wanted`, only those it accepts."""
    out: dict[str, Any] = {}
    body = item.props.get("Body")
    if body is not None and "TextBody" not in item.props and (wanted is None or wanted("TextBody")):
        text_body = etree.Element(t("TextBody"), BodyType="Text")
        raw = body.text or ""
        text_body.text = html_to_text(raw) if body.get("BodyType") == "HTML" else raw
        out["TextBody"] = text_body
    if item.tag == "CalendarItem":
        attendees = [
            a for name in ("RequiredAttendees", "OptionalAttendees") for a in item.props.get(name, [])
        ]
        out["IsMeeting"] = _text("IsMeeting", format_bool(bool(attendees)))
        out["IsRecurring"] = _text("IsRecurring", format_bool(item.is_recurring_master))
        out["CalendarItemType"] = _text(
            "CalendarItemType", "RecurringMaster" if item.is_recurring_master else "Single"
        )
    if item.tag == "Task":
        out["IsComplete"] = _text("IsComplete", format_bool(item.text("Status") == "Completed"))
    return {name: value for name, value in out.items() if name not in item.props}


def working_copy(item: StoredItem) -> StoredItem:
    """A copy of `item` to change and then keep or drop, sharing the property elements.

    Copying every element (the MIME content, the body, every header) for each UpdateItem was most
    of its cost; `apply_updates` and `normalise` instead replace an element with its own copy
    before they edit it in place (`_own`), so the shared elements of `item` never change.
    """
    return StoredItem(
        item.id,
        item.folder_id,
        item.tag,
        dict(item.props),
        dict(item.extended),
        item.version,
        item.exceptions,
        item.deleted_occurrences,
    )


def _own(item: StoredItem, name: str) -> Any:
    """The element of property `name`, first replaced by a private copy (see `working_copy`)."""
    elem = copy.deepcopy(item.props[name])
    item.props[name] = elem
    return elem


def _text(name: str, value: str) -> Any:
    elem = etree.Element(t(name))
    elem.text = value
    return elem


# --- restrictions ---------------------------------------------------------------------------------------


def values_of(item: StoredItem, path: Any) -> list[str]:
    """The values a property path has on an item (several for Categories and indexed entries)."""
    kind = local(path.tag)
    if kind == "ExtendedFieldURI":
        key = extended_key(path)
        prop = item.extended.get(key)
        if prop is None and key[0] == "InternetHeaders":
            header = internet_header(item, key[1])
            return [] if header is None else [header]
        if prop is None:
            return []
        return [(v.text or "") for v in prop if local(v.tag) in ("Value", "Values")]
    if kind == "IndexedFieldURI":
        base_uri = ":".join(path.get("FieldURI", "").split(":")[:2])
        container = item.props.get(INDEXED_CONTAINERS.get(base_uri, ""))
        if container is None:
            return []
        return [(e.text or "") for e in container if e.get("Key") == path.get("FieldIndex")]
    name = prop_for_uri(path.get("FieldURI", ""))
    if name == "ItemId":
        return [item.id]
    prop = item.props.get(name)
    if prop is None:
        prop = computed(item).get(name)
    if prop is None:
        return []
    if len(prop) and local(prop[0].tag) == "String":
        return [(s.text or "") for s in prop]
    if len(prop) and local(prop[0].tag) == "Mailbox":
        return [(e.text or "") for e in prop.iter(t("EmailAddress"))]
    return [prop.text or ""]


def _compare(left: str, right: str) -> int:
    try:
        a, b = parse_datetime(left), parse_datetime(right)
    except ValueError:
        try:
            x, y = float(left), float(right)
        except ValueError:
            x, y = left.lower(), right.lower()  # type: ignore[assignment]
        return (x > y) - (x < y)
    return (a > b) - (a < b)


COMPARISONS = {
    "IsEqualTo": lambda c: c == 0,
    "IsNotEqualTo": lambda c: c != 0,
    "IsGreaterThan": lambda c: c > 0,
    "IsGreaterThanOrEqualTo": lambda c: c >= 0,
    "IsLessThan": lambda c: c < 0,
    "IsLessThanOrEqualTo": lambda c: c <= 0,
}


def matches(item: StoredItem, expression: Any) -> bool:
    """Whether an item satisfies one restriction expression element."""
    kind = local(expression.tag)
    if kind == "Restriction":
        return all(matches(item, child) for child in expression)
    if kind == "And":
        return all(matches(item, child) for child in expression)
    if kind == "Or":
        return any(matches(item, child) for child in expression)
    if kind == "Not":
        return not matches(item, expression[0])
    if kind == "Exists":
        return bool(values_of(item, expression[0]))
    if kind == "Contains":
        wanted = (expression.find(t("Constant")).get("Value") or "").lower()
        return any(wanted in v.lower() for v in values_of(item, expression[0]))
    if kind in COMPARISONS:
        path, operand = expression[0], expression[1]
        constant = operand.find(t("Constant"))
        if constant is None:
            raise EwsError("ErrorUnsupportedPathForQuery", "Only constants can be compared to.")
        right = constant.get("Value") or ""
        found = values_of(item, path)
        if kind == "IsNotEqualTo":
            return all(_compare(v, right) != 0 for v in found)
        return any(COMPARISONS[kind](_compare(v, right)) for v in found)
    raise EwsError("ErrorUnsupportedQueryFilter", f"The restriction {kind} is not supported.")


# --- updates -----------------------------------------------------------------------------------------------


def apply_updates(item: StoredItem, updates: Any) -> None:
    """Carry out an `t:Updates` element on a stored item (raises EwsError on a bad update)."""
    for update in updates:
        kind = local(update.tag)
        path = update[0]
        path_kind = local(path.tag)
        if kind == "DeleteItemField":
            _delete_field(item, path)
            continue
        carrier = update[1] if len(update) > 1 else None
        if carrier is None or len(carrier) == 0:
            raise EwsError("ErrorIncorrectUpdatePropertyCount", "An update must carry exactly one property.")
        value = copy.deepcopy(carrier[0])
        name = local(value.tag)
        if path_kind == "ExtendedFieldURI":
            item.extended[extended_key(path)] = value
            continue
        if name in READ_ONLY:
            raise EwsError("ErrorInvalidPropertySet", f"The property {name} is read-only.")
        if path_kind == "IndexedFieldURI":
            _merge_indexed(item, name, value)
            continue
        if kind == "AppendToItemField" and name in item.props:
            _append(_own(item, name), value)
            continue
        item.props[name] = value


def _delete_field(item: StoredItem, path: Any) -> None:
    path_kind = local(path.tag)
    if path_kind == "ExtendedFieldURI":
        item.extended.pop(extended_key(path), None)
        return
    if path_kind == "IndexedFieldURI":
        parts = path.get("FieldURI", "").split(":")
        container_name = INDEXED_CONTAINERS.get(":".join(parts[:2]), "")
        if item.props.get(container_name) is None:
            return
        container = _own(item, container_name)
        for entry in list(container):
            if entry.get("Key") != path.get("FieldIndex"):
                continue
            if len(parts) > 2:  # one part of a postal address
                for part in entry.findall(t(parts[2])):
                    entry.remove(part)
                if len(entry) == 0:
                    container.remove(entry)
            else:
                container.remove(entry)
        return
    name = prop_for_uri(path.get("FieldURI", ""))
    if name in READ_ONLY:
        raise EwsError("ErrorInvalidPropertyDelete", f"The property {name} cannot be deleted.")
    item.props.pop(name, None)


def _merge_indexed(item: StoredItem, container_name: str, value: Any) -> None:
    container = _own(item, container_name) if container_name in item.props else None
    if container is None:
        container = etree.Element(t(container_name))
        item.props[container_name] = container
    for entry in value:
        existing = next((e for e in container if e.get("Key") == entry.get("Key")), None)
        if existing is None:
            container.append(copy.deepcopy(entry))
        elif len(entry):  # a postal address: merge its parts
            for part in entry:
                for old in existing.findall(part.tag):
                    existing.remove(old)
                existing.append(copy.deepcopy(part))
        else:
            existing.text = entry.text


def _append(target: Any, value: Any) -> None:
    if len(value):
        for child in value:
            target.append(copy.deepcopy(child))
    else:
        target.text = (target.text or "") + (value.text or "")


# --- normalising what clients write ----------------------------------------------------------------------


def normalise(item: StoredItem, owner: str, owner_name: str) -> None:
    """Fill in and check what Exchange derives when an item is created or changed."""
    if item.tag == "CalendarItem":
        for name in ("Start", "End"):
            value = item.text(name)
            if value:
                item.set_text(name, format_datetime(parse_datetime(value)))
        start, end = item.datetime_of("Start"), item.datetime_of("End")
        if start is None or end is None:
            raise EwsError("ErrorCalendarInvalidPropertyValue", "A calendar item needs both Start and End.")
        if end < start:
            raise EwsError(
                "ErrorCalendarEndDateIsEarlierThanStartDate", "The end date occurs before the start date."
            )
        if "Organizer" not in item.props:
            organizer = etree.Element(t("Organizer"))
            box = sub(organizer, t("Mailbox"))
            sub(box, t("Name"), owner_name)
            sub(box, t("EmailAddress"), owner)
            sub(box, t("RoutingType"), "SMTP")
            item.props["Organizer"] = organizer
        item.props.setdefault("MyResponseType", _text("MyResponseType", "Organizer"))
        item.props.setdefault("IsCancelled", _text("IsCancelled", "false"))
        item.props.setdefault("IsAllDayEvent", _text("IsAllDayEvent", "false"))
        item.props.setdefault("LegacyFreeBusyStatus", _text("LegacyFreeBusyStatus", "Busy"))
        if "UID" not in item.props:
            item.set_text("UID", "040000008200E00074C5B7101A82E008" + item.id.encode().hex()[-32:].upper())
        for name in ("RequiredAttendees", "OptionalAttendees"):
            if any(a.find(t("ResponseType")) is None for a in item.props.get(name, [])):
                for attendee in _own(item, name):
                    if attendee.find(t("ResponseType")) is None:
                        sub(attendee, t("ResponseType"), "Unknown")
        if item.is_recurring_master:
            read_pattern(item.props["Recurrence"])  # refuse patterns the sandbox cannot expand
    elif item.tag == "Task":
        status = item.text("Status") or "NotStarted"
        percent = item.text("PercentComplete")
        if percent and float(percent) >= 100 and status != "Completed":
            status = "Completed"
        item.set_text("Status", status)
        if status == "Completed":
            item.set_text("PercentComplete", "100")
            item.props.setdefault("CompleteDate", _text("CompleteDate", format_datetime(datetime.now(UTC))))
        else:
            if percent and float(percent) >= 100:
                item.set_text("PercentComplete", "0")
            item.props.pop("CompleteDate", None)
            item.props.setdefault("PercentComplete", _text("PercentComplete", "0"))
    elif item.tag == "Contact":
        if "DisplayName" not in item.props:
            name = " ".join(v for v in (item.text("GivenName"), item.text("Surname")) if v)
            item.set_text("DisplayName", name or item.text("CompanyName"))
        item.props.setdefault("FileAs", _text("FileAs", item.text("DisplayName")))
