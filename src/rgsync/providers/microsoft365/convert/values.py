"""The small pieces every Graph conversion uses: instants, dateTimeTimeZone values and zones,
bodies as text, recipients as addresses, and the origin tag (`TAG_PROPERTY`)."""

from __future__ import annotations

import re
from collections.abc import Mapping
from datetime import UTC, date, datetime
from typing import Any
from zoneinfo import ZoneInfo

from rgsync import timezones
from rgsync.model import Address
from rgsync.providers.text import html_to_text

TAG_PROPERTY = "String {0f5e8a3c-7d21-4b9e-a6c4-52d1e8b7f903} Name rgsync-salesforce-id"


def parse_instant(value: object) -> datetime | None:
    """A DateTimeOffset ('2026-11-28T11:00:00Z', up to 7 fraction digits) as aware UTC; None if absent."""
    if not value:
        return None
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value).strip()).replace("Z", "+00:00")
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    return (moment if moment.tzinfo else moment.replace(tzinfo=UTC)).astimezone(UTC)


def find_zone(name: str) -> ZoneInfo | None:
    """An IANA zone or a Windows zone id (Outlook reports either), None when it cannot be mapped."""
    return timezones.find_zone(name)


def parse_date_time_zone(value: Mapping[str, Any] | None) -> tuple[datetime | None, str]:
    """A dateTimeTimeZone as aware UTC, plus the zone name when it could not be mapped."""
    if not value or not value.get("dateTime"):
        return None, ""
    text = re.sub(r"(\.\d{6})\d+", r"\1", str(value["dateTime"])).rstrip("Z")
    try:
        local = datetime.fromisoformat(text)
    except ValueError:
        return None, ""
    zone_name = str(value.get("timeZone") or "UTC")
    found = find_zone(zone_name)
    if found is None:
        return local.replace(tzinfo=UTC), zone_name
    return local.replace(tzinfo=found).astimezone(UTC), ""


def local_date(value: Mapping[str, Any] | None) -> date | None:
    """The calendar date written in a dateTimeTimeZone (all-day items and To Do due dates float)."""
    if not value or not value.get("dateTime"):
        return None
    try:
        return date.fromisoformat(str(value["dateTime"])[:10])
    except ValueError:
        return None


def date_time_zone(moment: datetime, zone_name: str) -> dict[str, str]:
    """An aware datetime as a dateTimeTimeZone in `zone_name`."""
    zone = find_zone(zone_name) or ZoneInfo("UTC")
    local = moment.astimezone(zone).replace(tzinfo=None)
    return {
        "dateTime": local.strftime("%Y-%m-%dT%H:%M:%S"),
        "timeZone": zone_name if find_zone(zone_name) else "UTC",
    }


def body_text(body: Mapping[str, Any] | None) -> str:
    """The text of an itemBody, HTML turned into plain text."""
    if not body:
        return ""
    content = str(body.get("content") or "")
    return html_to_text(content) if str(body.get("contentType", "")).lower() == "html" else content


def address_of(recipient: Mapping[str, Any] | None) -> Address | None:
    box = (recipient or {}).get("emailAddress") or {}
    email = str(box.get("address") or "").strip().lower()
    if not email:
        return None
    name = str(box.get("name") or "")
    return Address(email, "" if name.lower() == email else name)


def addresses_of(recipients: Any) -> tuple[Address, ...]:
    found = [address_of(r) for r in recipients or [] if isinstance(r, Mapping)]
    return tuple(a for a in found if a is not None)


def tag_of(resource: Mapping[str, Any]) -> str | None:
    """The Salesforce Id in an expanded `singleValueExtendedProperties`, if the tag is there."""
    for prop in resource.get("singleValueExtendedProperties") or []:
        if str(prop.get("id", "")).lower() == TAG_PROPERTY.lower():
            return str(prop.get("value") or "") or None
    return None
