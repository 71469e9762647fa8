"""The redacting log filter and the levels `-v` / `--debug-http` set (SPEC §9: secrets never in logs)."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.cli import main
from rgsync.logs import HTTP_LOGGERS, MASK, RedactingFilter, configure_logging, redact, remember_secret


@pytest.mark.parametrize(
    ("line", "secret"),
    [
        ("Authorization: Basic c2FtOmh1bnRlcjItaHVudGVy", "c2FtOmh1bnRlcjItaHVudGVy"),
        ("{'Authorization': 'Bearer ya29.a0AfH6SMBx', 'Accept': 'text/xml'}", "ya29.a0AfH6SMBx"),
        ('{"access_token": "eyJ0eXAiOiJKV1Qi", "expires_in": 3599}', "eyJ0eXAiOiJKV1Qi"),
        ("grant_type=refresh_token&refresh_token=1//0gRefresh&client_id=abc", "1//0gRefresh"),
        ("client_secret=s3cr3t-value&scope=api", "s3cr3t-value"),
        ('password="hunter2-hunter"', "hunter2-hunter"),
        ("<sessionId>00D5g000004ABCD!AQ0AQHelloSession</sessionId>", "AQ0AQHelloSession"),
        ("<t:Password>hunter2-hunter</t:Password>", "hunter2-hunter"),
        ("POST /services/data?sid=00D5g000004ABCD!AQ0AQxyz HTTP/1.1", "AQ0AQxyz"),
        ("Set-Cookie: BrowserId=abcdef123456; Path=/", "abcdef123456"),
        ("Cookie: sid=abcdef123456", "abcdef123456"),
        ("X-SFDC-Session: 00D5g000004ABCD!AQ0AQabc", "AQ0AQabc"),
    ],
)
def test_spec_9_credentials_are_blanked_in_every_spelling(line: str, secret: str) -> None:
    redacted = redact(line)
    assert secret not in redacted and MASK in redacted


def test_ordinary_messages_are_left_alone() -> None:
    for line in (
        "side: salesforce",
        "retrying GetItem after a timeout",
        "saved 3 emails; 1 skipped (blocklisted)",
    ):
        assert redact(line) == line


def test_a_secret_the_store_handled_is_blanked_wherever_it_appears() -> None:
    remember_secret("Zq9-remembered-secret")
    assert redact("token was Zq9-remembered-secret, really") == f"token was {MASK}, really"


@pytest.fixture
def stderr(capsys: pytest.CaptureFixture[str]) -> Iterator[pytest.CaptureFixture[str]]:
    """What the handler writes to sys.stderr (whatever object that is when a record arrives)."""
    root = logging.getLogger()
    saved = root.level, list(root.handlers)
    levels = {name: logging.getLogger(name).level for name in (*HTTP_LOGGERS, "rgsync")}
    yield capsys
    root.setLevel(saved[0])
    root.handlers[:] = saved[1]
    for name, level in levels.items():
        logging.getLogger(name).setLevel(level)


def test_spec_9_verbose_shows_rgsync_debug_but_not_the_http_clients(
    stderr: pytest.CaptureFixture[str],
) -> None:
    configure_logging(verbose=True, debug_http=False)
    logging.getLogger("rgsync.session").debug("planning 3 actions")
    logging.getLogger("exchangelib.util").debug("Authorization: Basic abc")
    logging.getLogger("urllib3.connectionpool").debug("GET /token?access_token=abc")
    text = stderr.readouterr().err
    assert "planning 3 actions" in text
    assert "exchangelib" not in text and "urllib3" not in text


def test_spec_9_debug_http_shows_the_clients_redacted_and_one_handler_only(
    stderr: pytest.CaptureFixture[str],
) -> None:
    configure_logging(verbose=False, debug_http=False)
    configure_logging(verbose=False, debug_http=True)
    logging.getLogger("exchangelib.util").debug("headers: {'Authorization': 'Basic c2FtOnNlY3JldA=='}")
    text = stderr.readouterr().err
    assert text.count("exchangelib.util") == 1 and "c2FtOnNlY3JldA==" not in text


def test_spec_9_the_filter_blanks_arguments_and_tracebacks() -> None:
    try:
        raise ValueError("refresh_token=1//0gTraceSecret rejected")
    except ValueError:
        record = logging.LogRecord("x", logging.ERROR, __file__, 1, "sent %s", ("password=pa55-word",), None)
        record.exc_info = sys.exc_info()
    RedactingFilter().filter(record)
    formatted = logging.Formatter().format(record)
    assert "pa55-word" not in formatted and "1//0gTraceSecret" not in formatted and MASK in formatted


def test_spec_9_a_verbose_traceback_and_the_error_line_are_scrubbed_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def failing(*_args: object, **_kwargs: object) -> None:
        raise RuntimeError("GET https://login.example/token?access_token=tok-ABCDEFGH123 failed")

    monkeypatch.setattr("rgsync.cli.run_cmd.run_session", failing)
    with pytest.raises(SystemExit) as exited:
        main(["--config", str(tmp_path / "s.toml"), "-v", "run"])
    err = capsys.readouterr().err
    assert exited.value.code == 1
    assert "Traceback" in err and "RuntimeError" in err and "rgsync: unexpected error" in err
    assert "tok-ABCDEFGH123" not in err


def test_spec_9_tokens_inside_a_stored_json_secret_are_each_remembered() -> None:
    cache = {
        "AccessToken": {"k1": {"secret": "eyJ0eXAi-access-from-cache", "client_id": "public-app-id"}},
        "RefreshToken": {"k2": {"secret": "0.AAAA-refresh-from-cache"}},
    }
    remember_secret(json.dumps(cache))
    remember_secret('{"token": "ya29.google-access", "refresh_token": "1//google-refresh", "client_id": "x"}')
    line = redact(
        "sent eyJ0eXAi-access-from-cache, got 0.AAAA-refresh-from-cache for public-app-id; ya29.google-access"
    )
    assert (
        "access-from-cache" not in line and "refresh-from-cache" not in line and "google-access" not in line
    )
    assert "public-app-id" in line  # identifiers that are not secrets stay readable
