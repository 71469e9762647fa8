"""What every part of the mapping shares: the org's shape, field limits, value conversions, and
the people an activity relates to.

* Activities relate to one Lead or up to 50 Contacts (Shared Activities): when both kinds are
  given, the Contacts win; with several Leads only the first is kept. Without Shared Activities
  only WhoId (the first person) is written.
* rgsync's own external-id field (a custom External ID field named `rgsync_Key__c`, see
  `RGSYNC_KEY_FIELD`) carries the natural key of records rgsync created. Where it exists, a record
  carrying it is `created_by_rgsync`; where it does not, nothing on a record says who made it, so
  the session relies on its links (an Event it created is linked, hence never down-synced).
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, tzinfo
from typing import Any

RGSYNC_KEY_FIELD = "rgsync_Key__c"
KEY_FIELD_NAMES = frozenset({"rgsync_key__c", "rgsync__key__c"})
TRUNCATION_MARKER = "\n[… truncated by rgsync]"
TASK_SUBJECT_MAX = 255
TASK_DESCRIPTION_MAX = 32_000
EMAIL_SUBJECT_MAX = 3_000
EMAIL_BODY_MAX = 131_072
EMAIL_ADDRESSES_MAX = 4_000
MESSAGE_ID_MAX = 255
THREAD_ID_MAX = 765
KEY_MAX = 255
MAX_WHO = 50
CONTACT_PREFIX = "003"
LEAD_PREFIX = "00Q"
USER_PREFIX = "005"


@dataclass(frozen=True)
class OrgShape:
    """What the mapping needs to know about the org: Shared Activities, rgsync's key fields, time zone."""

    shared_activities: bool = True
    key_fields: Mapping[str, str] = field(default_factory=dict)  # sObject → rgsync's external-id field
    time_zone: tzinfo = UTC

    def key_field(self, sobject: str) -> str | None:
        """rgsync's external-id field on `sobject`, when the org has one."""
        return self.key_fields.get(sobject)


# --- values ----------------------------------------------------------------------------------------


def parse_datetime(value: object) -> datetime | None:
    """A Salesforce dateTime ('2024-05-01T09:30:00.000+0000') as an aware UTC datetime."""
    if not isinstance(value, str) or not value:
        return None
    text = value.strip().replace("Z", "+0000")
    for pattern in ("%Y-%m-%dT%H:%M:%S.%f%z", "%Y-%m-%dT%H:%M:%S%z"):
        try:
            return datetime.strptime(text.replace("+00:00", "+0000"), pattern).astimezone(UTC)
        except ValueError:
            continue
    return None


def parse_date(value: object) -> date | None:
    """A Salesforce date ('2024-05-01') as a date (None when empty or malformed)."""
    if not isinstance(value, str) or not value:
        return None
    try:
        return date.fromisoformat(value[:10])
    except ValueError:
        return None


def sf_datetime(value: datetime) -> str:
    """An aware datetime as Salesforce writes it (UTC, milliseconds)."""
    return value.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.000+0000")


def fit(text: str, limit: int) -> str:
    """`text` cut to `limit` characters, ending with the truncation marker when cut."""
    if len(text) <= limit:
        return text
    return text[: limit - len(TRUNCATION_MARKER)] + TRUNCATION_MARKER


# XML 1.0 forbids these characters, and Salesforce keeps its data in a form that must be valid XML:
# it refuses a record holding one. Tab, line feed and carriage return are allowed and kept.
_XML_FORBIDDEN = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff]")
# A lone surrogate is no character at all (raw 8-bit bytes a parser could not decode end up as one).
_LONE_SURROGATE = re.compile(r"[\ud800-\udfff]")
_NOT_STORABLE = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ufffe\uffff\ud800-\udfff]")


def salesforce_text(text: str) -> str:
    """`text` as Salesforce can store it: everything kept word for word (right-to-left marks,
    zero-width characters, emoji) except the control characters XML forbids, which are dropped,
    and lone surrogates, which become U+FFFD."""
    if not _NOT_STORABLE.search(text):
        return text  # nearly every value: one scan instead of two
    if _XML_FORBIDDEN.search(text):
        text = _XML_FORBIDDEN.sub("", text)
    if _LONE_SURROGATE.search(text):
        text = _LONE_SURROGATE.sub("\ufffd", text)
    return text


def salesforce_fields(record: Mapping[str, Any]) -> dict[str, Any]:
    """A record to send with every text value (also inside nested records and lists) passed
    through `salesforce_text`; other values unchanged."""

    def clean(value: Any) -> Any:
        if isinstance(value, str):
            return salesforce_text(value)
        if isinstance(value, Mapping):
            return {k: clean(v) for k, v in value.items()}
        if isinstance(value, list):
            return [clean(v) for v in value]
        return value

    return {key: clean(value) for key, value in record.items()}


def key_value(natural_key: str) -> str:
    """The value of rgsync's external-id field for a natural key (hashed when longer than 255)."""
    if len(natural_key) <= KEY_MAX:
        return natural_key
    return "sha256:" + hashlib.sha256(natural_key.encode("utf-8")).hexdigest()


def id_list(values: object) -> list[str]:
    return [str(v) for v in values] if isinstance(values, list | tuple) else []


def who_list(who_ids: Sequence[str]) -> list[str]:
    """The people an activity can relate to: one Lead, or up to 50 Contacts (Contacts win)."""
    unique = list(dict.fromkeys(w for w in who_ids if w))
    contacts = [w for w in unique if not w.startswith(LEAD_PREFIX)]
    if contacts:
        return contacts[:MAX_WHO]
    return unique[:1]


def who_fields(
    who_ids: Sequence[str], list_field: str, shape: OrgShape, *, update: bool = False
) -> dict[str, Any]:
    """WhoId / TaskWhoIds / EventWhoIds for a set of people.

    With Shared Activities several people go through the junction list (its first id becomes
    WhoId); an update always sends the list, so people removed in the mailbox are removed too.
    """
    people = who_list(who_ids)
    if shape.shared_activities and (len(people) > 1 or update):
        return {list_field: people}
    if people:
        return {"WhoId": people[0]}
    return {"WhoId": None} if update else {}
