"""The JSON API keeps to its OpenAPI document (docs/openapi.yaml), whatever Schemathesis sends."""

from collections.abc import Iterator

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.core.wsgi import get_wsgi_application
from django.db import close_old_connections
from hypothesis import HealthCheck, settings
from schemathesis.specs.openapi.checks import negative_data_rejection, positive_data_acceptance

from updates.services import entry_delete

# Loaded through the app, which serves its own document at /api/openapi.yaml.
schema = schemathesis.openapi.from_wsgi("/api/openapi.yaml", get_wsgi_application())


@pytest.fixture
def served(make_entry) -> Iterator[None]:
    # Function-scoped: made once for all of a test's examples (hence the health check).
    make_entry(key_event=True)
    entry_delete(entry=make_entry())
    # As Django's test client does: the test's transaction outlives each request.
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


@schema.parametrize()
@settings(
    max_examples=60,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
def test_the_api_keeps_to_its_openapi_document(case, served):
    # The event that exists (unknown slugs are test_hostile_queries' business).
    case.path_parameters = {"slug": "harbourside"}
    # Left out: a cursor is opaque, so a string the schema allows may still be none this
    # site made (a 400 is then right); and an empty parameter means its default rather
    # than a 400. test_hostile_queries.py holds the API to "a 4xx with a reason" instead.
    case.call_and_validate(excluded_checks=[positive_data_acceptance, negative_data_rejection])


@pytest.mark.parametrize(
    "path", ["/api/events/{slug}/", "/api/events/{slug}/entries/", "/api/events/{slug}/changes/"]
)
def test_a_429_keeps_to_the_openapi_document(path, served, settings):
    settings.RATE_LIMIT_API_PER_MINUTE = 1
    operation = schema[path]["GET"]
    case = operation.Case(
        path_parameters={"slug": "harbourside"},
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
