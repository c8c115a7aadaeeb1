"""The JSON API keeps to its OpenAPI document (docs/openapi.yaml), whatever Schemathesis sends:
every check, in every phase (examples, coverage, fuzzing, stateful)."""

import hashlib
import time
from collections import Counter
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.config import SchemathesisConfig
from schemathesis.core.parameters import ParameterLocation

from updates.models import Event
from updates.selectors import Cursor
from updates.services import entry_delete

# Every phase and every check, as Schemathesis has them by default, in both modes (valid
# and invalid data). What is set here bounds the run's time, which CI pays on every push:
# the fuzzing phase draws this many cases an operation (the examples and coverage phases
# draw what the document calls for), and STATEFUL below bounds the stateful phase.
CONFIG = SchemathesisConfig.from_str("[generation]\nmax-examples = 300")
# Loaded through the app, which serves its own document at /api/openapi.yaml.
schema = schemathesis.openapi.from_wsgi("/api/openapi.yaml", get_wsgi_application(), config=CONFIG)
EVENT, EVENT_ID = "harbourside", 4242


@pytest.fixture
def event(db) -> Event:
    # With an id known beforehand, which the cursors below name.
    return Event.objects.create(pk=EVENT_ID, title="Harbourside by-election", slug=EVENT)


def a_cursor(text: str) -> str:
    """`text` if this site signed it, else a cursor it signs for a position `text` picks."""
    try:
        Cursor.decode(text)
        return text
    except ValueError:
        seed = int.from_bytes(hashlib.blake2b(text.encode(), digest_size=8).digest())
        published_at = datetime(2026, 1, 1, tzinfo=UTC) + timedelta(seconds=seed % 10**8)
        return Cursor(EVENT_ID, published_at, seed % 2**31 + 1).encode()


@pytest.fixture(scope="module")
def cases_run(request) -> Iterator[Counter]:
    """Counts the cases Schemathesis ran, by phase, and says how many at the end."""
    counter, started = Counter(), time.monotonic()
    yield counter
    phases = ", ".join(f"{phase} {n}" for phase, n in sorted(counter.items()))
    plugins = request.config.pluginmanager
    with plugins.get_plugin("capturemanager").global_and_fixture_disabled():
        plugins.get_plugin("terminalreporter").write_line(
            f"\nSchemathesis ran {counter.total()} cases ({phases}) "
            f"in {time.monotonic() - started:.1f} s"
        )


@pytest.fixture
def served(make_entry, settings, cases_run) -> Iterator[Counter]:
    # Function-scoped: made once for all of a test's cases (hence the health check).
    settings.RATE_LIMIT_API_PER_MINUTE = 10**6  # the 429 has a test of its own below
    for n in range(5):
        make_entry(headline=f"Update {n}", key_event=n == 0)
    entry_delete(entry=make_entry())
    # As Django's test client does: the test's transaction outlives each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield cases_run
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def as_meant(case: schemathesis.Case, counter: Counter) -> None:
    """What Schemathesis means to be valid in a case is made so, where the document cannot
    say it (the checks then hold the answer to the document, as for any case):

    - the event is the one that exists, so that the case goes further than a 404. Unknown
      slugs are Schemathesis's to send where it means the path to be invalid (a slug in
      other letters, say), and test_api.py's otherwise;
    - `before` is not given with `after`, nor with `order=oldest` (a 400, which
      test_contradictory_order_parameters_get_a_400 holds the API to): a rule between two
      parameters, which OpenAPI has no words for;
    - a cursor is one: a cursor is opaque, so the document can say which characters make
      one (the negative cases break that), but only this site's signature says which
      strings are.
    """
    counter[case.meta.phase.name.value] += 1
    if is_meant_valid(case, ParameterLocation.PATH) and "slug" in case.path_parameters:
        case.path_parameters = {**case.path_parameters, "slug": EVENT}
    if is_meant_valid(case, ParameterLocation.QUERY) and case.query:
        query = dict(case.query)
        if query.get("before") and (query.get("after") or query.get("order") == "oldest"):
            query = {name: value for name, value in query.items() if name not in ("after", "order")}
        for name in ("before", "after"):
            if query.get(name):
                query[name] = a_cursor(query[name])
        case.query = query


def is_meant_valid(case: schemathesis.Case, location: ParameterLocation) -> bool:
    component = case.meta.components.get(location)
    mode = component.mode if component else case.meta.generation.mode
    return mode.is_positive


SETTINGS = settings(
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
# Scenarios of up to 8 requests, each following a link from the answer before.
STATEFUL = settings(SETTINGS, max_examples=100, stateful_step_count=8)


@schema.parametrize()
@SETTINGS
def test_the_api_keeps_to_its_openapi_document(case, served):
    as_meant(case, served)
    case.call_and_validate()


class APIWorkflow(schema.as_state_machine()):
    """Follows the document's links: a page's `next` to the next page, its `revision` to
    changes/ and min_revision, the event's slug and revision to both."""

    counter: Counter

    def before_call(self, case: schemathesis.Case) -> None:
        as_meant(case, self.counter)


def test_the_apis_links_lead_where_the_document_says(served):
    APIWorkflow.counter = served
    APIWorkflow.run(settings=STATEFUL)


@pytest.mark.parametrize(
    "path", ["/api/events/{slug}/", "/api/events/{slug}/entries/", "/api/events/{slug}/changes/"]
)
def test_a_429_keeps_to_the_openapi_document(path, served, settings):
    settings.RATE_LIMIT_API_PER_MINUTE = 1
    operation = schema[path]["GET"]
    case = operation.Case(
        path_parameters={"slug": EVENT},
        query={"since": 0} if path.endswith("changes/") else {},
    )
    # The first spends the budget; a minute's window may end in between, hence a third.
    statuses = []
    for _ in range(3):
        response = case.call()
        statuses.append(response.status_code)
        if response.status_code == 429:
            break
    assert statuses[-1] == 429, statuses
    case.validate_response(response)


def test_the_document_is_valid_openapi():
    schema.validate()  # against the OpenAPI 3.0 schema, links included
