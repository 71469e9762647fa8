"""A throw-away PostgreSQL cluster for trying the fleet, for the test suite and for the benchmark.

`ThrowawayCluster().start()` runs `initdb` and `pg_ctl` from the server binaries (Debian keeps
them in /usr/lib/postgresql/VERSION/bin, not on PATH; `RGSYNC_PG_BIN` overrides) in a fresh
temporary folder, with the Unix socket in that folder and a free TCP port on 127.0.0.1, trust
sign-in and durability switched off (the data is thrown away, so fsync buys nothing).
PostgreSQL refuses to run as root, so as root the folder belongs to the `postgres` account and
every server command runs through `runuser -u postgres`. `stop()` stops it; `restart()` stops it
hard and starts it again on the same port and data (the crash the fleet must survive);
`destroy()` stops it and deletes the folder.
"""

from __future__ import annotations

import contextlib
import glob
import os
import shutil
import socket
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

SERVER_ACCOUNT = "postgres"  # the account the server runs under when we are root
SUPERUSER = "rgsync"  # the cluster's superuser role (trust sign-in over the socket and TCP)
_SERVER_PROGRAMS = ("initdb", "pg_ctl", "postgres")

MISSING = (
    "PostgreSQL's server binaries (initdb, pg_ctl) were not found; install them (Debian/Ubuntu: "
    "`apt-get install postgresql`, macOS: `brew install postgresql@15`) or set RGSYNC_PG_BIN to their folder"
)


class ServerMissingError(FileNotFoundError):
    """PostgreSQL's server binaries are not installed (the message says what to install)."""


def find_server_binaries() -> Path | None:
    """The folder holding initdb, pg_ctl and postgres, or None when the server is not installed."""
    candidates: list[str] = []
    if os.environ.get("RGSYNC_PG_BIN"):
        candidates.append(os.environ["RGSYNC_PG_BIN"])
    # Debian and Ubuntu keep the server off PATH in a versioned folder; the newest first.
    candidates += sorted(glob.glob("/usr/lib/postgresql/*/bin"), key=_version_of, reverse=True)
    on_path = shutil.which("initdb")
    if on_path:
        candidates.append(str(Path(on_path).parent))
    for folder in candidates:
        if all((Path(folder) / name).is_file() for name in _SERVER_PROGRAMS):
            return Path(folder)
    return None


def _version_of(folder: str) -> int:
    version = folder.rstrip("/").split("/")[-2]
    return int(version) if version.isdigit() else 0


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class ThrowawayCluster:
    """One PostgreSQL cluster in a temporary folder; `url` reaches its `postgres` database.

    `max_connections` is sized for the use: a few hundred for a fleet benchmark's workers, a few
    dozen for a test process (several run side by side). Each role in `password_roles` must sign
    in with its password over TCP (for tests of where a password comes from); every other role
    is trusted.
    """

    def __init__(
        self,
        directory: Path | None = None,
        *,
        max_connections: int = 300,
        password_roles: tuple[str, ...] = (),
        superuser: str = SUPERUSER,
    ) -> None:
        binaries = find_server_binaries()
        if binaries is None:
            raise ServerMissingError(MISSING)
        self.bin = binaries
        # Not under a test runner's private temp folder: the server's account must reach it. Kept
        # short: a Unix socket's path has a length limit of about 100 bytes.
        self.root = Path(directory) if directory else Path(tempfile.mkdtemp(prefix="rgsync-pg-"))
        self.port = _free_port()
        self.as_account = SERVER_ACCOUNT if os.geteuid() == 0 else None
        self.max_connections = max_connections
        self.password_roles = password_roles
        self.superuser = superuser

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def socket_dir(self) -> Path:
        return self.root

    @property
    def url(self) -> str:
        """A libpq URL reaching the `postgres` database over the Unix socket as the superuser."""
        return self.database_url("postgres")

    def database_url(self, database: str) -> str:
        """A libpq URL reaching `database` over the Unix socket as the superuser (no password)."""
        return f"postgresql://{self.superuser}@/{database}?host={self.socket_dir}&port={self.port}"

    def tcp_url(self, database: str = "postgres") -> str:
        """The same database over TCP on 127.0.0.1."""
        return f"postgresql://{self.superuser}@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bin / program), *args]
        if self.as_account:
            command = ["runuser", "-u", self.as_account, "--", *command]
        done = subprocess.run(command, capture_output=True, text=True, check=False)
        if done.returncode != 0:
            log = self.root / "server.log"
            tail = log.read_text(errors="replace")[-2000:] if log.exists() else ""
            raise RuntimeError(f"{program} failed: {done.stdout}{done.stderr}{tail}".strip())

    def _options(self) -> str:
        return " ".join(
            (
                f"-p {self.port}",
                f"-k {self.socket_dir}",
                "-c listen_addresses=127.0.0.1",
                # Nothing here must survive a power cut: the cluster is deleted afterwards. A
                # committed write must survive `restart()` (a crash of the server, not of the
                # machine), so commits still wait for the WAL write.
                "-c fsync=off -c full_page_writes=off",
                f"-c max_connections={self.max_connections}",
                "-c shared_buffers=32MB" if self.max_connections > 100 else "-c shared_buffers=16MB",
            )
        )

    def _pg_ctl_start(self) -> None:
        self._run(
            "pg_ctl", "-D", str(self.data), "-o", self._options(), "-l", str(self.root / "server.log"),
            "-w", "start",
        )  # fmt: skip

    def start(self) -> ThrowawayCluster:
        """initdb (once) and start the server; returns when it accepts connections."""
        self.root.mkdir(parents=True, exist_ok=True)
        if self.as_account:
            shutil.chown(self.root, user=self.as_account, group=self.as_account)
        self.root.chmod(0o755)  # the socket inside must be reachable by the clients' account
        if not (self.data / "PG_VERSION").exists():
            self._run(
                "initdb", "-D", str(self.data), "-U", self.superuser, "--auth=trust", "-E", "UTF8",
                "--locale=C", "--no-sync", "--no-instructions",
            )  # fmt: skip
            hba = self.data / "pg_hba.conf"
            # First match wins: these roles give their password over TCP; everyone else is trusted.
            lines = "".join(f"host all {role} 127.0.0.1/32 scram-sha-256\n" for role in self.password_roles)
            if lines:
                self._write_as_server(hba, lines + hba.read_text())
        last: Exception | None = None
        for _ in range(3):  # the free port can be taken between the probe and the start
            try:
                self._pg_ctl_start()
                return self
            except RuntimeError as exc:
                last = exc
                self.port = _free_port()
                time.sleep(0.2)
        raise RuntimeError(f"could not start the throw-away PostgreSQL cluster: {last}")

    def _write_as_server(self, path: Path, text: str) -> None:
        path.write_text(text)
        if self.as_account:
            shutil.chown(path, user=self.as_account, group=self.as_account)

    def stop(self, mode: str = "fast") -> None:
        """Stop the server (connections are cut); the data stays until `destroy`."""
        with contextlib.suppress(RuntimeError):
            self._run("pg_ctl", "-D", str(self.data), "-m", mode, "-w", "stop")

    def restart(self) -> None:
        """Stop the server hard and start it on the same port and data: a crash and its recovery;
        running clients lose their connections."""
        self.stop("immediate")
        self._pg_ctl_start()

    def sql(self, statement: str, database: str = "postgres") -> list[tuple[Any, ...]]:
        """Run one statement as the superuser (autocommit) and return its rows."""
        import psycopg

        with psycopg.connect(self.database_url(database), autocommit=True) as connection:
            cursor = connection.execute(statement)
            return [tuple(row) for row in cursor.fetchall()] if cursor.description else []

    def create_database(self, name: str) -> str:
        """A fresh, empty database (an earlier one of that name is dropped); its URL."""
        self.sql(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
        self.sql(f'CREATE DATABASE "{name}" TEMPLATE template0')
        return self.database_url(name)

    def destroy(self) -> None:
        """Stop the server at once and delete its folder."""
        self.stop("immediate")
        shutil.rmtree(self.root, ignore_errors=True)

    def __enter__(self) -> ThrowawayCluster:
        return self.start()

    def __exit__(self, *_exc: object) -> None:
        self.destroy()
