"""make cluster's command (deploy/cluster.py) run by a test, on the test's database and
Redis: the processes it printed, and a stop as Ctrl+C stops it."""

import re
import signal
import subprocess
import sys
import time
from dataclasses import dataclass, field

from tests.servers import free_port

START_SECONDS = 90.0
STOP_SECONDS = 15.0
PROCESS_LINE = re.compile(r"^  (\S+)\s+port (\d+)\s+pid (\d+)\s+log (\S+)$")


@dataclass
class Cluster:
    port: int
    command: subprocess.Popen
    # name: (pid, log path), as printed
    processes: dict[str, tuple[int, str]] = field(default_factory=dict)

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self, name: str) -> str:
        with open(self.processes[name][1], errors="replace") as log:
            return log.read()

    def stop(self) -> int:
        """SIGINT, as Ctrl+C: the command's exit code once it has stopped everything."""
        if self.command.poll() is None:
            self.command.send_signal(signal.SIGINT)
        try:
            return self.command.wait(timeout=STOP_SECONDS)
        finally:
            if self.command.poll() is None:
                self.command.terminate()  # it stops what it started, as for SIGINT
                self.command.wait(timeout=STOP_SECONDS)
            if self.command.stdout:
                self.command.stdout.close()


def cluster_start(env: dict[str, str], daphnes: int = 2) -> Cluster:
    """Runs deploy/cluster.py and returns once it serves, with what it printed."""
    port = free_port()
    command = subprocess.Popen(
        [sys.executable, "-m", "deploy.cluster"],
        env=env | {"CLUSTER_PORT": str(port), "CLUSTER_DAPHNES": str(daphnes)},
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    cluster = Cluster(port, command)
    deadline = time.monotonic() + START_SECONDS
    serving = False
    assert command.stdout is not None
    said = []
    for line in command.stdout:
        said.append(line)
        if time.monotonic() > deadline:
            break
        if line.startswith(f"Serving {cluster.url}/"):
            serving = True
        elif serving and (match := PROCESS_LINE.match(line.rstrip("\n"))):
            name, _, pid, log = match.groups()
            cluster.processes[name] = (int(pid), log)
            if name == "nginx":  # the last one started
                return cluster
    cluster.stop()
    raise AssertionError("make cluster did not start; it said:\n" + "".join(said))
