"""The part of Gmail's search language (`q`) the emulator understands.

Operators: after:/before: (epoch seconds, or a yyyy/mm/dd date taken as midnight Pacific time as the
Gmail API does), older_than:/newer_than: (Nd, Nm, Ny), in:, label:, is:, from:, to:, cc:, subject:,
rfc822msgid:, has:attachment, a leading '-' to negate, and bare words (matched in subject, sender
and body). Anything else is treated as a bare word, which usually matches nothing, as in Gmail.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

# "All dates used in the search query are interpreted as midnight on that date in the PST timezone."
GMAIL_QUERY_ZONE = ZoneInfo("America/Los_Angeles")

IN_LABELS = {
    "inbox": "INBOX",
    "sent": "SENT",
    "spam": "SPAM",
    "trash": "TRASH",
    "drafts": "DRAFT",
    "draft": "DRAFT",
    "starred": "STARRED",
    "important": "IMPORTANT",
    "chats": "CHAT",
    "unread": "UNREAD",
}


@dataclass(frozen=True)
class Term:
    """One search term: an operator ('' for a bare word), its value and whether it is negated."""

    operator: str
    value: str
    negated: bool = False


@dataclass(frozen=True)
class Candidate:
    """What a term is tested against for one message."""

    label_ids: frozenset[str]
    label_names: frozenset[str]  # normalised names of the message's labels (system ids lower-cased)
    internal_date_ms: int
    subject: str
    senders: tuple[str, ...]
    recipients: tuple[str, ...]
    copied: tuple[str, ...]
    message_id: str
    text: str
    has_attachment: bool


def normalise_label_name(name: str) -> str:
    """Gmail's search spelling of a label name: lower case, spaces and slashes as '-'."""
    return re.sub(r"[\s/]+", "-", name.strip().lower())


def tokenize(query: str) -> list[Term]:
    """Split a query into terms, honouring double quotes."""
    terms: list[Term] = []
    for match in re.finditer(r'(-?)(?:(\w+):)?("([^"]*)"|\S+)', query):
        negated, operator, whole, quoted = match.groups()
        value = quoted if quoted is not None else whole
        if operator is None and value.upper() in ("AND", "OR"):
            continue  # 'a OR b' is read as 'a b': a narrower, still-correct subset for tests
        terms.append(Term((operator or "").lower(), value, bool(negated)))
    return terms


def wants_spam_or_trash(terms: list[Term]) -> bool:
    """Whether the query itself asks for spam or trash (then they are not excluded by default)."""
    for term in terms:
        if term.negated:
            continue
        if term.operator == "in" and term.value.lower() in ("spam", "trash", "anywhere"):
            return True
        if term.operator == "label" and term.value.lower() in ("spam", "trash"):
            return True
    return False


def _moment_ms(value: str, now: datetime) -> int | None:
    if value.isdigit():
        return int(value) * 1000
    found = re.fullmatch(r"(\d{4})[/-](\d{1,2})[/-](\d{1,2})", value)
    if found is None:
        return None
    year, month, day = (int(x) for x in found.groups())
    try:
        midnight = datetime(year, month, day, tzinfo=GMAIL_QUERY_ZONE)
    except ValueError:
        return None
    return int(midnight.timestamp() * 1000)


def _age_ms(value: str, now: datetime) -> int | None:
    found = re.fullmatch(r"(\d+)([dmy])", value.lower())
    if found is None:
        return None
    amount, unit = int(found.group(1)), found.group(2)
    days = {"d": 1, "m": 30, "y": 365}[unit] * amount
    return int((now - timedelta(days=days)).timestamp() * 1000)


def _contains(values: tuple[str, ...], needle: str) -> bool:
    needle = needle.lower()
    return any(needle in value for value in values)


def compile_query(query: str, now: datetime) -> Callable[[Candidate], bool]:
    """A predicate testing messages against `query` (all terms must hold)."""
    terms = tokenize(query)

    def holds(term: Term, item: Candidate) -> bool:
        operator, value = term.operator, term.value
        lowered = value.lower()
        if operator in ("after", "before"):
            moment = _moment_ms(value, now)
            if moment is None:
                return False
            return item.internal_date_ms >= moment if operator == "after" else item.internal_date_ms < moment
        if operator in ("newer_than", "older_than"):
            moment = _age_ms(value, now)
            if moment is None:
                return False
            return (
                item.internal_date_ms >= moment
                if operator == "newer_than"
                else item.internal_date_ms < moment
            )
        if operator == "in":
            if lowered == "anywhere":
                return True
            wanted = IN_LABELS.get(lowered)
            return wanted is not None and wanted in item.label_ids
        if operator == "label":
            return normalise_label_name(value) in item.label_names
        if operator == "is":
            if lowered == "read":
                return "UNREAD" not in item.label_ids
            wanted = IN_LABELS.get(lowered)
            return wanted is not None and wanted in item.label_ids
        if operator == "from":
            return _contains(item.senders, value)
        if operator == "to":
            return _contains(item.recipients, value)
        if operator == "cc":
            return _contains(item.copied, value)
        if operator == "subject":
            return lowered in item.subject.lower()
        if operator == "rfc822msgid":
            return value.strip("<>").lower() == item.message_id.strip("<>").lower()
        if operator == "has":
            return lowered == "attachment" and item.has_attachment
        word = f"{operator}:{value}" if operator else value
        haystack = " ".join((item.subject, *item.senders, item.text)).lower()
        return word.lower() in haystack

    def predicate(item: Candidate) -> bool:
        return all(holds(term, item) != term.negated for term in terms)

    return predicate
