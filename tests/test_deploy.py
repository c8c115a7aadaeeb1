"""The production layout of deploy/: gunicorn with deploy/gunicorn.conf.py serves the
pages, the API and the admin; nginx with deploy/nginx.conf sends /ws/ to Daphne and the
rest to gunicorn."""

import gzip
import http.client
import http.cookiejar
import json
import os
import re
import signal
import ssl
import subprocess
import sys
import threading
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from email.message import Message
from pathlib import Path

import pytest
from django.conf import settings
from prometheus_client.parser import text_string_to_metric_families
from websockets.sync.client import connect

from deploy import local_nginx
from tests.servers import free_port, wait_for
from updates import edge

DEPLOY = Path(settings.BASE_DIR) / "deploy"
START_SECONDS = 30.0
STOP_SECONDS = 10.0


@dataclass
class Gunicorn:
    port: int
    process: subprocess.Popen
    log_path: Path

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")


def answers(url: str) -> bool:
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}))
    with opener.open(url, timeout=2) as response:
        return response.status == 200


@pytest.fixture
def gunicorn(daphne_env, tmp_path) -> Iterator[Gunicorn]:
    """gunicorn as deploy/liveblog-http.service starts it, on a free port and the test
    database, with two workers (the config's default is for a whole machine)."""
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        process = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", str(DEPLOY / "gunicorn.conf.py")]
            # Its access log, which production leaves to nginx: what reached gunicorn.
            + ["-b", f"127.0.0.1:{port}", "--access-logfile", "-", "liveblog.wsgi:application"],
            cwd=settings.BASE_DIR,
            env=daphne_env | {"WEB_CONCURRENCY": "2"},
            stdin=subprocess.DEVNULL,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
    server = Gunicorn(port, process, log_path)
    try:
        wait_for(
            lambda: process.poll() is None and answers(server.url + "/healthz"),
            timeout=START_SECONDS,
            what=f"gunicorn answering on {port}",
        )
        yield server
    except TimeoutError as error:
        raise AssertionError(f"{error}; gunicorn's log:\n{server.log()}") from error
    finally:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
            try:
                process.wait(timeout=STOP_SECONDS)
            except subprocess.TimeoutExpired:
                os.killpg(process.pid, signal.SIGKILL)
                process.wait(timeout=STOP_SECONDS)


class Browser:
    """Cookies and CSRF like a browser, straight to 127.0.0.1 whatever the proxy settings."""

    def __init__(self, ssl_context: ssl.SSLContext | None = None) -> None:
        self.cookies = http.cookiejar.CookieJar()
        handlers = [
            urllib.request.ProxyHandler({}),
            urllib.request.HTTPCookieProcessor(self.cookies),
        ]
        if ssl_context:
            handlers.append(urllib.request.HTTPSHandler(context=ssl_context))
        self.opener = urllib.request.build_opener(*handlers)

    def get(self, url: str) -> tuple[int, str, str]:
        """Status, final URL and text, following redirects."""
        try:
            with self.opener.open(url, timeout=10) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, url, error.read().decode(errors="replace")

    def post(self, url: str, fields: dict[str, str]) -> tuple[int, str, str]:
        data = urllib.parse.urlencode(fields).encode()
        request = urllib.request.Request(url, data=data, headers={"Referer": url})
        try:
            with self.opener.open(request, timeout=10) as response:
                return response.status, response.url, response.read().decode()
        except urllib.error.HTTPError as error:
            with error:
                return error.code, url, error.read().decode(errors="replace")


def sign_in(
    browser: Browser, base: str, username: str = "sam", password: str = "correct horse battery"
) -> tuple[int, str, str]:
    status, _, form = browser.get(base + "/admin/login/")
    assert status == 200, form
    token = re.search(r'name="csrfmiddlewaretoken" value="([^"]+)"', form).group(1)
    return browser.post(
        base + "/admin/login/?next=/admin/",
        {"csrfmiddlewaretoken": token, "username": username, "password": password},
    )


def test_gunicorn_with_the_deploy_config_serves_the_live_page_the_api_and_the_admin(
    gunicorn, make_entry
):
    make_entry(headline="Turnout at 61 per cent")
    browser = Browser()

    status, _, page = browser.get(gunicorn.url + "/live/harbourside/")
    assert status == 200
    assert "Turnout at 61 per cent" in page

    status, _, body = browser.get(gunicorn.url + "/api/events/harbourside/entries/")
    assert status == 200
    assert [entry["headline"] for entry in json.loads(body)["entries"]] == [
        "Turnout at 61 per cent"
    ]

    status, landed, admin = sign_in(browser, gunicorn.url)
    assert status == 200
    assert landed == gunicorn.url + "/admin/"
    assert "Liveblog newsroom" in admin
    assert "Log out" in admin


def test_gunicorn_and_daphne_both_answer_the_readiness_probe(gunicorn, reader_server):
    for server in (gunicorn, reader_server):
        status, _, body = Browser().get(server.url + "/readyz")
        assert status == 200, body
        # Both checked for real: daphne_env gives every process the test database and Redis.
        assert {name: check["ok"] for name, check in json.loads(body)["checks"].items()} == {
            "database": True,
            "redis": True,
        }


# nginx ------------------------------------------------------------------------------------


@pytest.fixture
def nginx_binary() -> str:
    found = local_nginx.nginx_binary()
    if found is None:
        pytest.skip("needs nginx to check deploy/nginx.conf: apt-get install nginx-light")
    return found


@dataclass
class Nginx:
    https: str
    http: str


@pytest.fixture
def nginx(nginx_binary, gunicorn, reader_server, tmp_path) -> Iterator[Nginx]:
    """nginx with deploy/nginx.conf (checked with nginx -t first) in front of this
    test's gunicorn and Daphne."""
    http_port, https_port = free_port(), free_port()
    config = local_nginx.nginx_config(
        tmp_path,
        http_port=http_port,
        https_port=https_port,
        gunicorn_port=gunicorn.port,
        daphne_ports=[reader_server.port],
    )
    command = [nginx_binary, "-p", str(tmp_path), "-c", str(config)]
    checked = subprocess.run([*command, "-t"], capture_output=True, text=True, timeout=30)
    assert checked.returncode == 0, checked.stderr
    assert "test is successful" in checked.stderr
    stderr_path = tmp_path / "nginx.stderr"
    with stderr_path.open("wb") as stderr:
        process = subprocess.Popen(
            [*command, "-g", "daemon off;"],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=stderr,
        )
    server = Nginx(https=f"https://127.0.0.1:{https_port}", http=f"http://127.0.0.1:{http_port}")
    try:
        wait_for(
            lambda: (
                process.poll() is None
                and Browser(insecure()).get(server.https + "/healthz")[0] == 200
            ),
            timeout=START_SECONDS,
            what="nginx answering",
        )
        yield server
    except TimeoutError as error:
        log = stderr_path.read_text(errors="replace")
        raise AssertionError(f"{error}; nginx said:\n{log}") from error
    finally:
        process.terminate()
        process.wait(timeout=STOP_SECONDS)


def insecure() -> ssl.SSLContext:
    # The test's own self-signed certificate.
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE
    return context


def test_nginx_sends_pages_and_the_api_to_gunicorn_and_websockets_to_daphne(nginx, make_entry):
    make_entry(headline="Recount ordered in ward 4")
    browser = Browser(insecure())

    status, _, page = browser.get(nginx.https + "/live/harbourside/")
    assert status == 200
    assert "Recount ordered in ward 4" in page
    status, _, body = browser.get(nginx.https + "/api/events/harbourside/entries/")
    assert status == 200
    assert json.loads(body)["entries"][0]["headline"] == "Recount ordered in ward 4"

    # Only Daphne speaks websocket: a hello through nginx proves /ws/ reached it.
    socket_url = nginx.https.replace("https://", "wss://") + "/ws/live/harbourside/"
    with connect(
        socket_url, ssl=insecure(), origin=nginx.https, proxy=None, open_timeout=10
    ) as websocket:
        hello = json.loads(websocket.recv(timeout=10))
    assert hello["type"] == "hello"


def cache_status(url: str) -> str:
    """What nginx's cache made of the request: MISS, HIT, EXPIRED..."""
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=insecure())
    )
    with opener.open(url, timeout=10) as response:
        assert response.status == 200
        return response.headers["X-Cache-Status"]


def test_nginx_keeps_load_more_pages_that_say_their_revision_and_nothing_else(nginx, make_entry):
    for number in range(25):
        make_entry(headline=f"Update {number}")
    entries = nginx.https + "/api/events/harbourside/entries/"
    first = json.loads(Browser(insecure()).get(entries)[2])
    cursor = urllib.parse.quote(first["next"])

    load_more = f"{entries}?before={cursor}&min_revision={first['revision']}"
    assert [cache_status(load_more) for _ in range(2)] == ["MISS", "HIT"]
    # The newest pages for a moment (test_a_crowd_on_the_live_page_...): the newest API
    # page since it was read above.
    assert cache_status(entries) == "HIT"
    assert [cache_status(nginx.https + "/live/harbourside/") for _ in range(2)] == ["MISS", "HIT"]
    # Right only for the event's latest revision: never kept.
    not_kept = f"{entries}?before={cursor}"
    assert [cache_status(not_kept) for _ in range(2)] == ["MISS", "MISS"]


def test_a_crowd_on_the_live_page_reaches_gunicorn_about_once_per_revision(
    nginx, gunicorn, make_entry
):
    make_entry(headline="Polls are open")
    live = nginx.https + "/live/harbourside/"
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=insecure())
    )

    def read(_=None, headers=None) -> tuple[int, Message, str]:
        request = urllib.request.Request(live, headers=headers or {})
        try:
            with opener.open(request, timeout=10) as response:
                return response.status, response.headers, response.read().decode()
        except urllib.error.HTTPError as answer:
            with answer:
                return answer.code, answer.headers, ""

    def crowd() -> set[tuple[int, str]]:
        with ThreadPoolExecutor(20) as pool:
            answers = list(pool.map(read, range(60)))
        return {(status, headers["X-Cache-Status"]) for status, headers, _ in answers}

    def reached_gunicorn() -> int:
        return gunicorn.log().count('"GET /live/harbourside/ HTTP')

    started = time.monotonic()
    status, headers, _ = read()
    assert (status, headers["X-Cache-Status"]) == (200, "MISS")
    assert crowd() == {(200, "HIT")}
    # Asked again with its ETag: a 304 from nginx's copy.
    assert read(headers={"If-None-Match": headers["ETag"]})[0] == 304

    # A publish, and the copy's 2 s run out: the crowd is answered from the stale copy at
    # once while one request asks gunicorn, and the next readers have the entry.
    make_entry(headline="Turnout passes 40 per cent")
    time.sleep(edge.SHARED_SECONDS + 0.2)
    assert crowd() <= {(200, "HIT"), (200, "STALE"), (200, "UPDATING")}
    wait_for(lambda: "Turnout passes 40 per cent" in read()[2], timeout=5, what="the new entry")
    # Once for the first reader, then about once per 2 s while they kept coming.
    windows = (time.monotonic() - started) / edge.SHARED_SECONDS
    assert 2 <= reached_gunicorn() <= 2 + windows, (reached_gunicorn(), windows)

    # A reader whose cookie asks oldest first is never given the crowd's page.
    status, headers, page = read(headers={"Cookie": "liveblog_order=oldest"})
    assert (status, headers["X-Cache-Status"]) == (200, "BYPASS")
    stream = page.partition('id="stream"')[2]
    assert stream.index("Polls are open") < stream.index("Turnout passes 40 per cent")


def test_nginx_compresses_pages_and_the_api_but_not_the_admin(nginx, make_entry):
    make_entry(headline="Recount ordered in ward 4", body="<p>Ward 4 counts again.</p>" * 20)
    opener = urllib.request.build_opener(
        urllib.request.ProxyHandler({}), urllib.request.HTTPSHandler(context=insecure())
    )

    read: dict[str, bytes] = {}

    def encoding(path: str) -> str | None:
        request = urllib.request.Request(nginx.https + path, headers={"Accept-Encoding": "gzip"})
        with opener.open(request, timeout=10) as response:
            body = response.read()
            gzipped = response.headers["Content-Encoding"] == "gzip"
            read[path] = gzip.decompress(body) if gzipped else body
            return response.headers["Content-Encoding"]

    assert encoding("/live/harbourside/") == "gzip"
    assert b"Recount ordered in ward 4" in read["/live/harbourside/"]
    assert encoding("/api/events/harbourside/entries/") == "gzip"
    assert encoding("/jsi18n/en-gb/") == "gzip"
    assert encoding("/admin/login/") is None


def test_nginx_lets_concurrent_requests_for_a_page_it_never_keeps_through_together(nginx):
    # A cache lock (proxy_cache_lock) would hold all but one of them behind the first, and
    # a held request looks again only every 500 ms: a crowd on the live page would queue.
    readers = 6
    started_together = threading.Barrier(readers)

    def seconds_to_answer(_) -> float:
        address = urllib.parse.urlsplit(nginx.https)
        connection = http.client.HTTPSConnection(
            address.hostname, address.port, context=insecure(), timeout=10
        )
        try:
            connection.connect()  # the TLS handshake is not what is timed
            started_together.wait(timeout=10)
            started = time.monotonic()
            connection.request("GET", "/healthz")
            response = connection.getresponse()
            response.read()
            assert response.status == 200
            assert response.headers["X-Cache-Status"] == "MISS"
            return time.monotonic() - started
        finally:
            connection.close()

    with ThreadPoolExecutor(readers) as pool:
        answered_in = list(pool.map(seconds_to_answer, range(readers)))
    assert max(answered_in) < 0.45, answered_in


def test_the_deploy_files_let_each_process_hold_a_crowd_of_20000_readers():
    # Each reader is a socket in a Daphne process and two in nginx, and the kernel does not
    # spread connections evenly over nginx's workers: one may take the whole crowd.
    crowd = 20_000
    unit = (DEPLOY / "liveblog-daphne@.service").read_text()
    assert int(re.search(r"^LimitNOFILE=(\d+)$", unit, re.M).group(1)) > crowd
    config = (DEPLOY / "nginx.conf").read_text()
    connections = int(re.search(r"worker_connections (\d+);", config).group(1))
    open_files = int(re.search(r"worker_rlimit_nofile (\d+);", config).group(1))
    assert connections >= 2 * crowd
    assert open_files > connections


def test_every_liveblog_unit_writes_metrics_where_the_others_read_them():
    # /metrics from any process sums every process of the host (docs/metrics.md).
    for name in ("liveblog-http.service", "liveblog-daphne@.service"):
        unit = (DEPLOY / name).read_text()
        assert "Environment=PROMETHEUS_MULTIPROC_DIR=/run/liveblog-metrics" in unit, name
        # systemd makes it, shared, on tmpfs: emptied at each boot, kept across restarts.
        assert "RuntimeDirectory=liveblog-metrics" in unit, name
        assert "RuntimeDirectoryPreserve=yes" in unit, name


def test_the_grafana_dashboard_asks_only_for_metrics_liveblog_exports(client):
    dashboard = json.loads((DEPLOY / "grafana-dashboard.json").read_text())
    expressions = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    asked = {name for expr in expressions for name in re.findall(r"liveblog_\w+", expr)}
    suffixes = {"counter": ["_total"], "histogram": ["_bucket", "_count", "_sum"], "gauge": [""]}
    exported = {
        family.name + suffix
        for family in text_string_to_metric_families(client.get("/metrics").content.decode())
        for suffix in suffixes.get(family.type, [])
    }
    assert asked and asked <= exported, asked - exported


def test_nginx_sends_plain_http_to_https(nginx):
    request = urllib.request.Request(nginx.http + "/live/harbourside/?order=oldest")
    opener = urllib.request.build_opener(urllib.request.ProxyHandler({}), NoRedirects())
    with pytest.raises(urllib.error.HTTPError) as answer:
        opener.open(request, timeout=10)
    with answer.value as redirect:
        assert redirect.code == 301
        assert redirect.headers["Location"] == "https://127.0.0.1/live/harbourside/?order=oldest"


class NoRedirects(urllib.request.HTTPRedirectHandler):
    def redirect_request(self, *args, **kwargs):
        return None
