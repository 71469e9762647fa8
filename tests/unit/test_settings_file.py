"""The settings file: loading, errors with file and line, and writes that keep the user's text (SPEC §1)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rgsync.settings import (
    KEYS,
    SettingsError,
    load_settings,
    render_template,
    set_value,
    unset_value,
    write_connection,
)
from rgsync.settings.document import atomic_write

HAND_WRITTEN = """\
# My rgsync settings — written by hand.

[general.emails]
auto-save = true   # keep saving
history-days = 6
# direction = "both"

[blocklist]
domains = [
  "example.com",  # our own test domain
  "partner.io",
]

[sync]
# careful with this one
max-deletes = 50
"""


def _write(path: Path, text: str) -> Path:
    path.write_text(text, encoding="utf-8", newline="")
    return path


def _changed_lines(before: str, after: str) -> list[tuple[str, str]]:
    old, new = before.splitlines(keepends=True), after.splitlines(keepends=True)
    assert len(old) == len(new), "a one-value edit must not add or remove lines here"
    return [(a, b) for a, b in zip(old, new, strict=True) if a != b]


# --- loading ------------------------------------------------------------------------------------


def test_missing_file_means_built_in_defaults(tmp_path: Path) -> None:
    settings = load_settings(tmp_path / "settings.toml")
    assert not settings.exists
    assert all(settings.source(k.name) == "default" for k in KEYS)
    assert settings.value("history-days") == 6
    assert settings.value("blocklist-domains") == []


def test_values_from_the_file_are_typed_and_marked_user(tmp_path: Path) -> None:
    settings = load_settings(_write(tmp_path / "s.toml", HAND_WRITTEN))
    assert settings.exists
    assert settings.value("auto-save-emails") is True
    assert settings.source("auto-save-emails") == "user"
    assert settings.value("blocklist-domains") == ["example.com", "partner.io"]
    assert settings.user_blocklist.domains == frozenset({"example.com", "partner.io"})
    assert settings.source("email-direction") == "default"


def test_dotted_keys_and_inline_tables_are_understood(tmp_path: Path) -> None:
    text = "[general]\nemails.history-days = 3\nevents = { window-past-days = 7 }\n"
    settings = load_settings(_write(tmp_path / "s.toml", text))
    assert (settings.value("history-days"), settings.value("calendar-past-days")) == (3, 7)


def test_bad_toml_names_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[general.emails]\nauto-save = true\nhistory-days = = 4\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.message.startswith(f"{path} line 3: not valid TOML")
    assert caught.value.exit_code == 2


def test_unknown_key_in_file_names_line_and_suggests(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[general.emails]\nauto-save = true\nauto-sav-threads = true\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.message == (
        f"{path} line 3: unknown setting 'general.emails.auto-sav-threads' — did you mean 'auto-save-threads'?"
    )


def test_cli_name_written_in_the_file_is_explained(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[general.emails]\nauto-save-emails = true\n")
    with pytest.raises(SettingsError, match=r"in the file it is 'auto-save' under \[general\.emails\]"):
        load_settings(path)


def test_misspelt_table_is_reported_with_a_suggestion(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "# hi\n[genral.emails]\nauto-save = true\n")
    with pytest.raises(SettingsError, match=r"line 2: unknown table 'genral' — did you mean 'general'\?"):
        load_settings(path)


def test_wrong_type_names_key_file_and_line(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[general.emails]\n\nhistory-days = 99\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert caught.value.message == f"{path} line 3: history-days expects a whole number from 0 to 60, not 99"
    assert (caught.value.file, caught.value.line, caught.value.key) == (path, 3, "history-days")


def test_bad_entry_in_a_multiline_list_points_to_the_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", '[blocklist]\naddresses = [\n  "a@b.com",\n  "not an address",\n]\n')
    with pytest.raises(SettingsError, match=r"line 2: .*'not an address'"):
        load_settings(path)


def test_several_problems_are_counted(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[sync]\nmax-deletes = -1\ninterval-minutes = 'x'\n")
    with pytest.raises(SettingsError) as caught:
        load_settings(path)
    assert "and 1 more problem" in caught.value.message
    assert [p.line for p in caught.value.problems] == [2, 3]


@pytest.mark.parametrize(
    "line", ['password = "hunter2"', 'refresh-token = "x"', 'private-key = "-----BEGIN"']
)
def test_secrets_in_the_file_are_refused_spec_9(tmp_path: Path, line: str) -> None:
    path = _write(tmp_path / "s.toml", f"[salesforce]\nusername = 'me@example.com'\n{line}\n")
    with pytest.raises(SettingsError, match=r"line 3: .*looks like a secret.*rgsync connect salesforce"):
        load_settings(path)


def test_not_utf8_is_refused_with_the_line(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    path.write_bytes(b"[sync]\nmax-deletes = 5 # caf\xe9\n")
    with pytest.raises(SettingsError, match="line 2: is not UTF-8"):
        load_settings(path)


# --- creating the file --------------------------------------------------------------------------


def test_first_set_creates_a_commented_file_with_every_key(tmp_path: Path) -> None:
    path = tmp_path / "conf" / "settings.toml"
    assert set_value(path, "auto-save-emails", "on") is True
    text = path.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert lines.index("auto-save = true") > lines.index("[general.emails]")
    for key in KEYS:
        if key.name != "auto-save-emails":
            assert f"# {key.leaf} = " in text, key.name
        assert f"# {key.name}: {key.help}" in text
    assert load_settings(path).source("history-days") == "default"


def test_new_file_is_private_to_the_user(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    set_value(path, "history-days", "3")
    assert stat.S_IMODE(path.stat().st_mode) == 0o600


def test_set_uncomments_the_template_line_in_place(tmp_path: Path) -> None:
    path = tmp_path / "settings.toml"
    set_value(path, "auto-save-emails", "on")
    before = path.read_text(encoding="utf-8")
    set_value(path, "history-days", "9")
    assert _changed_lines(before, path.read_text(encoding="utf-8")) == [
        ("# history-days = 6\n", "history-days = 9\n")
    ]


# --- editing an existing file -------------------------------------------------------------------


def test_set_existing_value_changes_only_that_line_and_keeps_its_comment(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    set_value(path, "auto-save-emails", "off")
    assert _changed_lines(HAND_WRITTEN, path.read_text(encoding="utf-8")) == [
        ("auto-save = true   # keep saving\n", "auto-save = false   # keep saving\n")
    ]


def test_set_uncomments_a_hand_commented_key(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    set_value(path, "email-direction", "inbound")
    assert _changed_lines(HAND_WRITTEN, path.read_text(encoding="utf-8")) == [
        ('# direction = "both"\n', 'direction = "inbound"\n')
    ]


def test_set_into_a_new_table_keeps_everything_else(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    set_value(path, "link-to-opportunities", "off")
    after = path.read_text(encoding="utf-8")
    assert after.startswith(HAND_WRITTEN)
    assert load_settings(path).value("link-to-opportunities") is False


def test_set_new_key_in_an_existing_table_adds_one_line_at_its_end(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    set_value(path, "interval-minutes", "15")
    after = path.read_text(encoding="utf-8")
    assert after == HAND_WRITTEN.replace("max-deletes = 50\n", "max-deletes = 50\ninterval-minutes = 15\n")


def test_set_works_when_a_table_is_split_around_others(tmp_path: Path) -> None:
    text = "[general.events]\nwindow-past-days = 3\n\n[sync]\nmax-deletes = 1\n"
    path = _write(tmp_path / "s.toml", text)
    set_value(path, "history-days", "5")
    set_value(path, "auto-save-emails", "off")
    set_value(path, "calendar-future-days", "30")
    settings = load_settings(path)
    assert [settings.value(n) for n in ("history-days", "auto-save-emails", "calendar-future-days")] == [
        5,
        False,
        30,
    ]
    assert path.read_text(encoding="utf-8").startswith("[general.events]\nwindow-past-days = 3\n")


def test_unset_comments_the_line_out_and_round_trips(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    unset_value(path, "max-deletes")
    after = path.read_text(encoding="utf-8")
    assert _changed_lines(HAND_WRITTEN, after) == [("max-deletes = 50\n", "# max-deletes = 50\n")]
    set_value(path, "max-deletes", "50")
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN


def test_unset_of_a_multiline_value_removes_just_that_value(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    unset_value(path, "blocklist-domains")
    after = path.read_text(encoding="utf-8")
    assert "partner.io" not in after
    assert "# careful with this one" in after and "auto-save = true   # keep saving" in after
    assert load_settings(path).source("blocklist-domains") == "default"


def test_unset_without_a_file_creates_nothing(tmp_path: Path) -> None:
    unset_value(tmp_path / "s.toml", "history-days")
    assert not (tmp_path / "s.toml").exists()


def test_set_replaces_a_whole_list(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    set_value(path, "blocklist-domains", "partner.io,new.example")
    after = path.read_text(encoding="utf-8")
    assert '"partner.io",' in after and "example.com" not in after.split("[sync]")[0].split("domains")[1]
    assert load_settings(path).value("blocklist-domains") == ["partner.io", "new.example"]


def test_set_can_reorder_a_list(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    set_value(path, "blocklist-domains", "partner.io,example.com")
    assert load_settings(path).value("blocklist-domains") == ["partner.io", "example.com"]
    assert "# careful with this one" in path.read_text(encoding="utf-8")


def test_refused_value_leaves_the_file_byte_for_byte(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    for name, raw in [("history-days", "61"), ("auto-save-emails", "maybe"), ("no-such-key", "1")]:
        with pytest.raises(SettingsError):
            set_value(path, name, raw)
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN


def test_set_refuses_to_edit_a_file_that_is_not_toml(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", "[general\n")
    with pytest.raises(SettingsError, match="line 1: not valid TOML"):
        set_value(path, "history-days", "3")
    assert path.read_text(encoding="utf-8") == "[general\n"


def test_writes_keep_crlf_and_bom(tmp_path: Path) -> None:
    text = HAND_WRITTEN.replace("\n", "\r\n")
    path = tmp_path / "s.toml"
    path.write_bytes(b"\xef\xbb\xbf" + text.encode())
    set_value(path, "history-days", "8")
    raw = path.read_bytes()
    assert raw.startswith(b"\xef\xbb\xbf")
    assert raw.decode("utf-8-sig") == text.replace("history-days = 6\r\n", "history-days = 8\r\n")


def test_writes_keep_the_file_permissions(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    path.chmod(0o640)
    set_value(path, "history-days", "8")
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


def test_writes_follow_a_symlink(tmp_path: Path) -> None:
    real = _write(tmp_path / "real.toml", HAND_WRITTEN)
    link = tmp_path / "link.toml"
    link.symlink_to(real)
    set_value(link, "history-days", "8")
    assert link.is_symlink()
    assert load_settings(real).value("history-days") == 8


def test_atomic_write_leaves_no_temporary_files(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    atomic_write(path, "a = 1\n")
    atomic_write(path, "a = 2\n")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


def test_failed_write_keeps_the_old_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)

    def refuse(src: object, dst: object) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "replace", refuse)
    with pytest.raises(SettingsError, match=r"cannot write .*No space left"):
        set_value(path, "history-days", "8")
    assert path.read_text(encoding="utf-8") == HAND_WRITTEN
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.toml"]


# --- connection tables --------------------------------------------------------------------------


def test_write_connection_fills_the_table_and_keeps_comments(tmp_path: Path) -> None:
    path = _write(tmp_path / "s.toml", HAND_WRITTEN)
    write_connection(
        path,
        "mailbox",
        {
            "provider": "gmail",
            "address": "Me@Example.com",
            "aliases": ["me2@example.com"],
            "ca-file": Path("ca.pem"),
        },
    )
    write_connection(
        path, "salesforce", {"instance-url": "https://x.my.salesforce.com", "api-version": "60.0"}
    )
    after = path.read_text(encoding="utf-8")
    assert after.startswith(HAND_WRITTEN)
    settings = load_settings(path)
    assert settings.mailbox["provider"] == "gmail"
    assert settings.mailbox["address"] == "me@example.com"
    assert settings.mailbox["save-label"] == "Salesforce"
    assert settings.mailbox["ca-file"] == str(tmp_path / "ca.pem")
    assert settings.salesforce["api-version"] == "60.0"
    assert settings.salesforce["login-url"] == "https://login.salesforce.com"
    write_connection(path, "mailbox", {"ca-file": None})
    assert load_settings(path).mailbox["ca-file"] is None


def test_write_connection_refuses_secrets_and_unknown_keys(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    with pytest.raises(SettingsError, match="rgsync connect salesforce"):
        write_connection(path, "salesforce", {"password": "hunter2"})
    with pytest.raises(SettingsError, match="did you mean 'instance-url'"):
        write_connection(path, "salesforce", {"instance-ur": "https://x"})
    with pytest.raises(SettingsError, match=r"mailbox\.provider expects one of"):
        write_connection(path, "mailbox", {"provider": "imap"})
    with pytest.raises(SettingsError, match="did you mean 'mailbox'"):
        write_connection(path, "mailbx", {})
    assert not path.exists()


def test_write_connection_creates_the_commented_file(tmp_path: Path) -> None:
    path = tmp_path / "s.toml"
    write_connection(path, "mailbox", {"provider": "memory", "address": "demo@example.com"})
    text = path.read_text(encoding="utf-8")
    assert 'provider = "memory"' in text and "# history-days = 6" in text


def test_template_is_valid_and_sets_nothing() -> None:
    import tomlkit

    assert tomlkit.parse(render_template()).unwrap() == {
        "general": {"emails": {}, "events": {}, "tasks": {}, "contacts": {}},
        "linking": {},
        "blocklist": {},
        "sync": {},
        "mailbox": {},
        "salesforce": {},
    }
