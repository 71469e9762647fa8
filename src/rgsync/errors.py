"""Errors that reach the user as one line, each with its exit code (SPEC §8).

Anything raised as an `RgsyncError` is printed as its message (no traceback unless `-v`) and the
process exits with `exit_code`. Other exceptions are bugs: they print a one-line summary plus a
hint to rerun with `-v`, and exit 1.
"""

from __future__ import annotations

EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_LOCKED = 75


def printable(text: str) -> str:
    """`text` with every character a terminal would act on (line breaks, escapes, bidi overrides,
    zero-width marks) written as its escape, so a message stays one honest line whatever it quotes."""
    if text.isprintable():
        return text
    return "".join(ch if ch.isprintable() else ascii(ch)[1:-1] for ch in text)


class RgsyncError(Exception):
    """A problem the user can act on; `message` names the thing and the fix.

    The message is one line: whatever it quotes (a path, a value) has its invisible characters
    written as escapes.
    """

    exit_code = EXIT_FAILED

    def __init__(self, message: str) -> None:
        message = printable(message)
        super().__init__(message)
        self.message = message


class UsageError(RgsyncError):
    """Bad command-line input or settings: exit 2."""

    exit_code = EXIT_USAGE


class LockHeldError(RgsyncError):
    """Another rgsync run holds the profile's lock: exit 75."""

    exit_code = EXIT_LOCKED


def is_disk_failure(exc: BaseException) -> bool:
    """True for SQLite's full-disk and I/O errors: the disk failed, the database is not damaged."""
    text = str(exc).lower()
    return "disk is full" in text or "i/o error" in text


def state_store_failure(exc: Exception, folder: object = None) -> str:
    """One line for a state store that could not be read or written during a run (exit 1).

    `folder` is where the state lives, named in the advice when known.
    """
    # SQLite rolls a transaction back by itself on SQLITE_FULL / SQLITE_IOERR, so the store's own
    # rollback then fails ("no such savepoint"): the cause the user can act on is further down.
    first: BaseException = exc
    cause: BaseException | None = exc
    while cause is not None:
        if any(word in str(cause).lower() for word in ("full", "i/o", "disk")):
            first = cause
            break
        cause = cause.__cause__ or cause.__context__
    text = printable(str(first) or type(first).__name__)
    where = f" ({folder})" if folder is not None else ""
    if "full" in text.lower():
        fix = f"free some space on the disk that holds rgsync's state{where} and run again"
    else:
        fix = f"check the disk that holds rgsync's state{where}, then run again"
    return f"the state store could not be written ({text}); {fix}; nothing is lost, the next run carries on"
