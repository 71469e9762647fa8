"""What Salesforce refuses, as exceptions: `SalesforceError` with the HTTP status it answers, and
its two kinds, `RecordError` (this record only) and `RequestError` (the whole request).

Each carries `ErrorDetail`s that render as a REST error body or as a SaveResult's errors.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class ErrorDetail:
    """One Salesforce error: code (e.g. REQUIRED_FIELD_MISSING), message, fields."""

    code: str
    message: str
    fields: tuple[str, ...] = ()

    def as_top_level(self) -> dict[str, Any]:
        """The shape of a REST error body entry: message, errorCode, fields."""
        return {"message": self.message, "errorCode": self.code, "fields": list(self.fields)}

    def as_record_error(self) -> dict[str, Any]:
        """The shape of an error inside a SaveResult/DeleteResult: statusCode, message, fields."""
        return {"statusCode": self.code, "message": self.message, "fields": list(self.fields)}


class SalesforceError(Exception):
    """Something Salesforce refuses, with the HTTP status it would answer."""

    def __init__(
        self, code: str, message: str, fields: tuple[str, ...] | list[str] = (), *, status: int = 400
    ) -> None:
        super().__init__(f"{code}: {message}")
        self.status = status
        self.errors = [ErrorDetail(code, message, tuple(fields))]

    @property
    def code(self) -> str:
        return self.errors[0].code

    def body(self) -> list[dict[str, Any]]:
        """The REST error body `[{"message", "errorCode", "fields"}]`."""
        return [e.as_top_level() for e in self.errors]


class RecordError(SalesforceError):
    """This record can't be saved; other records in the same call are not affected."""


class RequestError(SalesforceError):
    """The request as a whole is refused (unreadable JSON, unknown object, a limit)."""
