"""/readyz: 200 while the database and Redis answer, 503 with the reason while one does not,
never slower than its timeout; /healthz stays the liveness answer that touches neither."""

import socket
import threading
import time

from tests.servers import free_port
from tests.test_delivery import own_redis_server
from updates import readiness


def ask(client) -> tuple[int, dict]:
    started = time.monotonic()
    response = client.get("/readyz")
    assert time.monotonic() - started < readiness.TIMEOUT_SECONDS + 0.5
    assert response["Content-Type"] == "application/json"
    assert "no-store" in response["Cache-Control"]
    return response.status_code, response.json()


def test_it_is_ready_when_the_database_and_redis_answer(client, db, redis_url, settings):
    settings.REDIS_URL = redis_url

    status, body = ask(client)

    assert status == 200
    assert body["status"] == "ready"
    assert set(body["checks"]) == {"database", "redis"}
    for check in body["checks"].values():
        assert check["ok"] is True
        assert 0 <= check["ms"] < readiness.TIMEOUT_SECONDS * 1000


def test_without_redis_url_redis_is_not_configured_and_that_is_ready(client, db, settings):
    settings.REDIS_URL = ""

    status, body = ask(client)

    assert status == 200
    assert body["checks"]["redis"] == {"ok": True, "configured": False}
    assert body["checks"]["database"]["ok"] is True


def test_it_is_503_while_redis_is_down_and_200_again_once_it_is_back(
    client, db, redis_url, settings
):
    port = free_port()
    settings.REDIS_URL = f"redis://127.0.0.1:{port}/0"
    with own_redis_server(port):
        assert ask(client)[0] == 200

    status, body = ask(client)
    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["redis"]["error"] == "ConnectionError"  # the class, not who or where
    assert body["checks"]["database"]["ok"] is True

    with own_redis_server(port):
        status, body = ask(client)
    assert status == 200
    assert body["checks"]["redis"]["ok"] is True


def test_a_frozen_redis_is_503_within_the_timeout(client, db, settings):
    # Accepts connections and never answers, like a Redis under SIGSTOP.
    frozen = socket.socket()
    frozen.bind(("127.0.0.1", 0))
    frozen.listen(16)
    accepted = []
    threading.Thread(target=lambda: accepted.append(frozen.accept()), daemon=True).start()
    settings.REDIS_URL = f"redis://127.0.0.1:{frozen.getsockname()[1]}/0"
    try:
        status, body = ask(client)  # asks within the timeout
    finally:
        for connection, _ in accepted:
            connection.close()
        frozen.close()

    assert status == 503
    assert body["checks"]["redis"]["ok"] is False
    assert body["checks"]["database"]["ok"] is True


def test_it_is_503_when_the_database_query_fails(client, db, settings, monkeypatch):
    settings.REDIS_URL = ""
    monkeypatch.setattr(readiness, "DATABASE_QUERY", "SELECT * FROM no_such_table")

    status, body = ask(client)

    assert status == 503
    assert body["status"] == "unavailable"
    assert body["checks"]["database"]["ok"] is False
    assert body["checks"]["database"]["error"] in {"OperationalError", "ProgrammingError"}


def test_no_rate_limit_counts_it(client, db, settings):
    settings.REDIS_URL = ""
    settings.RATE_LIMIT_API_PER_MINUTE = 1

    assert [ask(client)[0] for _ in range(3)] == [200, 200, 200]


def test_it_answers_plain_http_when_the_site_redirects_to_https(client, db, settings):
    settings.REDIS_URL = ""
    settings.SECURE_SSL_REDIRECT = True

    assert client.get("/readyz").status_code == 200
    assert client.get("/healthz").status_code == 200
    assert client.get("/").status_code == 301
