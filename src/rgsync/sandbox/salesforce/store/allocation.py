"""The daily API request allocation: every REST call is charged; a spent allocation refuses calls."""

from __future__ import annotations

from ..errors import RequestError
from .state import OrgState


class ApiAllocation(OrgState):
    """Counts API calls against `api_limit` (DailyApiRequests)."""

    def count_api_call(self) -> None:
        """Charge one call to the daily allocation; REQUEST_LIMIT_EXCEEDED (403) when it is spent."""
        with self.lock:
            if self.api_used >= self.api_limit:
                raise RequestError("REQUEST_LIMIT_EXCEEDED", "TotalRequests Limit exceeded.", status=403)
            self.api_used += 1

    def set_allocation(self, used: int, limit: int | None = None) -> None:
        """Set the calls used so far today (and optionally the daily limit)."""
        with self.lock:
            self.api_used = used
            if limit is not None:
                self.api_limit = limit
