"""/metrics in Prometheus's text format, read here with prometheus-client's own parser as
Prometheus reads it: what moves when readers connect, a journalist publishes, a reader
catches up or is refused, a request is answered, a job runs; and who may read it.

These run in one process, whose metrics live in its memory. make cluster's processes
share theirs through PROMETHEUS_MULTIPROC_DIR: tests/load/test_cluster.py reads those."""

import asyncio
import http.client
import time
import urllib.parse

import orjson
import pytest
from channels.db import database_sync_to_async
from channels.testing import WebsocketCommunicator
from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from liveblog.asgi import application
from updates.live import delivery, jobs
from updates.live.broadcast import ENTRY_CREATED
from updates.services import entry_publish

pytestmark = pytest.mark.django_db(transaction=True)

publish = database_sync_to_async(entry_publish)
OUTSIDE = "203.0.113.9"


type Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def samples_in(text: str) -> Samples:
    """Every sample of an answer of /metrics, by name and labels."""
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    return samples.get((name, frozenset(labels.items())), 0.0)


def total(samples: Samples, name: str, **labels: str) -> float:
    """The sum over every sample of name that has these labels (and any others: pid)."""
    return sum(
        found
        for (sample, sample_labels), found in samples.items()
        if sample == name and frozenset(labels.items()) <= sample_labels
    )


def scraped(**request) -> Samples:
    response = Client().get("/metrics", **request)
    assert response.status_code == 200, response.content
    assert response["Content-Type"].startswith("text/plain; version=")
    return samples_in(response.content.decode())


def scrape_over_http(base_url: str, *, source: str = "127.0.0.1") -> tuple[int, str]:
    """GET /metrics from a given loopback address (127.0.0.2 is outside the default
    setting, which names 127.0.0.1 and ::1): its status and text."""
    host, port = urllib.parse.urlsplit(base_url).netloc.split(":")
    connection = http.client.HTTPConnection(host, int(port), timeout=10, source_address=(source, 0))
    try:
        connection.request("GET", "/metrics")
        response = connection.getresponse()
        return response.status, response.read().decode()
    finally:
        connection.close()


async def reader(query: str = "") -> WebsocketCommunicator:
    communicator = WebsocketCommunicator(
        application, f"/ws/live/harbourside/{query}", headers=[(b"origin", b"http://localhost")]
    )
    connected, _ = await communicator.connect()
    assert connected
    return communicator


def test_metrics_answer_loopback_and_refuse_an_address_outside_the_setting(client):
    assert client.get("/metrics").status_code == 200  # the test client is 127.0.0.1
    refused = client.get("/metrics", REMOTE_ADDR=OUTSIDE)
    assert refused.status_code == 403
    assert "METRICS_ALLOWED_ADDRESSES" in refused.content.decode()


def test_behind_a_trusted_proxy_the_readers_address_decides_not_the_proxys(client, settings):
    settings.TRUSTED_PROXIES = ["127.0.0.1"]
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 403
    # An X-Forwarded-For written by the client itself is never believed.
    spoofed = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_X_FORWARDED_FOR="127.0.0.1")
    assert spoofed.status_code == 403
    settings.METRICS_ALLOWED_ADDRESSES = ["203.0.113.0/24"]
    assert client.get("/metrics", HTTP_X_FORWARDED_FOR=OUTSIDE).status_code == 200


def test_a_bearer_token_opens_metrics_from_anywhere_and_a_wrong_one_does_not(client, settings):
    settings.METRICS_TOKEN = "scrape-me-7f3a"
    right = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer scrape-me-7f3a")
    assert right.status_code == 200
    wrong = client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer scrape-me")
    assert wrong.status_code == 403
    settings.METRICS_TOKEN = ""
    assert (
        client.get("/metrics", REMOTE_ADDR=OUTSIDE, HTTP_AUTHORIZATION="Bearer ").status_code == 403
    )


async def test_a_publish_moves_readers_publishes_and_the_delivery_histograms(
    channel_layer, event, journalist
):
    before = await asyncio.to_thread(scraped)
    readers = [await reader(), await reader("?entry=card")]
    for each in readers:
        assert (await each.receive_json_from())["type"] == "hello"
    connected = await asyncio.to_thread(scraped)
    readers_before = value(before, "liveblog_readers", event="harbourside")
    assert value(connected, "liveblog_readers", event="harbourside") == readers_before + 2

    await publish(event=event, author=journalist, headline="Polls close", body="<p>10 pm.</p>")
    for each in readers:
        assert (await each.receive_json_from(timeout=3))["type"] == ENTRY_CREATED
    after = await asyncio.to_thread(scraped)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("liveblog_socket_connects_total") == 2
    assert moved("liveblog_publishes_total", change=ENTRY_CREATED, result="sent") == 1
    # One fan-out in this one process, begun within a second of the commit.
    assert moved("liveblog_commit_to_send_seconds_count") == 1
    assert moved("liveblog_commit_to_send_seconds_bucket", le="1.0") == 1
    assert moved("liveblog_fan_out_seconds_count") == 1
    assert moved("liveblog_late_deliveries_total") == 0

    await readers[0].disconnect(code=1001)
    await readers[1].disconnect(code=4000)
    await asyncio.sleep(0.1)
    closed = await asyncio.to_thread(scraped)
    assert value(closed, "liveblog_readers", event="harbourside") == readers_before
    for code in ("1001", "4000"):
        left = value(closed, "liveblog_socket_closes_total", code=code, by="reader")
        assert left - value(before, "liveblog_socket_closes_total", code=code, by="reader") == 1


async def test_refusals_count_by_the_code_the_server_closed_with(channel_layer, event):
    before = await asyncio.to_thread(scraped)
    refused = await reader("?since=soon")
    assert (await refused.receive_output())["code"] == 4400
    await refused.disconnect()
    after = await asyncio.to_thread(scraped)
    labels = {"code": "4400", "by": "server"}
    assert value(after, "liveblog_socket_closes_total", **labels) == (
        value(before, "liveblog_socket_closes_total", **labels) + 1
    )
    assert value(after, "liveblog_readers", event="harbourside") == value(
        before, "liveblog_readers", event="harbourside"
    )


async def test_a_frame_handed_over_more_than_a_second_after_its_commit_counts_as_late(
    channel_layer, event
):
    page = await reader()
    revision = (await page.receive_json_from())["revision"]
    before = await asyncio.to_thread(scraped)
    # Committed 3 s ago, as a change held up in a stalled Redis would arrive.
    frame = orjson.dumps({"type": "entry.updated", "revision": revision + 1}).decode()
    late = delivery.Change(revision + 1, delivery.Frames.same(frame), time.time() - 3)
    assert await asyncio.to_thread(delivery.publish, event.pk, late)
    assert (await page.receive_json_from(timeout=3))["revision"] == revision + 1
    after = await asyncio.to_thread(scraped)

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("liveblog_late_deliveries_total") == 1
    assert moved("liveblog_commit_to_send_seconds_bucket", le="2.5") == 0
    assert moved("liveblog_commit_to_send_seconds_bucket", le="5.0") == 1
    await page.disconnect()


async def test_catch_ups_and_resets_count_on_the_socket_and_over_http(
    channel_layer, event, make_entry
):
    await database_sync_to_async(make_entry)(headline="First result")
    before = await asyncio.to_thread(scraped)
    behind = await reader("?since=0")  # missed the entry
    assert "catch_up" in await behind.receive_json_from()
    ahead = await reader("?since=999")  # from another database: told to start again
    assert (await ahead.receive_json_from())["catch_up"]["reset"] is True
    for each in (behind, ahead):
        await each.disconnect()
    ask = database_sync_to_async(Client().get)
    answer = await ask("/api/events/harbourside/changes/?since=0")
    assert answer.status_code == 200
    after = await asyncio.to_thread(scraped)

    def moved(name: str, via: str) -> float:
        return value(after, name, via=via) - value(before, name, via=via)

    assert (
        moved("liveblog_catch_ups_total", "socket"),
        moved("liveblog_resets_total", "socket"),
    ) == (2, 1)
    assert (moved("liveblog_catch_ups_total", "http"), moved("liveblog_resets_total", "http")) == (
        1,
        0,
    )


def test_requests_count_by_view_and_status_and_refusals_by_limit(event, settings):
    settings.RATE_LIMIT_API_PER_MINUTE = 1
    before = scraped()
    client = Client()
    assert client.get("/live/harbourside/").status_code == 200
    assert client.get("/live/no-such-event/").status_code == 404
    assert client.get("/api/events/harbourside/").status_code == 200
    assert client.get("/api/events/harbourside/").status_code == 429
    after = scraped()

    def moved(name: str, **labels: str) -> float:
        return value(after, name, **labels) - value(before, name, **labels)

    assert moved("liveblog_http_requests_total", view="live", status="200") == 1
    assert moved("liveblog_http_requests_total", view="live", status="404") == 1
    assert moved("liveblog_http_requests_total", view="api-event", status="429") == 1
    assert moved("liveblog_http_request_seconds_count", view="live") == 2
    assert moved("liveblog_rate_limit_refusals_total", limit="api") == 1


async def test_a_jobs_last_success_and_its_failures_are_kept_by_its_name():
    runs: list[float] = []

    async def report() -> None:
        runs.append(time.time())
        if len(runs) == 2:
            raise RuntimeError("Redis is away")

    name = {"job": "test_metrics.report"}
    before = await asyncio.to_thread(scraped)
    jobs.ensure_running(report, every=0.01)
    try:
        for _ in range(200):  # 2 s at most
            if len(runs) >= 3:
                break
            await asyncio.sleep(0.01)
    finally:
        jobs.stop_all()
    after = await asyncio.to_thread(scraped)
    assert runs[2] <= value(after, "liveblog_job_last_success_timestamp_seconds", **name)
    assert (
        value(after, "liveblog_job_failures_total", **name)
        - value(before, "liveblog_job_failures_total", **name)
        == 1
    )
