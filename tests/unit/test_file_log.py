"""The log file's handler (SPEC §9: secrets never in logs): credentials are blanked as on stderr,
the HTTP client libraries stay out whatever the level, and its INFO lines never reach stderr."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from pathlib import Path

import pytest

from rgsync.logs import close_file_log, configure_file_log, configure_logging, remember_secret


@pytest.fixture(autouse=True)
def _clean_logging() -> Iterator[None]:
    configure_logging(verbose=False, debug_http=False)
    yield
    close_file_log()
    configure_logging(verbose=False, debug_http=False)


def test_spec_9_file_log_blanks_credentials_and_remembered_secrets(tmp_path: Path) -> None:
    log = tmp_path / "logs" / "rgsync.log"
    remember_secret("s3cr3t-refresh-value")
    configure_file_log(log, "info")
    logging.getLogger("rgsync.test").info(
        "calling with Authorization: Bearer abcdefghijklmnop and token s3cr3t-refresh-value"
    )
    close_file_log()
    text = log.read_text(encoding="utf-8")
    assert "calling with Authorization: ***" in text
    assert "abcdefghijklmnop" not in text and "s3cr3t-refresh-value" not in text


def test_debug_file_log_leaves_out_the_http_clients_and_keeps_stderr_quiet(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log = tmp_path / "rgsync.log"
    configure_file_log(log, "debug")
    logging.getLogger("rgsync.test").debug("rgsync detail")
    logging.getLogger("urllib3.connectionpool").debug("GET /token?password=hunter22")
    logging.getLogger("rgsync.test").info("an info line")
    close_file_log()
    text = log.read_text(encoding="utf-8")
    assert "rgsync detail" in text and "an info line" in text
    assert "urllib3" not in text
    assert capsys.readouterr().err == ""


def test_level_off_writes_nothing(tmp_path: Path) -> None:
    log = tmp_path / "rgsync.log"
    assert configure_file_log(log, "off") is None
    logging.getLogger("rgsync.test").warning("nobody listens")
    assert not log.exists()
