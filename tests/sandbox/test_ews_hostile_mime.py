"""The EWS emulator delivers whatever mail arrives, as Exchange does (SPEC §7.8): a broken encoded
word stays as it came, and characters XML cannot carry are dropped instead of failing the load."""

from __future__ import annotations

from datetime import UTC, datetime

from rgsync.sandbox.ews import mime

NOW = datetime(2026, 12, 1, 9, tzinfo=UTC)


def _props(raw: bytes) -> dict[str, str]:
    props = mime.message_props(raw, item_class="IPM.Note", categories=[], received=NOW, now=NOW)
    return {name: (element.text or "") for name, element in props.items()}


def test_spec_7_8_a_broken_encoded_subject_is_kept_as_it_came() -> None:
    props = _props(b"From: bob@globex.com\r\nSubject: =?utf-8?B?!!!notbase64?=\r\n\r\nhi\r\n")
    assert props["Subject"] == "=?utf-8?B?!!!notbase64?="


def test_spec_7_8_xml_non_characters_are_dropped_not_fatal() -> None:
    body = "keep \u202e\u200b👋 drop \ufffe\uffff\x01".encode()
    props = _props(
        b"From: bob@globex.com\r\nSubject: s\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body
    )
    assert props["TextBody"].startswith("keep \u202e\u200b👋 drop ")
    assert not any(ch in props["TextBody"] for ch in "\ufffe\uffff\x01")
