"""Logging for the command line: what `-v` and `--debug-http` show, and secrets never shown.

Users paste `-v` output into bug reports, so:

* `-v` shows rgsync's own debug messages only. The HTTP and mail client libraries (exchangelib,
  urllib3, requests, googleapiclient, msal, simple_salesforce, …) stay at WARNING: at DEBUG they
  log request headers and bodies, which carry passwords, tokens and whole emails.
* `--debug-http` lets them log at DEBUG too, after a warning that the output holds secrets.
* Every handler rgsync installs carries `RedactingFilter`, which blanks credentials in every
  record: header values (Authorization, Cookie), token and password fields in JSON, form, query
  string and XML spellings, Salesforce session ids, and any secret rgsync itself read from or wrote
  to its credentials store (`remember_secret`).

For cron, `rgsync run` also writes a log file (`configure_file_log`): the profile's file in the
platform's user log dir, rotated by size, at INFO unless `--log-level` or the `log-level` setting
says otherwise; one line per session and one per issue opened or resolved. It carries the same
filter, and the HTTP client libraries never write to it below WARNING whatever its level.
"""

from __future__ import annotations

import io
import json
import logging
import logging.handlers
import os
import re
import sys
import threading
from pathlib import Path
from typing import TextIO

from rgsync.paths import check_folder, check_regular_file

MASK = "***"

# Client libraries whose DEBUG output holds request headers, bodies or tokens.
HTTP_LOGGERS = (
    "exchangelib",
    "urllib3",
    "requests",
    "requests_oauthlib",
    "oauthlib",
    "googleapiclient",
    "google",
    "google_auth_httplib2",
    "httplib2",
    "msal",
    "simple_salesforce",
    "zeep",
    "http.client",
    "charset_normalizer",
)

# Field names whose values are secrets, in any of the spellings below.
_SECRET_FIELDS = (
    "authorization",
    "proxy-authorization",
    "access_token",
    "accesstoken",
    "refresh_token",
    "refreshtoken",
    "id_token",
    "client_secret",
    "client_assertion",
    "assertion",
    "password",
    "passwd",
    "pwd",
    "sessionid",
    "session_id",
    "sid",
    "x-sfdc-session",
    "cookie",
    "set-cookie",
    "code_verifier",
    "private_key",
    "api_key",
    "apikey",
    "token",
)
_NAMES = "|".join(re.escape(name) for name in sorted(_SECRET_FIELDS, key=len, reverse=True))
_PATTERNS: tuple[tuple[re.Pattern[str], str], ...] = (
    # HTTP header lines and dict entries whose value runs to the end of the line or the quote:
    # "Authorization: Basic dXNlcjpwYXNz", {'Authorization': 'Bearer ey…'}, Cookie: a=b; c=d
    (
        re.compile(
            r"(?i)(\b(?:proxy-)?authorization|\b(?:set-)?cookie|\bx-sfdc-session)"
            r"""(["']?\s*[:=]\s*)(["']?)([^"'\r\n]+)"""
        ),
        rf"\1\2\3{MASK}",
    ),
    # XML elements: <sessionId>…</sessionId>, <t:Password>…</t:Password>
    (
        re.compile(rf"(?i)(<(?:[\w-]+:)?(?:{_NAMES})(?:\s[^>]*)?>)([^<]+)(</)"),
        rf"\1{MASK}\3",
    ),
    # JSON, Python reprs, form bodies and query strings: "access_token": "…", password=…&
    (
        re.compile(rf"""(?i)(["']?\b(?:{_NAMES})\b["']?\s*[:=]\s*)(["']?)([^"'&\s,;}}<>\]]+)"""),
        rf"\1\2{MASK}",
    ),
    # Tokens that give themselves away wherever they appear.
    (re.compile(r"(?i)\b(bearer|basic)\s+[A-Za-z0-9._~+/=-]{8,}"), rf"\1 {MASK}"),
    (re.compile(r"\b00D[A-Za-z0-9]{12,15}![A-Za-z0-9._-]+"), MASK),  # Salesforce session id
)

_known: set[str] = set()
_known_lock = threading.Lock()
_MIN_SECRET = 6  # shorter values would blank ordinary words, and guess nothing anyway


_SECRET_KEY = re.compile(r"(?i)token|secret|password|assertion")


def remember_secret(secret: str | None) -> None:
    """Blank `secret` wherever it appears in a log record from now on (the credentials store calls this).

    A secret stored as JSON (Google's authorised-user token, MSAL's token cache) also has each
    token, secret and password inside it remembered, since a client library logs those one by one.
    """
    if not secret or len(secret) < _MIN_SECRET:
        return
    found = {secret}
    if secret.lstrip().startswith("{"):
        try:
            document = json.loads(secret)
        except ValueError:
            document = None
        found.update(_secret_leaves(document, secret_key=False))
    with _known_lock:
        _known.update(value for value in found if len(value) >= _MIN_SECRET)


def _secret_leaves(value: object, *, secret_key: bool) -> set[str]:
    """Strings in a JSON document whose own key names a token, secret or password.

    Only the nearest key counts: MSAL files a token's public client id next to its `secret`
    under an `AccessToken` table, and that id is no secret.
    """
    if isinstance(value, dict):
        leaves: set[str] = set()
        for key, item in value.items():
            leaves |= _secret_leaves(item, secret_key=bool(_SECRET_KEY.search(str(key))))
        return leaves
    if isinstance(value, list):
        return set().union(*(_secret_leaves(item, secret_key=secret_key) for item in value))
    return {value} if secret_key and isinstance(value, str) else set()


def redact(text: str) -> str:
    """`text` with every credential the patterns recognise, and every remembered secret, blanked."""
    for pattern, replacement in _PATTERNS:
        text = pattern.sub(replacement, text)
    with _known_lock:
        known = sorted(_known, key=len, reverse=True)
    for secret in known:
        if secret in text:
            text = text.replace(secret, MASK)
    return text


class RedactingFilter(logging.Filter):
    """Blanks credentials in a record's message, exception text and stack before any handler writes it."""

    def filter(self, record: logging.LogRecord) -> bool:
        try:
            message = record.getMessage()
        except Exception:  # a broken format string: show it raw, still redacted
            message = f"{record.msg!r} {record.args!r}"
        record.msg, record.args = redact(message), None
        if record.exc_info and not record.exc_text:
            record.exc_text = logging.Formatter().formatException(record.exc_info)
        if record.exc_text:
            record.exc_text = redact(record.exc_text)
        if record.stack_info:
            record.stack_info = redact(record.stack_info)
        return True


FILE_ONLY: dict[str, object] = {"rgsync_file_only": True}
"""`extra=` for a record meant for the log file only: the command already printed what it says, and
cron mails whatever reaches stderr."""


class _StderrHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """Writes to whatever `sys.stderr` is when a record arrives (it may be swapped after set-up)."""

    def __init__(self) -> None:
        super().__init__()
        self.addFilter(lambda record: not getattr(record, "rgsync_file_only", False))

    @property
    def stream(self) -> TextIO:
        return sys.stderr

    @stream.setter
    def stream(self, _value: TextIO) -> None:
        pass


DEBUG_HTTP_WARNING = (
    "rgsync: warning: --debug-http logs HTTP requests and responses, which may hold passwords, "
    "tokens and whole emails; rgsync blanks the ones it recognises, but do not share this output"
)


def configure_logging(*, verbose: bool, debug_http: bool) -> None:
    """Install rgsync's one stderr handler (with `RedactingFilter`) and set the levels.

    Without options only warnings are shown; `verbose` adds rgsync's debug messages; `debug_http`
    adds the client libraries' debug messages (and implies `verbose`). Calling it again replaces the
    handler it installed before, so nothing is printed twice.
    """
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _StderrHandler):
            root.removeHandler(handler)
    handler = _StderrHandler()
    handler.addFilter(RedactingFilter())
    if verbose or debug_http:
        handler.setFormatter(logging.Formatter("%(asctime)s %(name)s %(levelname)s %(message)s"))
    # The handler keeps its own level: a log file at INFO must not make stderr chatty.
    handler.setLevel(logging.DEBUG if (verbose or debug_http) else logging.WARNING)
    root.addHandler(handler)
    root.setLevel(logging.DEBUG if debug_http else logging.WARNING)
    _stderr_level[0] = logging.DEBUG if (verbose or debug_http) else logging.WARNING
    _set_rgsync_level()
    for name in HTTP_LOGGERS:
        logging.getLogger(name).setLevel(logging.DEBUG if debug_http else logging.WARNING)


# ---------------------------------------------------------------------------------- the log file

LOG_LEVELS = ("off", "error", "warning", "info", "debug")
"""The levels `--log-level` and the `log-level` setting accept; `off` writes no log file."""
DEFAULT_LOG_LEVEL = "info"
LOG_MAX_BYTES = 1_000_000
LOG_BACKUPS = 3
FILE_LOG_FORMAT = "%(asctime)s %(levelname)s %(name)s: %(message)s"

_stderr_level = [logging.WARNING]
_file_level = [logging.CRITICAL + 1]


def _set_rgsync_level() -> None:
    # rgsync's loggers let through what the most talkative handler wants, and no more.
    logging.getLogger("rgsync").setLevel(min(_stderr_level[0], _file_level[0]))


class _FileLogHandler(logging.handlers.RotatingFileHandler):
    """The rotating log file; created owner-only (0600), since it names emails and meetings."""

    def _open(self) -> io.TextIOWrapper:
        fd = os.open(self.baseFilename, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
        return open(fd, "a", encoding=self.encoding or "utf-8", errors=self.errors)


def check_log_file(path: Path) -> None:
    """Refuse (`UnsafePathError`, exit 2) a log path that is not a regular file or absent, or
    whose rotated copies (`PATH.1`, …) are not: rotation renames them, which must never replace a
    device or a pipe."""
    hint = "point --log-file at a file, or move it aside"
    check_folder(path.parent, "log folder", hint)
    check_regular_file(path, "log file", hint)
    for number in range(1, LOG_BACKUPS + 1):
        check_regular_file(path.with_name(f"{path.name}.{number}"), "rotated log file", hint)


def configure_file_log(
    path: Path, level: str = DEFAULT_LOG_LEVEL, *, max_bytes: int = LOG_MAX_BYTES, backups: int = LOG_BACKUPS
) -> Path | None:
    """Send rgsync's log records at `level` and above to `path`, rotated at `max_bytes`.

    Replaces the log file handler installed before. The path is checked first (`check_log_file`);
    its folder is created owner-only. The file itself is created when the first line is written.
    Level `off` removes the handler and returns None; otherwise the path is returned.
    """
    close_file_log()
    if level.lower() == "off":
        return None
    check_log_file(path)
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    handler = _FileLogHandler(path, maxBytes=max_bytes, backupCount=backups, encoding="utf-8", delay=True)
    handler.addFilter(RedactingFilter())
    handler.setFormatter(logging.Formatter(FILE_LOG_FORMAT))
    numeric = logging.getLevelName(level.upper())
    handler.setLevel(numeric)
    logging.getLogger().addHandler(handler)
    _file_level[0] = numeric
    _set_rgsync_level()
    return path


def close_file_log() -> None:
    """Flush and remove the log file handler, if one is installed."""
    root = logging.getLogger()
    for handler in list(root.handlers):
        if isinstance(handler, _FileLogHandler):
            root.removeHandler(handler)
            handler.close()
    _file_level[0] = logging.CRITICAL + 1
    _set_rgsync_level()
