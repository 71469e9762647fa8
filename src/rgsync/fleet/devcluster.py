"""A throw-away PostgreSQL cluster for trying the fleet, its tests and its benchmark.

`ThrowawayCluster(directory).start()` runs `initdb` and `pg_ctl` from the server binaries
(Debian keeps them in /usr/lib/postgresql/VERSION/bin, not on PATH; `RGSYNC_PG_BIN` overrides)
with the Unix socket in the cluster's own directory and a free TCP port on 127.0.0.1. PostgreSQL
refuses to run as root, so as root the cluster belongs to the `postgres` user and every server
command runs through `runuser -u postgres`. `stop()` stops it; `restart()` stops and starts it on
the same port (the fault the fleet must survive).
"""

from __future__ import annotations

import contextlib
import glob
import os
import pwd
import shutil
import socket
import subprocess
import tempfile
from pathlib import Path

SERVER_USER = "postgres"


def find_server_binaries() -> Path | None:
    """The directory holding initdb and pg_ctl, or None when PostgreSQL's server is not installed."""
    override = os.environ.get("RGSYNC_PG_BIN")
    candidates = [override] if override else []
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), reverse=True)
    on_path = shutil.which("pg_ctl")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for candidate in candidates:
        if candidate and (Path(candidate) / "initdb").exists() and (Path(candidate) / "pg_ctl").exists():
            return Path(candidate)
    return None


MISSING = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found; install the postgresql package "
    "(Debian/Ubuntu: apt-get install postgresql) or set RGSYNC_PG_BIN to their directory"
)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayCluster:
    """One PostgreSQL cluster in a temporary directory; `url` is its libpq URL (database `postgres`)."""

    def __init__(self, directory: Path | None = None) -> None:
        binaries = find_server_binaries()
        if binaries is None:
            raise RuntimeError(MISSING)
        self.bin = binaries
        self.root = Path(directory or tempfile.mkdtemp(prefix="rgsync-pg-"))
        self.data = self.root / "data"
        self.port = _free_port()
        self.as_root = os.geteuid() == 0
        self.user = SERVER_USER if self.as_root else pwd.getpwuid(os.geteuid()).pw_name

    @property
    def url(self) -> str:
        """Connect over the Unix socket in the cluster directory, as the cluster's owner."""
        return f"postgresql://{self.user}@/postgres?host={self.root}&port={self.port}"

    def _run(self, *args: str) -> None:
        command = [str(self.bin / args[0]), *args[1:]]
        if self.as_root:
            command = ["runuser", "-u", SERVER_USER, "--", *command]
        completed = subprocess.run(command, capture_output=True, text=True, check=False)
        if completed.returncode != 0:
            raise RuntimeError(f"{args[0]} failed: {completed.stderr.strip() or completed.stdout.strip()}")

    def start(self) -> ThrowawayCluster:
        """initdb (once) and start the server; waits until it accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_root:
            record = pwd.getpwnam(SERVER_USER)
            os.chown(self.root, record.pw_uid, record.pw_gid)
        self.root.chmod(0o700)
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-A", "trust", "-U", self.user, "--no-sync", "-E", "UTF8"
            )
        self._start()
        return self

    def _start(self) -> None:
        options = (
            f"-k {self.root} -p {self.port} -c listen_addresses=127.0.0.1 -c fsync=off "
            "-c synchronous_commit=off -c full_page_writes=off -c max_connections=300"
        )
        self._run("pg_ctl", "-D", str(self.data), "-o", options, "-l", str(self.root / "log"), "-w", "start")

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (connections are cut); the data stays until `destroy`."""
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop and start again on the same port: running clients lose their connections."""
        self.stop()
        self._start()

    def destroy(self) -> None:
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.destroy()
