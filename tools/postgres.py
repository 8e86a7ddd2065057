"""A throwaway PostgreSQL cluster on 127.0.0.1 for the receiver's tests and benchmark.

Debian's server binaries (`apt-get install -y postgresql`), run as the `postgres` user when we
are root (the server refuses to run as root), with the data directory, socket and log in a
temporary directory that is removed when the cluster stops.
"""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from pathlib import Path

INSTALL_HINT = (
    "PostgreSQL's server programs (initdb, pg_ctl) are not installed; the receiver's tests need "
    "them: apt-get update && apt-get install -y postgresql"
)


class PostgresMissing(RuntimeError):
    pass


def server_bindir() -> Path:
    candidates = sorted(glob.glob("/usr/lib/postgresql/*/bin/initdb"), key=_major_version)
    if candidates:
        return Path(candidates[-1]).parent
    initdb = shutil.which("initdb")
    if initdb:
        return Path(initdb).resolve().parent
    raise PostgresMissing(INSTALL_HINT)


def _major_version(path: str) -> int:
    version = Path(path).parent.parent.name
    return int(version) if version.isdigit() else 0


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


class TempCluster:
    """`with TempCluster() as pg: pg.new_database()` gives a postgresql:// URL of an empty database."""

    def __init__(self) -> None:
        self.bindir = server_bindir()
        self.port = free_port()
        self.root = Path(tempfile.mkdtemp(prefix="pg-receiver-"))
        self.data = self.root / "data"
        self.log = self.root / "server.log"

    @property
    def admin_url(self) -> str:
        return f"postgresql://postgres@127.0.0.1:{self.port}/postgres"

    def __enter__(self) -> TempCluster:
        if os.geteuid() == 0:
            shutil.chown(self.root, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "--auth=trust", "--no-sync", "-E", "UTF8")
        options = (
            f"-c listen_addresses=127.0.0.1 -c port={self.port} -c unix_socket_directories={self.root} "
            "-c max_connections=60 -c shared_buffers=32MB"
        )
        try:
            self._run(
                "pg_ctl", "-D", str(self.data), "-l", str(self.log), "-o", options, "-w", "-t", "60", "start"
            )
        except subprocess.CalledProcessError:
            log = self.log.read_text() if self.log.exists() else ""
            shutil.rmtree(self.root, ignore_errors=True)
            raise RuntimeError(f"PostgreSQL did not start: {log[-2000:]}") from None
        return self

    def __exit__(self, *_exc: object) -> None:
        try:
            # Immediate: the cluster is thrown away, so its shutdown checkpoint would be wasted.
            self._run("pg_ctl", "-D", str(self.data), "-m", "immediate", "-w", "stop")
        finally:
            shutil.rmtree(self.root, ignore_errors=True)

    def server_pids(self) -> list[int]:
        """The server's main process and all it runs (a backend per connection, the writers):
        whose CPU is the server's."""
        import psutil

        main = int((self.data / "postmaster.pid").read_text().split()[0])
        return [main, *(child.pid for child in psutil.Process(main).children(recursive=True))]

    def new_database(self) -> str:
        """A URL whose tables land in a new, empty schema: as good as a new database for the
        receiver, and milliseconds instead of the half second CREATE DATABASE takes."""
        import psycopg

        name = f"receiver_{uuid.uuid4().hex[:12]}"
        with psycopg.connect(self.admin_url, autocommit=True) as conn:
            conn.execute(f'CREATE SCHEMA "{name}"')
        return f"{self.admin_url}?options=-csearch_path%3D{name}"

    def _run(self, program: str, *args: str) -> None:
        command = [str(self.bindir / program), *args]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, text=True, cwd=self.root)
