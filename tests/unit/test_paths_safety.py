"""SPEC §7.11: settings, policy and state paths are regular files or absent, and profile names are
simple names. Special files are exercised with named pipes (FIFOs) and folders in temporary
directories, never with a real device."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from rgsync.paths import PROFILE_NAME_MAX, UnsafePathError, check_profile_name, resolve_paths
from rgsync.settings import SettingsError, load_settings, set_value
from rgsync.settings.document import atomic_write, read_text
from rgsync.state import ProfileLock, StateStore


@pytest.fixture(autouse=True)
def _no_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("RGSYNC_CONFIG", "RGSYNC_PROFILE", "RGSYNC_STATE_DIR", "RGSYNC_ORG_POLICY"):
        monkeypatch.delenv(name, raising=False)


def _fifo(path: Path) -> Path:
    os.mkfifo(path)
    return path


def _is_fifo(path: Path) -> bool:
    return stat.S_ISFIFO(os.lstat(path).st_mode)


@pytest.mark.parametrize("name", ["default", "work", "sales-eu", "team_2", "v1.2", "A" * PROFILE_NAME_MAX])
def test_spec_7_11_simple_profile_names_are_accepted(name: str) -> None:
    assert check_profile_name(name) == name


@pytest.mark.parametrize(
    "name",
    [
        "../../../escaped",
        "..",
        ".hidden",
        "a/b",
        "a\\b",
        "",
        " work",
        "wörk",
        "a\x00b",
        "A" * (PROFILE_NAME_MAX + 1),
    ],
)
def test_spec_7_11_a_profile_name_that_is_not_simple_is_refused(name: str, tmp_path: Path) -> None:
    with pytest.raises(UnsafePathError) as caught:
        resolve_paths(config=str(tmp_path / "s.toml"), profile=name or "\t")
    assert "profile name" in caught.value.message and caught.value.exit_code == 2
    assert list(tmp_path.iterdir()) == []  # nothing written anywhere


def test_spec_7_11_a_profile_name_from_the_environment_is_checked_too(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RGSYNC_PROFILE", "../up")
    with pytest.raises(UnsafePathError, match="not a simple name"):
        resolve_paths(config=str(tmp_path / "s.toml"))


def test_spec_7_11_a_fifo_as_settings_file_is_refused_and_stays_a_fifo(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path / "settings.toml")
    with pytest.raises(UnsafePathError, match="named pipe"):
        resolve_paths(config=str(fifo))
    # The library refuses it too (it must never block on the read or replace the pipe).
    with pytest.raises(SettingsError, match="named pipe"):
        read_text(fifo)
    with pytest.raises(SettingsError, match="named pipe"):
        load_settings(fifo)
    with pytest.raises(SettingsError, match="named pipe"):
        set_value(fifo, "history-days", "3")
    assert _is_fifo(fifo)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["settings.toml"]


def test_spec_7_11_a_symlink_is_followed_and_its_target_checked(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path / "pipe")
    link = tmp_path / "settings.toml"
    link.symlink_to(fifo)
    with pytest.raises(SettingsError) as caught:
        atomic_write(link, "x = 1\n")
    assert "a link to" in caught.value.message and "named pipe" in caught.value.message
    assert link.is_symlink() and _is_fifo(fifo)
    # A link to a regular file is still written through, keeping the link.
    real = tmp_path / "real.toml"
    real.write_text("", encoding="utf-8")
    link.unlink()
    link.symlink_to(real)
    set_value(link, "history-days", "3")
    assert link.is_symlink() and "history-days = 3" in real.read_text(encoding="utf-8")


def test_spec_7_11_a_folder_or_symlink_loop_as_settings_file_is_refused(tmp_path: Path) -> None:
    folder = tmp_path / "folder.toml"
    folder.mkdir()
    with pytest.raises(UnsafePathError, match="is a folder"):
        resolve_paths(config=str(folder))
    loop_a, loop_b = tmp_path / "a.toml", tmp_path / "b.toml"
    loop_a.symlink_to(loop_b)
    loop_b.symlink_to(loop_a)
    with pytest.raises(UnsafePathError, match="loops back"):
        resolve_paths(config=str(loop_a))


def test_spec_7_11_a_settings_path_under_a_regular_file_is_refused(tmp_path: Path) -> None:
    regular = tmp_path / "plain"
    regular.write_text("", encoding="utf-8")
    with pytest.raises(UnsafePathError, match="a folder on its way is a file"):
        resolve_paths(config=str(regular / "s.toml"))


def test_spec_7_11_special_files_in_the_state_folder_are_refused(tmp_path: Path) -> None:
    config = tmp_path / "s.toml"
    state_dir = tmp_path / ".rgsync-state" / "default"
    state_dir.mkdir(parents=True)
    (state_dir / "state.sqlite3").mkdir()
    with pytest.raises(UnsafePathError, match=r"state\.sqlite3 is a folder"):
        resolve_paths(config=str(config))
    # The state store and lock refuse on their own as well.
    with pytest.raises(UnsafePathError):
        StateStore.open_existing(state_dir / "state.sqlite3")
    (state_dir / "state.sqlite3").rmdir()
    _fifo(state_dir / "run.lock")
    with pytest.raises(UnsafePathError, match="named pipe"):
        resolve_paths(config=str(config))
    with pytest.raises(UnsafePathError, match="named pipe"):
        ProfileLock(state_dir / "run.lock").__enter__()
    assert ProfileLock.holder(state_dir / "missing" / "run.lock") is None
    assert _is_fifo(state_dir / "run.lock")


def test_spec_7_11_a_policy_file_that_is_a_fifo_is_refused(tmp_path: Path) -> None:
    fifo = _fifo(tmp_path / "policy.toml")
    with pytest.raises(UnsafePathError, match="org policy file"):
        resolve_paths(config=str(tmp_path / "s.toml"), org_policy=str(fifo))
    with pytest.raises(SettingsError, match="named pipe"):
        load_settings(tmp_path / "s.toml", fifo)
