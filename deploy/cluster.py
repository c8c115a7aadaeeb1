"""The production shape on this machine, with one command (make cluster): nginx with
deploy/nginx.conf in front of gunicorn (deploy/gunicorn.conf.py) and CLUSTER_DAPHNES
Daphne processes (default 2), sharing PostgreSQL (DATABASE_URL) and Redis (REDIS_URL, or
a private redis-server); the cluster's jobs run in one of the Daphne processes
(updates/live/lease.py). It serves http://127.0.0.1:8080/ (CLUSTER_PORT) with the demo
content and prints the newsroom's logins, as make run does, then each process with its
port and PID. Ctrl+C (or SIGTERM) stops everything it started.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/liveblog make cluster
"""

import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from deploy import local_nginx

ROOT = Path(__file__).resolve().parent.parent
START_SECONDS = 30.0
STOP_SECONDS = 10.0


class CannotStart(Exception):
    """What is missing, said so that the reader can fix it."""


@dataclass
class Process:
    name: str
    port: int
    popen: subprocess.Popen
    log: Path
    command: list[str]
    ready: str | None


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def wait_listening(port: int) -> None:
    deadline = time.monotonic() + START_SECONDS
    while True:
        try:
            socket.create_connection(("127.0.0.1", port), timeout=1).close()
            return
        except OSError:
            if time.monotonic() > deadline:
                raise CannotStart(f"nothing listens on port {port}") from None
            time.sleep(0.1)


def answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    try:
        with opener.open(url, timeout=2) as response:
            return response.status == 200
    except OSError:
        return False


class Cluster:
    def __init__(self, workdir: Path, env: dict[str, str]) -> None:
        self.workdir = workdir
        self.env = env
        self.processes: list[Process] = []

    def start(self, name: str, command: list[str], port: int, ready: str | None) -> Process:
        """Starts command, its output in a log of its own; ready: a URL that answers 200
        once it serves (None: started is enough)."""
        log = self.workdir / f"{name}.log"
        with log.open("ab") as output:  # a restarted process goes on in the same log
            popen = subprocess.Popen(
                command,
                cwd=ROOT,
                env=self.env,
                stdin=subprocess.DEVNULL,
                stdout=output,
                stderr=subprocess.STDOUT,
                # Not in the terminal's process group: Ctrl+C reaches this script alone,
                # which stops them in order.
                start_new_session=True,
            )
        process = Process(name, port, popen, log, command, ready)
        self.processes.append(process)
        deadline = time.monotonic() + START_SECONDS
        while ready and not answers(ready):
            if popen.poll() is not None or time.monotonic() > deadline:
                raise CannotStart(f"{name} did not start; its log:\n{log.read_text()}")
            time.sleep(0.1)
        return process

    def stop(self) -> None:
        """Stops every process, the last started first: nginx before what it sends to."""
        for process in reversed(self.processes):
            if process.popen.poll() is None:
                process.popen.terminate()
        for process in reversed(self.processes):
            try:
                process.popen.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                process.popen.kill()
                process.popen.wait(timeout=STOP_SECONDS)

    def stop_one(self, process: Process) -> None:
        """Stops process (SIGTERM), as systemd stops a unit; start() it again with its
        name, command and port."""
        process.popen.terminate()
        process.popen.wait(timeout=STOP_SECONDS)
        self.processes.remove(process)

    def restart(self, process: Process) -> Process:
        """Stops process and starts it again on its port, as systemd restarts a unit at a
        deploy; returns once it serves again."""
        self.stop_one(process)
        return self.start(process.name, process.command, process.port, process.ready)

    def gone(self) -> list[Process]:
        return [process for process in self.processes if process.popen.poll() is not None]


def environment(redis_url: str) -> dict[str, str]:
    database_url = os.environ.get("DATABASE_URL", "")
    if not database_url.startswith("postgres"):
        raise CannotStart(
            "it needs PostgreSQL, shared by every process: set DATABASE_URL, e.g.\n"
            "  DATABASE_URL=postgres://postgres@127.0.0.1:5432/liveblog make cluster\n"
            "(README.md, 'The production shape on one machine', says how to get one)."
        )
    return os.environ | {
        "DJANGO_SETTINGS_MODULE": "liveblog.settings",
        "DATABASE_URL": database_url,
        "REDIS_URL": redis_url,
        "DEBUG": "false",
        # Plain HTTP on 127.0.0.1: no secure-only cookies, no redirect to HTTPS.
        "HTTPS": "false",
        "ALLOWED_HOSTS": "127.0.0.1,localhost",
        # The readers' addresses, for the rate limits, are in nginx's X-Forwarded-For.
        "TRUSTED_PROXIES": "127.0.0.1",
        "SECRET_KEY": os.environ.get("SECRET_KEY") or secrets.token_urlsafe(50),
        "PYTHONUNBUFFERED": "1",
    }


def metrics_environment(workdir: Path) -> dict[str, str]:
    """Every process of the cluster writes its metrics where /metrics, from any of them,
    reads them all (prometheus-client's multiprocess mode, docs/metrics.md)."""
    directory = workdir / "metrics"
    directory.mkdir()
    return {"PROMETHEUS_MULTIPROC_DIR": str(directory)}


def serve(cluster: Cluster, daphnes: int, port: int, nginx_workers: int | None = None) -> None:
    """Starts gunicorn, the Daphne processes and nginx in front of them on port; returns
    once each serves (bench/cluster.py measures this shape too). nginx_workers: see
    local_nginx.nginx_config()."""
    python = sys.executable
    gunicorn_port = free_port()
    cluster.start(
        "gunicorn",
        [python, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
        + ["-b", f"127.0.0.1:{gunicorn_port}", "liveblog.wsgi:application"],
        gunicorn_port,
        f"http://127.0.0.1:{gunicorn_port}/healthz",
    )
    daphne_ports = [free_port() for _ in range(daphnes)]
    for number, daphne_port in enumerate(daphne_ports, start=1):
        cluster.start(
            f"daphne-{number}",
            [python, "-m", "liveblog.server", "-b", "127.0.0.1", "-p", str(daphne_port)]
            + ["liveblog.asgi:application"],
            daphne_port,
            f"http://127.0.0.1:{daphne_port}/healthz",
        )
    nginx_dir = cluster.workdir / "nginx"
    nginx_dir.mkdir()
    config = local_nginx.nginx_config(
        nginx_dir,
        http_port=port,
        https_port=None,
        gunicorn_port=gunicorn_port,
        daphne_ports=daphne_ports,
        media_root=Path(cluster.env.get("MEDIA_ROOT") or ROOT / "media"),
        workers=nginx_workers,
    )
    nginx = local_nginx.nginx_binary()
    assert nginx is not None  # checked in main()
    cluster.start(
        "nginx",
        [nginx, "-p", str(nginx_dir), "-c", str(config), "-g", "daemon off;"],
        port,
        f"http://127.0.0.1:{port}/healthz",
    )


def run(cluster: Cluster, daphnes: int, port: int) -> None:
    manage = [sys.executable, "manage.py"]
    for step in (["migrate", "--noinput"], ["collectstatic", "--noinput", "-v0"], ["load_demo"]):
        subprocess.run([*manage, *step], cwd=ROOT, env=cluster.env, check=True)
    serve(cluster, daphnes, port)

    print(f"\nServing http://127.0.0.1:{port}/ (Ctrl+C stops everything)")
    for process in cluster.processes:
        say(process)
    print(f"kill -HUP {os.getpid()} restarts the Daphne processes one after the other.")
    sys.stdout.flush()
    # A deploy's rolling restart: one Daphne process at a time, the next once it serves.
    rolls: list[int] = []
    signal.signal(signal.SIGHUP, lambda signum, frame: rolls.append(signum))
    # A Daphne process that dies leaves the rest serving (nginx sends its readers to the
    # others), as in production until systemd starts it again; anything else ends it all.
    told: set[str] = set()
    while True:
        time.sleep(0.5)
        if rolls:
            rolls.clear()
            for process in [each for each in cluster.processes if each.name.startswith("daphne-")]:
                say(cluster.restart(process), "restarted")
            print("Every Daphne process restarted.", flush=True)
        for process in cluster.gone():
            if process.name in told:
                continue
            told.add(process.name)
            print(
                f"{process.name} stopped (exit {process.popen.returncode}); see {process.log}",
                flush=True,
            )
            if not process.name.startswith("daphne-") or len(told) == daphnes:
                raise CannotStart("the cluster cannot serve without it")


def say(process: Process, what: str = "") -> None:
    name, pid = process.name, process.popen.pid
    print(f"  {name:<10} port {process.port:<6} pid {pid:<8} log {process.log} {what}".rstrip())
    sys.stdout.flush()


def main() -> int:
    if local_nginx.nginx_binary() is None:
        print("make cluster needs nginx: apt-get install nginx-light", file=sys.stderr)
        return 1
    daphnes = int(os.environ.get("CLUSTER_DAPHNES", "2"))
    port = int(os.environ.get("CLUSTER_PORT", "8080"))
    workdir = Path(tempfile.mkdtemp(prefix="liveblog-cluster-"))
    cluster = Cluster(workdir, dict(os.environ))

    def stop_on(signum, frame) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, stop_on)
    try:
        redis_url = os.environ.get("REDIS_URL", "")
        if not redis_url:
            server = shutil.which("redis-server")
            if server is None:
                raise CannotStart(
                    "set REDIS_URL, or install redis-server: apt-get install redis-server"
                )
            redis_port = free_port()
            cluster.start(
                "redis",
                [server, "--bind", "127.0.0.1", "--port", str(redis_port), "--save", ""]
                + ["--appendonly", "no", "--dir", str(workdir)],
                redis_port,
                ready=None,
            )
            redis_url = f"redis://127.0.0.1:{redis_port}/0"
            wait_listening(redis_port)
        cluster.env = environment(redis_url) | metrics_environment(workdir)
        run(cluster, daphnes, port)
    except KeyboardInterrupt:
        print("\nStopping…", flush=True)
        return 0
    except (CannotStart, subprocess.CalledProcessError) as problem:
        print(f"make cluster: {problem}", file=sys.stderr)
        return 1
    finally:
        cluster.stop()
    return 0


if __name__ == "__main__":
    sys.exit(main())
