"""Replication (getUpdated / getDeleted): which records changed or were deleted in a window,
how far back the org answers, and purging the recycle bin.
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta

from ..errors import RequestError
from ..values import _iso
from .state import OrgState

UPDATED_WINDOW = timedelta(days=30)
DELETED_WINDOW = timedelta(days=15)


class Replication(OrgState):
    """getUpdated / getDeleted over the org's rows and delete log."""

    def updated_ids(self, object_name: str, start: datetime, end: datetime) -> tuple[list[str], datetime]:
        """getUpdated: Ids of live records whose SystemModstamp is in [start, end) (seconds
        dropped), and latestDateCovered. Refuses windows older than 30 days."""
        with self.lock:
            obj = self.object_type(object_name)
            start, end, latest = self._window(start, end, UPDATED_WINDOW)
            found = [
                r["Id"]
                for r in self._by_type[obj.name].values()
                if not r["IsDeleted"] and start <= r["SystemModstamp"] < latest
            ]
            return found, latest

    def deleted_records(
        self, object_name: str, start: datetime, end: datetime
    ) -> tuple[list[tuple[str, datetime]], datetime, datetime]:
        """getDeleted: (Id, deletedDate) pairs in [start, end), earliestDateAvailable and
        latestDateCovered. Refuses windows older than 15 days or before the purge mark."""
        with self.lock:
            obj = self.object_type(object_name)
            start, end, latest = self._window(start, end, DELETED_WINDOW)
            earliest = self._earliest_deleted.get(obj.name, self._now() - DELETED_WINDOW)
            earliest = max(earliest, self._now() - DELETED_WINDOW).replace(second=0, microsecond=0)
            if earliest > end:
                raise RequestError(
                    "INVALID_REPLICATION_DATE",
                    f"earliestDateAvailable {_iso(earliest)} is after the end date: the delete log was purged; replicate again",
                )
            found = [
                (rid, when)
                for kind, rid, when in self._delete_log
                if kind == obj.name and start <= when < latest and self._rows[rid]["IsDeleted"]
            ]
            return found, earliest, latest

    def purge_deleted(self, object_name: str | None = None, *, before: datetime | None = None) -> int:
        """Empty the recycle bin (of one object, or all) for deletions before `before` (default now).
        Purged records vanish from queryAll and getDeleted, and earliestDateAvailable moves up."""
        with self.lock:
            cutoff = before or self._now()
            names = [self.object_type(object_name).name] if object_name else list(self.objects)
            purged = 0
            kept: list[tuple[str, str, datetime]] = []
            for kind, rid, when in self._delete_log:
                if kind in names and when < cutoff:
                    self._rows.pop(rid, None)
                    self._by_type[kind].pop(rid, None)
                    purged += 1
                else:
                    kept.append((kind, rid, when))
            self._delete_log = kept
            for name in names:
                self._earliest_deleted[name] = max(self._earliest_deleted.get(name, cutoff), cutoff)
            return purged

    def _window(
        self, start: datetime, end: datetime, reach: timedelta
    ) -> tuple[datetime, datetime, datetime]:
        start = start.astimezone(UTC).replace(second=0, microsecond=0)
        end = end.astimezone(UTC).replace(second=0, microsecond=0)
        now = self._now()
        if start >= end:
            raise RequestError("INVALID_REPLICATION_DATE", "startDate must chronologically precede endDate")
        if start < (now - reach).replace(hour=0, minute=0, second=0, microsecond=0):
            raise RequestError(
                "INVALID_REPLICATION_DATE",
                f"startDate cannot be more than {reach.days} days ago",
            )
        latest = min(end, now.replace(second=0, microsecond=0))
        return start, end, latest
