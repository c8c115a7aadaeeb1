"""Each publish logs one line that ties the save to its delivery (liveblog.publish), and
LOG_FORMAT=json makes every log line one JSON object."""

import contextlib
import io
import json
import logging
import logging.config
import re
import socket
import subprocess
import sys
from collections.abc import Iterator
from datetime import timedelta

import pytest
from django.conf import settings
from django.utils import timezone

from liveblog.backends import channel_layers
from tests.servers import django_process, free_port, wait_for
from tests.test_deploy import answers
from updates.live.broadcast import publish_log
from updates.services import entry_delete, entry_publish_due

PUBLISHED = re.compile(
    r"Published revision (\d+) of event (\d+) \(entry (\d+), (\w+)\) by (\S+) in [\d.]+ ms"
)


@pytest.fixture
def publishing(caplog, django_capture_on_commit_callbacks):
    """`with publishing() as lines:` runs the block's commit callbacks (the publishes), and
    then holds the publish log's records of them."""

    @contextlib.contextmanager
    def collect() -> Iterator[list[logging.LogRecord]]:
        caplog.clear()
        lines: list[logging.LogRecord] = []
        with (
            caplog.at_level(logging.INFO, logger=publish_log.name),
            django_capture_on_commit_callbacks(execute=True),
        ):
            yield lines
        lines.extend(record for record in caplog.records if record.name == publish_log.name)

    return collect


def test_publishing_an_entry_logs_one_line_from_the_save_to_the_group_message(
    make_entry, event, publishing
):
    with publishing() as lines:
        entry = make_entry()

    [line] = lines
    assert line.levelno == logging.INFO
    assert PUBLISHED.fullmatch(line.getMessage()).groups() == (
        str(entry.revision),
        str(event.pk),
        str(entry.pk),
        "created",
        "sam",
    )
    assert (line.event, line.entry, line.revision) == (event.pk, entry.pk, entry.revision)
    assert (line.change, line.user, line.sent) == ("entry.created", "sam", True)
    assert 0 <= line.commit_to_publish_ms < 2000


def test_a_scheduled_entry_going_live_is_logged_as_the_schedulers(make_entry, publishing):
    with publishing() as lines:
        entry = make_entry(published_at=timezone.now() + timedelta(minutes=5))
    assert lines == []  # readers are told nothing until it goes live

    with publishing() as lines:
        entry_publish_due(now=entry.published_at)

    [line] = lines
    entry.refresh_from_db()
    assert PUBLISHED.fullmatch(line.getMessage()).groups() == (
        str(entry.revision),
        str(entry.event_id),
        str(entry.pk),
        "created",
        "scheduler",
    )
    assert line.user == "scheduler"


def test_an_editors_delete_is_logged_as_theirs(make_entry, editor, publishing):
    entry = make_entry()
    with publishing() as lines:
        entry_delete(entry=entry, by=editor)

    [line] = lines
    assert PUBLISHED.fullmatch(line.getMessage()).group(4, 5) == ("deleted", "ines")
    assert line.change == "entry.deleted"


def test_a_publish_the_channel_layer_refuses_is_logged_as_not_sent(
    make_entry, settings, publishing
):
    with socket.socket() as closed:
        closed.bind(("127.0.0.1", 0))
        port = closed.getsockname()[1]  # nothing listens here once the socket closes
    settings.CHANNEL_LAYERS = channel_layers(f"redis://127.0.0.1:{port}/0")

    with publishing() as lines:
        entry = make_entry()

    [line] = lines
    assert line.levelno == logging.WARNING
    assert line.getMessage().startswith(f"Revision {entry.revision} of event {entry.event_id} (")
    assert line.sent is False


def test_with_log_format_json_the_publish_line_is_one_json_object_with_its_fields(
    make_entry, event, django_capture_on_commit_callbacks
):
    # The formatter LOG_FORMAT=json configures, made by logging's own dictConfig code.
    formatter = logging.config.DictConfigurator({}).configure_formatter(
        dict(settings.LOG_FORMATS["json"])
    )
    written = io.StringIO()
    handler = logging.StreamHandler(written)
    handler.setFormatter(formatter)
    publish_log.addHandler(handler)
    try:
        with django_capture_on_commit_callbacks(execute=True):
            entry = make_entry()
    finally:
        publish_log.removeHandler(handler)

    [line] = written.getvalue().splitlines()
    logged = json.loads(line)
    assert logged | {"time": "", "commit_to_publish_ms": 0} == {
        "time": "",
        "level": "INFO",
        "logger": "liveblog.publish",
        "message": PUBLISHED.fullmatch(logged["message"]).group(0),
        "event": event.pk,
        "entry": entry.pk,
        "revision": entry.revision,
        "change": "entry.created",
        "user": "sam",
        "commit_to_publish_ms": 0,
        "sent": True,
    }
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d+\+00:00", logged["time"])
    assert logged["commit_to_publish_ms"] >= 0


def log_from_a_process(log_format: str) -> subprocess.CompletedProcess[str]:
    """A process started with LOG_FORMAT, logging as Django and the app do."""
    return django_process(
        "import logging\n"
        "logging.getLogger('django.request').warning('Not Found: /nowhere')\n"
        "logging.getLogger('updates.live.delivery').error('Could not deliver', exc_info=True)",
        LOG_FORMAT=log_format,
    )


def test_log_format_json_makes_every_line_of_a_process_json():
    ran = log_from_a_process("json")

    assert ran.returncode == 0, ran.stderr
    lines = [json.loads(line) for line in ran.stderr.splitlines()]
    assert [(line["level"], line["logger"], line["message"]) for line in lines] == [
        ("WARNING", "django.request", "Not Found: /nowhere"),
        ("ERROR", "updates.live.delivery", "Could not deliver"),
    ]


def test_a_log_format_other_than_plain_or_json_stops_the_process():
    ran = log_from_a_process("xml")

    assert ran.returncode != 0
    assert "LOG_FORMAT must be plain or json, not 'xml'" in ran.stderr


def test_log_format_json_makes_gunicorns_own_lines_json_too(daphne_env, tmp_path):
    port = free_port()
    log_path = tmp_path / "gunicorn.log"
    with log_path.open("wb") as log:
        gunicorn = subprocess.Popen(
            [sys.executable, "-m", "gunicorn", "-c", "deploy/gunicorn.conf.py"]
            + ["-b", f"127.0.0.1:{port}", "liveblog.wsgi:application"],
            cwd=settings.BASE_DIR,
            env=daphne_env | {"LOG_FORMAT": "json", "WEB_CONCURRENCY": "1"},
            stdout=log,
            stderr=subprocess.STDOUT,
        )
    try:
        wait_for(lambda: answers(f"http://127.0.0.1:{port}/healthz"), timeout=30, what="gunicorn")
    finally:
        gunicorn.terminate()
        gunicorn.wait(timeout=20)

    lines = [json.loads(line) for line in log_path.read_text().splitlines()]
    said = [(line["logger"], line["message"]) for line in lines]
    assert ("gunicorn.error", f"Listening at: http://127.0.0.1:{port} ({gunicorn.pid})") in said
    assert any(message.startswith("Booting worker with pid") for _, message in said)
    # nginx keeps the access log: no line for the probe.
    assert not any("/healthz" in message for _, message in said)
