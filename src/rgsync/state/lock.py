"""The per-profile run lock (SPEC §2 step 1): one `rgsync run` at a time per profile.

An advisory `flock` on a small file in the state folder. The kernel drops the lock when the
holder exits, however it exits, so a crashed run never leaves a stale lock behind; the file
itself stays and only carries the holder's pid for the message the next run prints.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import stat
from pathlib import Path
from types import TracebackType

from rgsync.errors import LockHeldError
from rgsync.paths import UnsafePathError, check_regular_file
from rgsync.state.db import make_private_dir

_MOVE_ASIDE = "move it aside; rgsync creates its lock file itself"


def _read_pid(fd: int) -> int | None:
    os.lseek(fd, 0, os.SEEK_SET)
    text = os.read(fd, 64).decode("ascii", "replace").strip()
    return int(text) if text.isdigit() else None


def _held_message(pid: int | None) -> str:
    holder = f" (pid {pid})" if pid is not None else ""
    return f"another rgsync run is in progress{holder}"


class ProfileLock:
    """Hold the profile's run lock for the duration of a `with` block.

    `__enter__` does not wait: when another process holds the lock it raises `LockHeldError`
    ("another rgsync run is in progress (pid N)"), which the CLI turns into exit code 75.
    """

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self._fd: int | None = None

    def __enter__(self) -> ProfileLock:
        check_regular_file(self.path, "lock file", _MOVE_ASIDE)
        try:
            make_private_dir(self.path.parent)
            # O_NONBLOCK: a pipe put there between the check and the open must not hang the run.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, 0o600)
        except OSError as exc:
            raise UnsafePathError(
                f"cannot use the lock file {self.path}: {exc.strerror or exc}; {_MOVE_ASIDE}"
            ) from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnsafePathError(f"lock file {self.path} is not a regular file; {_MOVE_ASIDE}")
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = _read_pid(fd)
            os.close(fd)
            raise LockHeldError(_held_message(pid)) from None
        except BaseException:
            os.close(fd)
            raise
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode("ascii"), 0)
        self._fd = fd
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        if self._fd is None:
            return
        fd, self._fd = self._fd, None
        with contextlib.suppress(OSError):
            # Empty the file first so a reader never sees a pid that no longer holds the lock.
            os.ftruncate(fd, 0)
        fcntl.flock(fd, fcntl.LOCK_UN)
        os.close(fd)

    @property
    def held(self) -> bool:
        """True while this object holds the lock."""
        return self._fd is not None

    @staticmethod
    def holder(path: Path) -> int | None:
        """The pid of the run holding the lock at `path` (0 when its pid is unknown), or None when it is free.

        Creates nothing: a missing lock file means no run holds it. It probes with a shared lock
        for an instant, so a run starting at that very instant may be turned away (it exits 75 and
        the next cron tick runs it); `rgsync status` is the only caller.
        """
        check_regular_file(Path(path), "lock file", _MOVE_ASIDE)
        try:
            fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
        except (FileNotFoundError, NotADirectoryError):
            return None  # no lock file (or no state folder at all): no run holds it
        except OSError as exc:
            raise UnsafePathError(f"cannot read the lock file {path}: {exc.strerror or exc}") from exc
        try:
            if not stat.S_ISREG(os.fstat(fd).st_mode):
                raise UnsafePathError(f"lock file {path} is not a regular file; {_MOVE_ASIDE}")
            try:
                fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
            except BlockingIOError:
                return _read_pid(fd) or 0
            fcntl.flock(fd, fcntl.LOCK_UN)
            return None
        finally:
            os.close(fd)
