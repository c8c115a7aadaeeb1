"""A PostgreSQL cluster of a test's own, on a free loopback port, for the fault tests that
stop and restart it under a running site: the machine's PostgreSQL, which the rest of the
suite shares, is left alone."""

import contextlib
import os
import shutil
import subprocess
import tempfile
from pathlib import Path

from tests.servers import free_port

# Debian's layout (postgresql-15 and later); PG_BINDIR names another.
BINDIR_CANDIDATES = sorted(Path("/usr/lib/postgresql").glob("*/bin"), reverse=True)
COMMAND_SECONDS = 60


def bindir() -> Path | None:
    named = os.environ.get("PG_BINDIR")
    if named:
        return Path(named)
    found = shutil.which("pg_ctl")
    if found:
        return Path(found).parent
    return BINDIR_CANDIDATES[0] if BINDIR_CANDIDATES else None


class PrivatePostgres:
    """initdb'd into a directory of its own and started; trust authentication for `postgres`
    on 127.0.0.1 only. PostgreSQL refuses to run as root: as root, it runs as `postgres`."""

    def __init__(self) -> None:
        found = bindir()
        if found is None:
            raise RuntimeError("no PostgreSQL binaries: apt-get install postgresql")
        self.bin = found
        self.port = free_port()
        # Not under pytest's tmp_path, which only its owner may enter.
        self.directory = Path(tempfile.mkdtemp(prefix="liveblog-postgres-"))
        self.data = self.directory / "data"
        self.log = self.directory / "postgres.log"
        if os.geteuid() == 0:
            shutil.chown(self.directory, "postgres", "postgres")
        self._run("initdb", "-D", str(self.data), "-U", "postgres", "-A", "trust", "--no-sync")
        self.start()

    def url(self, database: str = "postgres") -> str:
        return f"postgres://postgres@127.0.0.1:{self.port}/{database}"

    def _run(self, program: str, *arguments: str) -> None:
        command = [str(self.bin / program), *arguments]
        if os.geteuid() == 0:
            command = ["runuser", "-u", "postgres", "--", *command]
        subprocess.run(command, check=True, capture_output=True, timeout=COMMAND_SECONDS)

    def _pg_ctl(self, action: str, *arguments: str) -> None:
        options = f"-p {self.port} -k {self.data} -c listen_addresses=127.0.0.1 -c fsync=off"
        self._run(
            "pg_ctl", action, "-D", str(self.data), "-l", str(self.log), "-w", "-o", options,
            *arguments,
        )  # fmt: skip

    def start(self) -> None:
        self._pg_ctl("start")

    def stop(self) -> None:
        """As a crash or a failover does to the clients: every connection cut at once."""
        self._pg_ctl("stop", "-m", "fast")

    def restart(self) -> None:
        self._pg_ctl("restart", "-m", "fast")

    def remove(self) -> None:
        """Stopped if running, and its files gone."""
        with contextlib.suppress(subprocess.CalledProcessError):
            self.stop()
        shutil.rmtree(self.directory, ignore_errors=True)
