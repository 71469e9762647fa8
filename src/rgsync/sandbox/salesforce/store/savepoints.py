"""allOrNone: savepoints that record the old values of every row written since, so a failed
request can be rolled back as a whole.
"""

from __future__ import annotations

from .state import OrgState, _Journal


class Savepoints(OrgState):
    """Nested savepoints over the journalled row store (`OrgState._store`)."""

    def savepoint(self) -> int:
        """Start recording changes so `rollback` can undo them; returns the savepoint's depth."""
        with self.lock:
            self._journals.append(_Journal(delete_log_size=[len(self._delete_log)]))
            return len(self._journals)

    def release(self, mark: int) -> None:
        """Keep the changes since savepoint `mark` (folding them into an outer savepoint)."""
        with self.lock:
            journal = self._journals.pop()
            if len(self._journals) + 1 != mark:
                raise RuntimeError("savepoints released out of order")
            if self._journals:
                self._journals[-1].entries.extend(journal.entries)

    def rollback(self, mark: int) -> None:
        """Undo every change since savepoint `mark` and drop the savepoint."""
        with self.lock:
            journal = self._journals.pop()
            if len(self._journals) + 1 != mark:
                raise RuntimeError("savepoints rolled back out of order")
            for record_id, old in reversed(journal.entries):
                kind = self.type_of(record_id) or ""
                if old is None:
                    self._rows.pop(record_id, None)
                    self._by_type.get(kind, {}).pop(record_id, None)
                else:
                    self._rows[record_id] = old
                    self._by_type[kind][record_id] = old
                    # An index built after `old` was replaced never saw its values.
                    self._index_row(kind, record_id, old)
            del self._delete_log[journal.delete_log_size[0] :]
