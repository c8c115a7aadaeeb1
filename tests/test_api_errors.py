"""Every answer under /api/ is JSON with a reason, whatever went wrong; the pages keep
Django's own error pages."""

import pytest
from django.test import RequestFactory
from django.views import defaults

ENTRIES_URL = "/api/events/harbourside/entries/"


def assert_json_error(response, status: int) -> str:
    assert response.status_code == status
    assert response["Content-Type"] == "application/json"
    reason = response.json()["error"]
    assert reason
    return reason


@pytest.mark.parametrize(
    "url",
    [
        "/api/events/caf%C3%A9/",  # a slug in other letters, as Schemathesis sends
        "/api/events/caf%C3%A9/entries/",
        "/api/events/a%20b/changes/?since=0",
        "/api/events/harbourside/entries/7/",
        "/api/events/",
        "/api/",
        "/api/nothing/here",
    ],
)
def test_a_path_under_api_that_matches_nothing_gets_a_json_404(client, event, url):
    reason = assert_json_error(client.get(url), 404)
    assert "/api/openapi.yaml" in reason


@pytest.mark.parametrize("method", ["get", "head", "post", "put", "delete", "options"])
def test_any_method_on_a_path_that_matches_nothing_gets_a_json_404(client, db, method):
    # Not the CSRF middleware's HTML 403 for a POST, nor a 405: there is nothing here.
    response = getattr(client, method)("/api/nothing/")
    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"


@pytest.mark.parametrize(
    "path",
    [
        "/api/events/harbourside",
        "/api/events/harbourside/entries",
        "/api/events/harbourside/changes",
        "/api/openapi.yaml/",
    ],
)
def test_an_api_address_spelt_without_its_trailing_slash_gets_a_json_404_naming_it(
    client, event, path
):
    # Not CommonMiddleware's redirect (APPEND_SLASH): an address has one spelling, and a
    # client that follows redirects would otherwise never learn it asked the wrong one.
    response = client.get(f"{path}?since=0")
    reason = assert_json_error(response, 404)
    if path.endswith("/"):
        assert "ends in a slash" not in reason
    else:
        assert reason == f"no such address: the address ends in a slash, {path}/"


def test_the_openapi_document_refuses_other_methods_in_json(client, db):
    response = client.post("/api/openapi.yaml")
    assert response.status_code == 405
    assert response["Allow"] == "GET, HEAD"
    assert response.json() == {"error": "POST is not allowed: this API only reads"}


def fail(**kwargs):
    raise RuntimeError("a bug")


@pytest.mark.parametrize(
    "url", ["/api/events/harbourside/", ENTRIES_URL, "/api/events/harbourside/changes/?since=0"]
)
def test_a_bug_in_the_api_is_a_json_500(client, event, monkeypatch, url):
    # The event's lookup: the views' own, and the one the entries' pages are composed with.
    monkeypatch.setattr("updates.api.event_get", fail)
    monkeypatch.setattr("updates.answers.event_get", fail)
    client.raise_request_exception = False
    reason = assert_json_error(client.get(url), 500)
    assert "a bug" not in reason  # nothing of the exception leaks


@pytest.mark.parametrize("url", [f"{ENTRIES_URL}?{'&'.join(['x=1'] * 1001)}"])
def test_a_request_django_refuses_under_api_is_a_json_400(client, event, url):
    # More parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS: Django's SuspiciousOperation.
    assert_json_error(client.get(url), 400)


def test_a_request_for_another_host_under_api_is_a_json_400(client, event):
    assert_json_error(client.get(ENTRIES_URL, HTTP_HOST="evil.example"), 400)


# The pages keep Django's own error pages -----------------------------------------


def page_for(view, **kwargs) -> bytes:
    return view(RequestFactory().get("/"), **kwargs).content


def test_a_page_address_that_matches_nothing_gets_djangos_404_page(client, db):
    for url in ["/live/caf%C3%A9/", "/nothing/", "/apis/"]:
        response = client.get(url)
        assert response.status_code == 404
        assert response["Content-Type"].startswith("text/html")
    assert b"<h1>Not Found</h1>" in response.content


def test_a_bug_in_a_page_gets_djangos_500_page(client, event, monkeypatch):
    monkeypatch.setattr("updates.views.event_get", fail)
    client.raise_request_exception = False
    response = client.get("/live/harbourside/")
    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")
    assert response.content == page_for(defaults.server_error)


def test_a_page_request_for_another_host_gets_djangos_400_page(client, event):
    response = client.get("/live/harbourside/", HTTP_HOST="evil.example")
    assert response.status_code == 400
    assert response.content == page_for(defaults.bad_request, exception=None)


def test_a_path_under_api_that_matches_nothing_gets_a_json_404_with_debug_on_too(
    client, db, settings
):
    settings.DEBUG = True
    assert_json_error(client.get("/api/events/caf%C3%A9/"), 404)
