"""The Salesforce side's sync position for one stream, as an opaque string the session stores.

A cursor holds:

* `mark`: the high-water SystemModstamp of what was read (None after an empty full listing: the
  next read lists the scope again, which is as cheap as the empty listing was);
* `seen`: Id → SystemModstamp of the records read within `OVERLAP` of the mark. The next query
  asks from `mark − OVERLAP` so that a record saved in the same second, or committed a little
  after a later one, is not missed; the ones already read are skipped by this map;
* `deleted_from`: where the next getDeleted call starts (its last latestDateCovered), and
  `clock_offset`: the server's clock minus the local clock (from the HTTP Date header), so the
  next call can end at the server's "now" without asking for it first;
* `scope`: what the listing covered (user, contacts scope or list view); a change of scope makes
  the cursor invalid, so the next read is a full listing;
* `view_filter` / `view_scope`: the WHERE condition and USING SCOPE of the contacts list view,
  resolved once at the full listing so an idle session does not spend calls on it;
* `window_end`: the calendar window's end at the last read; Events that entered the window since
  (by time passing, not by an edit) are listed once;
* `listed_at`: when the scope was last listed whole. A record the user can no longer read (it was
  handed to a colleague under a private sharing model) shows in no delta query, so the scope is
  listed again once it is `RELIST_AFTER` old, and what the listing misses leaves the mailbox.

getDeleted only reaches 15 days back: an older `deleted_from` means the cursor expired (SPEC §7.6).
"""

from __future__ import annotations

import base64
import json
from dataclasses import dataclass, field, replace
from datetime import UTC, datetime, timedelta

from rgsync.providers.salesforce.mapping import parse_datetime

PREFIX = "sf1:"
OVERLAP = timedelta(seconds=60)
DELETED_REACH = timedelta(days=15)
# Keep a margin: a cursor this close to the getDeleted limit is treated as expired locally.
EXPIRY = DELETED_REACH - timedelta(hours=1)
MAX_SEEN = 5000
RELIST_AFTER = timedelta(days=1)


def _iso(value: datetime | None) -> str | None:
    return value.astimezone(UTC).isoformat() if value else None


def _parse(value: object) -> datetime | None:
    if not isinstance(value, str) or not value:
        return None
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


@dataclass(frozen=True)
class StreamCursor:
    """One stream's position (see the module docstring)."""

    scope: str
    mark: datetime | None = None
    seen: dict[str, str] = field(default_factory=dict)
    deleted_from: datetime | None = None
    clock_offset: float = 0.0
    view_filter: str = ""
    view_scope: str = ""
    window_end: datetime | None = None
    listed_at: datetime | None = None

    def encode(self) -> str:
        """The opaque string stored by the session."""
        payload = {
            "k": self.scope,
            "m": _iso(self.mark),
            "s": self.seen,
            "d": _iso(self.deleted_from),
            "o": round(self.clock_offset, 3),
            "vf": self.view_filter,
            "vs": self.view_scope,
            "w": _iso(self.window_end),
            "l": _iso(self.listed_at),
        }
        raw = json.dumps(payload, separators=(",", ":"), sort_keys=True).encode("utf-8")
        return PREFIX + base64.urlsafe_b64encode(raw).decode("ascii")

    @classmethod
    def decode(cls, text: str | None) -> StreamCursor | None:
        """The cursor in `text`; None for no cursor or one this version cannot read."""
        if not text or not text.startswith(PREFIX):
            return None
        try:
            payload = json.loads(base64.urlsafe_b64decode(text[len(PREFIX) :].encode("ascii")))
        except (ValueError, UnicodeDecodeError):
            return None
        if not isinstance(payload, dict) or not isinstance(payload.get("k"), str):
            return None
        raw_seen = payload.get("s")
        seen: dict[object, object] = raw_seen if isinstance(raw_seen, dict) else {}
        return cls(
            scope=payload["k"],
            mark=_parse(payload.get("m")),
            seen={str(k): str(v) for k, v in seen.items()},
            deleted_from=_parse(payload.get("d")),
            clock_offset=float(payload.get("o") or 0.0) if isinstance(payload.get("o"), int | float) else 0.0,
            view_filter=str(payload.get("vf") or ""),
            view_scope=str(payload.get("vs") or ""),
            window_end=_parse(payload.get("w")),
            listed_at=_parse(payload.get("l")),
        )

    def server_now(self, local_now: datetime) -> datetime:
        """The server's clock, estimated from the local clock and the last known offset."""
        return local_now + timedelta(seconds=self.clock_offset)

    def expired(self, local_now: datetime) -> bool:
        """True when getDeleted can no longer cover the time since this cursor (SPEC §7.6)."""
        return self.deleted_from is None or self.server_now(local_now) - self.deleted_from > EXPIRY

    def relist_due(self, local_now: datetime) -> bool:
        """True when the scope was last listed whole `RELIST_AFTER` ago or more (or never)."""
        return self.listed_at is None or local_now - self.listed_at >= RELIST_AFTER

    def query_from(self) -> datetime | None:
        """Where the next delta query starts (the mark minus the overlap)."""
        return self.mark - OVERLAP if self.mark else None

    def already_read(self, record_id: str, modstamp: str) -> bool:
        """True when this version of the record was read before (inside the overlap)."""
        return self.seen.get(record_id) == modstamp


def advance(
    previous: StreamCursor,
    rows: list[tuple[str, datetime, str]],
    *,
    deleted_from: datetime | None,
    clock_offset: float | None,
    window_end: datetime | None,
    listed_at: datetime | None = None,
) -> StreamCursor:
    """The cursor after reading `rows` = (Id, SystemModstamp, raw SystemModstamp) and getDeleted."""
    mark = previous.mark
    for _rid, stamp, _raw in rows:
        if mark is None or stamp > mark:
            mark = stamp
    seen: dict[str, str] = {}
    if mark is not None:
        floor = mark - OVERLAP
        kept = {rid: raw for rid, raw in previous.seen.items() if (parse_datetime(raw) or floor) >= floor}
        kept.update({rid: raw for rid, stamp, raw in rows if stamp >= floor})
        if len(kept) > MAX_SEEN:
            # A mass update: keep at least the records at the mark itself (the same-second case).
            kept = {rid: raw for rid, raw in kept.items() if parse_datetime(raw) == mark}
        seen = kept
    return replace(
        previous,
        mark=mark,
        seen=seen,
        deleted_from=deleted_from if deleted_from is not None else previous.deleted_from,
        clock_offset=clock_offset if clock_offset is not None else previous.clock_offset,
        window_end=window_end if window_end is not None else previous.window_end,
        listed_at=listed_at if listed_at is not None else previous.listed_at,
    )
