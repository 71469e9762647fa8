"""When an item Salesforce refuses for good is tried again (SPEC §7.7): a back-off schedule.

A validation rule, a required field or a duplicate rule refuses the same record every time until
someone changes the item or the org, so sending it again each session only spends calls. Such an
item is held back after each refusal — 1 hour, then 6 hours, then 24 hours, then once a day — and
tried again when that time has come, or at once when the item itself changed in the mailbox (its
fingerprint differs from the one recorded at the refusal). Its issue stays open the whole time.

Pure rules, no I/O: the session keeps `model.HeldBack` rows in the state store and asks these functions.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from datetime import datetime, timedelta

from rgsync.model import EmailItem, HeldBack

# Salesforce refusals that a resend cannot cure by itself (the adapters' codes, SPEC §8).
PERMANENT_CODES = frozenset(
    {
        "SF-VALIDATION",
        "SF-REQUIRED-FIELD",
        "SF-DUPLICATE",
        "SF-STRING_TOO_LONG",
        "SF-INVALID_EMAIL_ADDRESS",
        "SF-FIELD_INTEGRITY_EXCEPTION",
        "SF-INVALID_FIELD_FOR_INSERT_UPDATE",
    }
)
SCHEDULE = (timedelta(hours=1), timedelta(hours=6), timedelta(hours=24))
THEN_EVERY = timedelta(days=1)


def is_permanent(code: str) -> bool:
    """Whether a refusal with this code is worth holding back (see the module docstring)."""
    return code in PERMANENT_CODES


def delay(attempts: int) -> timedelta:
    """The wait after the `attempts`-th refusal in a row (1 h, 6 h, 24 h, then daily)."""
    if attempts < 1:
        return timedelta(0)
    return SCHEDULE[attempts - 1] if attempts <= len(SCHEDULE) else THEN_EVERY


def after_refusal(previous: HeldBack | None, now: datetime, fingerprint: str, code: str) -> HeldBack:
    """The hold after one more refusal; a changed item starts the schedule again."""
    attempts = 1
    if previous is not None and previous.fingerprint == fingerprint:
        attempts = previous.attempts + 1
    return HeldBack(attempts, now + delay(attempts), fingerprint, code)


def holds_back(entry: HeldBack | None, now: datetime, fingerprint: str) -> bool:
    """Whether the item is still waiting: its time has not come and it has not changed."""
    return entry is not None and now < entry.next_attempt and entry.fingerprint == fingerprint


def is_due(entry: HeldBack, now: datetime) -> bool:
    """Whether a held-back item's next attempt has come (the session then reads it again)."""
    return now >= entry.next_attempt


def email_fingerprint(email: EmailItem, own_labels: Collection[str]) -> str:
    """What about an email can change in the mailbox and make it worth another try: its folder,
    subject, recipients and the labels/categories the user gave it. The labels rgsync sets itself
    (the save and sync-error marks) are left out, so its own marking is not a change."""
    own = {label.strip().casefold() for label in own_labels}
    labels = sorted(label for label in email.labels if label.strip().casefold() not in own)
    parts = [
        email.folder.value,
        email.subject,
        ",".join(a.email for a in email.participants),
        "\x1f".join(labels),
        str(len(email.text_body) + len(email.html_body)),
    ]
    return hashlib.sha256("\x1e".join(parts).encode("utf-8", "surrogatepass")).hexdigest()[:32]
