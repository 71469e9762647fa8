"""Build stored item properties from what tests and scenario files say (plain dicts; raw MIME is
read in `mime`).

These are the emulator's set-up paths: the user receiving an email, creating a meeting, a task or
a contact in Outlook. They produce the same elements a client would send in CreateItem, plus the
properties Exchange fills in itself (Organizer, MyResponseType, UID, InternetMessageHeaders, …).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterable, Mapping
from datetime import UTC, date, datetime, time
from typing import Any

from inscriptis import Inscriptis
from inscriptis.css_profiles import CSS_PROFILES
from inscriptis.model.config import ParserConfig
from lxml import etree
from lxml import html as lxml_html

from .recurrence import recurrence_element, zone
from .soap import format_bool, format_datetime, sub, t
from .store import extended_key

Props = dict[str, Any]
Extended = dict[tuple[str, str], Any]

RESPONSE_TYPES = {
    "organizer": "Organizer",
    "accepted": "Accept",
    "accept": "Accept",
    "tentative": "Tentative",
    "declined": "Decline",
    "decline": "Decline",
    "none": "NoResponseReceived",
    "unanswered": "NoResponseReceived",
    "needs-action": "NoResponseReceived",
    "unknown": "Unknown",
}
PROPERTY_SET = "PublicStrings"


def text(name: str, value: object) -> Any:
    """A simple property element."""
    elem = etree.Element(t(name))
    if isinstance(value, bool):
        elem.text = format_bool(value)
    elif isinstance(value, datetime):
        elem.text = format_datetime(value)
    elif isinstance(value, date):
        elem.text = format_datetime(datetime.combine(value, time(0), tzinfo=UTC))
    else:
        elem.text = str(value)
    return elem


def strings(name: str, values: Iterable[str]) -> Any:
    """An ArrayOfStrings property such as Categories."""
    elem = etree.Element(t(name))
    for value in values:
        sub(elem, t("String"), str(value))
    return elem


def body(value: str, body_type: str = "Text") -> Any:
    """A Body element of the given BodyType."""
    elem = etree.Element(t("Body"))
    elem.set("BodyType", body_type)
    elem.text = value
    return elem


def mailbox(parent: Any, email: str, name: str = "") -> Any:
    """Append a t:Mailbox (SMTP) to `parent`; returns it."""
    box = sub(parent, t("Mailbox"))
    if name:
        sub(box, t("Name"), name)
    sub(box, t("EmailAddress"), email)
    sub(box, t("RoutingType"), "SMTP")
    sub(box, t("MailboxType"), "Mailbox")
    return box


def single_mailbox(name: str, email: str, display: str = "") -> Any:
    """A property holding one mailbox (From, Sender, Organizer)."""
    elem = etree.Element(t(name))
    mailbox(elem, email, display)
    return elem


def recipients(name: str, addresses: Iterable[tuple[str, str]]) -> Any:
    """A recipients property (ToRecipients, …) from (display name, address) pairs."""
    elem = etree.Element(t(name))
    for display, email in addresses:
        mailbox(elem, email, display)
    return elem


def extended_property(name: str, value: str, property_type: str = "String") -> tuple[tuple[str, str], Any]:
    """A named PublicStrings extended property (what rgsync tags Salesforce-origin items with)."""
    elem = etree.Element(t("ExtendedProperty"))
    uri = sub(elem, t("ExtendedFieldURI"))
    uri.set("DistinguishedPropertySetId", PROPERTY_SET)
    uri.set("PropertyName", name)
    uri.set("PropertyType", property_type)
    sub(elem, t("Value"), value)
    return extended_key(uri), elem


def extended_map(values: Mapping[str, object] | None) -> Extended:
    """Named PublicStrings extended properties from {name: value}."""
    out: Extended = {}
    for name, value in (values or {}).items():
        key, elem = extended_property(name, str(value))
        out[key] = elem
    return out


def html_to_text(markup: str) -> str:
    """A plain-text rendering of an HTML body (what TextBody holds).

    Exchange renders the HTML as a browser would: comments, conditional comments, scripts and
    styles leave no text, table cells stay apart, a non-breaking space reads as a space, and a
    link to a web or mail address is written `text<target>`.
    """
    if not markup.strip():
        return ""
    parser = lxml_html.HTMLParser(remove_comments=True, remove_pis=True)
    root = etree.fromstring(re.sub(r"^\s*<\?xml[^>]*\?>", "", markup, count=1), parser)
    if root is None:
        return ""
    for hidden in list(root.iter("script", "style", "head", "title")):
        hidden.drop_tree()
    for link in root.iter("a"):
        target = (link.get("href") or "").strip()
        if target.lower().startswith(("http:", "https:", "mailto:")) and link.text_content().strip():
            if len(link):
                link[-1].tail = f"{link[-1].tail or ''}<{target}>"
            else:
                link.text = f"{link.text or ''}<{target}>"
    text = Inscriptis(root, ParserConfig(css=CSS_PROFILES["strict"])).get_text()
    lines = [line.rstrip() for line in text.replace("\xa0", " ").splitlines()]
    return re.sub(r"\n{3,}", "\n\n", "\n".join(lines)).strip()


# --- calendar items -------------------------------------------------------------------------------------


def _person(value: object) -> tuple[str, str, str]:
    """(email, name, response) from 'x@y' or {"email", "name", "response"}."""
    if isinstance(value, Mapping):
        return (
            str(value.get("email", "")).lower(),
            str(value.get("name", "")),
            RESPONSE_TYPES.get(str(value.get("response", "unknown")).lower(), str(value.get("response"))),
        )
    return str(value).lower(), "", "Unknown"


def _attendees(name: str, people: Iterable[object]) -> Any:
    elem = etree.Element(t(name))
    for person in people:
        email, display, response = _person(person)
        attendee = sub(elem, t("Attendee"))
        mailbox(attendee, email, display)
        sub(attendee, t("ResponseType"), response)
    return elem


def calendar_props(spec: Mapping[str, Any], *, owner: str, owner_name: str, creating: bool) -> Props:
    """Properties of a calendar item from a friendly spec (only the keys given, when updating).

    Keys: subject, start, end (aware datetimes, or dates with all_day), all_day, location, body,
    sensitivity (Normal/Private/…), free_busy (Busy/Free/Tentative/OOF), timezone (Windows id),
    organizer ('x@y' or {"email", "name"}), required/optional ([address or {"email", "name",
    "response"}]), my_response (organizer/accepted/tentative/declined/none), cancelled, uid,
    categories, recurrence ({"pattern", "interval", "days", "count"|"until"}).
    """
    props: Props = {}
    tz_id = str(spec.get("timezone") or "UTC")
    tz = zone(tz_id)
    all_day = bool(spec.get("all_day", False))
    for key in ("start", "end"):
        if key in spec:
            value = spec[key]
            if isinstance(value, date) and not isinstance(value, datetime):
                value = datetime.combine(value, time(0), tzinfo=tz)
            props[key.title()] = text(key.title(), value)
    if "start" in spec or "timezone" in spec or creating:
        props["StartTimeZone"] = etree.Element(t("StartTimeZone"), Id=tz_id)
        props["EndTimeZone"] = etree.Element(t("EndTimeZone"), Id=tz_id)
    simple = {
        "subject": "Subject",
        "location": "Location",
        "sensitivity": "Sensitivity",
        "free_busy": "LegacyFreeBusyStatus",
        "uid": "UID",
        "cancelled": "IsCancelled",
    }
    for key, name in simple.items():
        if key in spec:
            props[name] = text(name, spec[key])
    if "all_day" in spec or creating:
        props["IsAllDayEvent"] = text("IsAllDayEvent", all_day)
    if "body" in spec:
        props["Body"] = body(str(spec["body"]))
    if "categories" in spec:
        props["Categories"] = strings("Categories", spec["categories"])
    if "required" in spec:
        props["RequiredAttendees"] = _attendees("RequiredAttendees", spec["required"])
    if "optional" in spec:
        props["OptionalAttendees"] = _attendees("OptionalAttendees", spec["optional"])
    if "organizer" in spec or creating:
        email, display, _ = _person(spec.get("organizer") or {"email": owner, "name": owner_name})
        props["Organizer"] = single_mailbox("Organizer", email, display)
    if "my_response" in spec or creating:
        default = "organizer" if _person(spec.get("organizer") or owner)[0] == owner else "none"
        props["MyResponseType"] = text(
            "MyResponseType", RESPONSE_TYPES.get(str(spec.get("my_response", default)).lower(), "Unknown")
        )
    if spec.get("recurrence"):
        start = spec["start"]
        if isinstance(start, date) and not isinstance(start, datetime):
            start = datetime.combine(start, time(0), tzinfo=tz)
        props["Recurrence"] = recurrence_element(dict(spec["recurrence"]), start, tz)
    if creating:
        props.setdefault("Sensitivity", text("Sensitivity", "Normal"))
        props.setdefault("LegacyFreeBusyStatus", text("LegacyFreeBusyStatus", "Busy"))
        props.setdefault("IsCancelled", text("IsCancelled", False))
        props.setdefault("UID", text("UID", uuid.uuid4().hex.upper()))
    return props


# --- tasks -----------------------------------------------------------------------------------------------


def task_props(spec: Mapping[str, Any], *, creating: bool) -> Props:
    """Properties of a task. Keys: subject, due (date), status (NotStarted/InProgress/Completed/…),
    completed (bool, shorthand for status), importance (Low/Normal/High), body, percent_complete,
    categories."""
    props: Props = {}
    if "subject" in spec:
        props["Subject"] = text("Subject", spec["subject"])
    if "due" in spec:
        due = spec["due"]
        if due is not None:
            props["DueDate"] = text("DueDate", due)
    status = spec.get("status")
    if "completed" in spec:
        status = "Completed" if spec["completed"] else "NotStarted"
    if status is not None:
        props["Status"] = text("Status", status)
    elif creating:
        props["Status"] = text("Status", "NotStarted")
    if "percent_complete" in spec:
        props["PercentComplete"] = text("PercentComplete", spec["percent_complete"])
    if "importance" in spec:
        props["Importance"] = text("Importance", spec["importance"])
    elif creating:
        props["Importance"] = text("Importance", "Normal")
    if "body" in spec:
        props["Body"] = body(str(spec["body"]))
    if "categories" in spec:
        props["Categories"] = strings("Categories", spec["categories"])
    return props


# --- contacts --------------------------------------------------------------------------------------------


def contact_props(spec: Mapping[str, Any], *, creating: bool) -> Props:
    """Properties of a contact. Keys: given_name, surname, email (or emails: [..]), phones
    ({"MobilePhone": "…", "BusinessPhone": "…"}), company, job_title, department, addresses
    ({"Business": {"street", "city", "state", "postal_code", "country"}}), body, categories."""
    props: Props = {}
    simple = {
        "given_name": "GivenName",
        "surname": "Surname",
        "company": "CompanyName",
        "job_title": "JobTitle",
        "department": "Department",
        "display_name": "DisplayName",
    }
    for key, name in simple.items():
        if key in spec and spec[key] is not None:
            props[name] = text(name, spec[key])
    emails = list(spec.get("emails") or ([spec["email"]] if spec.get("email") else []))
    if emails or "email" in spec or "emails" in spec:
        container = etree.Element(t("EmailAddresses"))
        for n, email in enumerate(emails[:3], start=1):
            sub(container, t("Entry"), str(email), Key=f"EmailAddress{n}")
        props["EmailAddresses"] = container
    if "phones" in spec:
        container = etree.Element(t("PhoneNumbers"))
        for key, number in dict(spec["phones"]).items():
            sub(container, t("Entry"), str(number), Key=str(key))
        props["PhoneNumbers"] = container
    if "addresses" in spec:
        container = etree.Element(t("PhysicalAddresses"))
        parts = {
            "street": "Street",
            "city": "City",
            "state": "State",
            "country": "CountryOrRegion",
            "postal_code": "PostalCode",
        }
        for key, address in dict(spec["addresses"]).items():
            entry = sub(container, t("Entry"), Key=str(key))
            for part, name in parts.items():
                if address.get(part):
                    sub(entry, t(name), str(address[part]))
        props["PhysicalAddresses"] = container
    if "body" in spec:
        props["Body"] = body(str(spec["body"]))
    if "categories" in spec:
        props["Categories"] = strings("Categories", spec["categories"])
    if creating and "DisplayName" not in props:
        name = " ".join(
            str(spec.get(k, "")).strip() for k in ("given_name", "surname") if spec.get(k)
        ) or str(spec.get("company") or (emails[0] if emails else ""))
        props["DisplayName"] = text("DisplayName", name)
    return props
