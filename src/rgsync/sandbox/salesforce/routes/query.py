"""query / queryAll: runs SOQL and pages the rows (Sforce-Query-Options batchSize) through
cursors that nextRecordsUrl reads until they expire.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from rgsync.sandbox.http import Request, Response

from .. import ids, soql
from .common import RouteGroup, _error

DEFAULT_BATCH = 2000
MIN_BATCH = 200
MAX_BATCH = 2000
CURSOR_LIFETIME = timedelta(days=2)


@dataclass
class _Cursor:
    records: list[dict[str, Any]]
    batch: int
    created: datetime


class QueryRoutes(RouteGroup):
    """query/, queryAll/ and query/{locator}-{offset}."""

    cursors: dict[str, _Cursor]
    _cursor_count: int

    def _query(self, request: Request, version: str, everything: bool) -> Response:
        text = request.param("q")
        if text is None:
            return _error(400, "MALFORMED_QUERY", "A query string has to be specified")
        result = soql.run(self.org, text, include_deleted=everything, version=version)
        batch = _batch_size(request.header("sforce-query-options"))
        if len(result.records) <= batch:
            return Response(200, {"totalSize": result.total_size, "done": True, "records": result.records})
        self._cursor_count += 1
        locator = ids.mint("01g", self._cursor_count)
        self.cursors[locator] = _Cursor(result.records, batch, self.org.clock())
        return Response(200, self._page(locator, 0, version))

    def _page(self, locator: str, offset: int, version: str) -> dict[str, Any]:
        cursor = self.cursors[locator]
        records = cursor.records[offset : offset + cursor.batch]
        end = offset + len(records)
        page: dict[str, Any] = {
            "totalSize": len(cursor.records),
            "done": end >= len(cursor.records),
            "records": records,
        }
        if not page["done"]:
            page["nextRecordsUrl"] = f"/services/data/v{version}/query/{locator}-{end}"
        return page

    def _query_more(self, token: str, version: str) -> Response:
        locator, _, offset_text = token.partition("-")
        cursor = self.cursors.get(locator)
        if cursor is not None and self.org.clock() - cursor.created > CURSOR_LIFETIME:
            del self.cursors[locator]
            cursor = None
        if cursor is None or not offset_text.isdigit() or int(offset_text) > len(cursor.records):
            return _error(400, "INVALID_QUERY_LOCATOR", "invalid query locator")
        return Response(200, self._page(locator, int(offset_text), version))


def _batch_size(header: str) -> int:
    match = re.search(r"batchSize\s*=\s*(\d+)", header or "", re.IGNORECASE)
    if not match:
        return DEFAULT_BATCH
    return max(MIN_BATCH, min(MAX_BATCH, int(match.group(1))))
