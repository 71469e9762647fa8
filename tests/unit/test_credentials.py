"""The credentials store (SPEC §9): OS keyring when usable, else a file only the user can read."""

from __future__ import annotations

import json
import logging
import stat
from pathlib import Path

import keyring
import keyring.backends.fail
import keyring.errors
import pytest
from keyring.backend import KeyringBackend

from rgsync.credentials import CredentialsError, CredentialStore, usable_keyring

SECRET = "1//0gRefreshTokenSECRET-value"


class MemoryKeyring(KeyringBackend):
    """A keyring that keeps entries in a dict (a real backend in shape, for tests)."""

    priority = 5.0

    def __init__(self) -> None:
        super().__init__()
        self.entries: dict[tuple[str, str], str] = {}

    def get_password(self, service: str, username: str) -> str | None:
        return self.entries.get((service, username))

    def set_password(self, service: str, username: str, password: str) -> None:
        self.entries[(service, username)] = password

    def delete_password(self, service: str, username: str) -> None:
        if (service, username) not in self.entries:
            raise keyring.errors.PasswordDeleteError("not found")
        del self.entries[(service, username)]


class LockedKeyring(MemoryKeyring):
    """A keyring that is there but refuses to work (a locked Secret Service under cron)."""

    def get_password(self, service: str, username: str) -> str | None:
        raise keyring.errors.KeyringLocked("locked")

    def set_password(self, service: str, username: str, password: str) -> None:
        raise keyring.errors.KeyringLocked("locked")


@pytest.fixture
def file_backend(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.usefixtures("file_backend")
def test_file_round_trip_with_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "state" / "default" / "credentials.json"
    store = CredentialStore("default", path)
    assert store.get("salesforce.refresh_token") is None
    store.set("salesforce.refresh_token", SECRET)
    store.set("gmail.refresh_token", "other")
    assert mode_of(path) == 0o600
    assert mode_of(path.parent) == 0o700
    # another process (a later run) reads the same secrets
    again = CredentialStore("default", path)
    assert again.get("salesforce.refresh_token") == SECRET
    again.set("salesforce.refresh_token", "rotated")
    assert mode_of(path) == 0o600  # the atomic rewrite keeps the mode
    assert CredentialStore("default", path).get("salesforce.refresh_token") == "rotated"
    again.delete("salesforce.refresh_token")
    again.delete("never-stored")
    assert again.get("salesforce.refresh_token") is None
    assert again.get("gmail.refresh_token") == "other"
    # No temp files left; the (empty, private) lock file that serialises writes stays.
    assert sorted(p.name for p in path.parent.iterdir()) == ["credentials.json", "credentials.json.lock"]
    assert mode_of(path.parent / "credentials.json.lock") == 0o600


@pytest.mark.usefixtures("file_backend")
def test_secret_never_in_repr_or_logs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    store = CredentialStore("work", tmp_path / "credentials.json")
    store.set("salesforce.password", SECRET)
    store.get("salesforce.password")
    assert SECRET not in repr(store) and SECRET not in str(store)
    assert "work" in repr(store) and "file" in repr(store)
    assert SECRET not in caplog.text


@pytest.mark.usefixtures("file_backend")
def test_a_file_others_can_read_is_made_private_again(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "credentials.json"
    CredentialStore("default", path).set("x", SECRET)
    path.chmod(0o644)
    assert CredentialStore("default", path).get("x") == SECRET
    assert mode_of(path) == 0o600
    assert SECRET not in caplog.text


@pytest.mark.usefixtures("file_backend")
def test_a_damaged_file_gives_a_clear_error_without_its_content(tmp_path: Path) -> None:
    path = tmp_path / "credentials.json"
    path.write_text('{"secrets": {"x": ' + json.dumps(SECRET))  # cut short
    with pytest.raises(CredentialsError) as caught:
        CredentialStore("default", path).get("x")
    assert str(path) in caught.value.message and "rgsync connect" in caught.value.message
    assert SECRET not in caught.value.message


def test_uses_a_usable_keyring_and_writes_no_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RGSYNC_KEYRING", raising=False)
    backend = MemoryKeyring()
    path = tmp_path / "credentials.json"
    store = CredentialStore("work", path, keyring_backend=backend)
    store.set("salesforce.refresh_token", SECRET)
    assert backend.entries == {(store.service, "salesforce.refresh_token"): SECRET}
    assert not path.exists()
    assert store.get("salesforce.refresh_token") == SECRET
    assert SECRET not in repr(store)
    store.delete("salesforce.refresh_token")
    assert backend.entries == {}


def test_a_keyring_that_fails_at_run_time_falls_back_to_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("RGSYNC_KEYRING", raising=False)
    path = tmp_path / "credentials.json"
    store = CredentialStore("default", path, keyring_backend=LockedKeyring())
    store.set("exchange.password", SECRET)
    assert mode_of(path) == 0o600
    assert store.get("exchange.password") == SECRET


def test_storing_in_the_keyring_removes_an_old_plain_text_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "credentials.json"
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    CredentialStore("default", path).set("exchange.password", "old")
    monkeypatch.delenv("RGSYNC_KEYRING")
    backend = MemoryKeyring()
    CredentialStore("default", path, keyring_backend=backend).set("exchange.password", "new")
    assert "old" not in path.read_text()
    assert CredentialStore("default", path, keyring_backend=backend).get("exchange.password") == "new"


def test_fail_backend_counts_as_no_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("RGSYNC_KEYRING", raising=False)
    monkeypatch.setattr(keyring, "get_keyring", lambda: keyring.backends.fail.Keyring())
    assert usable_keyring() is None
    store = CredentialStore("default", tmp_path / "credentials.json")
    assert store.backend_name == "file"
    store.set("x", SECRET)
    assert store.get("x") == SECRET


def test_env_forces_the_file_even_with_a_keyring(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "file")
    backend = MemoryKeyring()
    store = CredentialStore("default", tmp_path / "credentials.json", keyring_backend=backend)
    store.set("x", SECRET)
    assert backend.entries == {} and (tmp_path / "credentials.json").exists()


def test_unknown_env_value_is_refused_in_one_line(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("RGSYNC_KEYRING", "vault")
    with pytest.raises(
        CredentialsError, match="RGSYNC_KEYRING='vault' is not understood; use 'file' or 'keyring'"
    ):
        CredentialStore("default", tmp_path / "credentials.json")


@pytest.mark.usefixtures("file_backend")
def test_empty_names_and_secrets_are_refused(tmp_path: Path) -> None:
    store = CredentialStore("default", tmp_path / "credentials.json")
    with pytest.raises(ValueError):
        store.set("", SECRET)
    with pytest.raises(ValueError):
        store.set("x", "")


def test_spec_9_a_profile_elsewhere_never_shares_keyring_entries_with_the_default_one(tmp_path) -> None:
    """A sandbox's settings (given with --config) must not pick up the real profile's secrets."""
    import platformdirs

    from rgsync.credentials import keyring_service

    default_file = Path(platformdirs.user_state_dir("rgsync")) / "default" / "credentials.json"
    assert keyring_service("default", default_file) == "rgsync:default"
    elsewhere = keyring_service("default", tmp_path / ".rgsync-state" / "default" / "credentials.json")
    assert elsewhere.startswith("rgsync:default:") and elsewhere != "rgsync:default"
