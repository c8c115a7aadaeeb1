"""What a request the database could not serve gets (liveblog/database_down.py): a 503 that
keeps every field a post sent, never Django's 500 page. The real outage, under make
cluster: tests/faults/test_database_down.py."""

import json

from django.core.files.uploadedfile import SimpleUploadedFile
from django.db import InterfaceError, OperationalError
from django.http import HttpResponse
from django.test import RequestFactory

from liveblog.database_down import DatabaseDownMiddleware

middleware = DatabaseDownMiddleware(lambda request: HttpResponse())
factory = RequestFactory()


def test_a_post_the_database_could_not_save_comes_back_whole_to_send_again():
    words = '<p>Turnout is 64% & "rising".</p>'
    request = factory.post(
        "/admin/updates/event/7/desk/",
        {"csrfmiddlewaretoken": "t0ken", "headline": "Turnout at 64%", "body": words},
    )

    response = middleware.process_exception(request, OperationalError("connection refused"))

    assert response.status_code == 503
    assert response["Retry-After"] == "5"
    assert response["Cache-Control"] == "no-store"
    page = response.content.decode()
    assert "Your post could not be saved" in page
    assert '<form method="post" action="/admin/updates/event/7/desk/">' in page
    assert '<input type="hidden" name="csrfmiddlewaretoken" value="t0ken">' in page
    assert '<input type="hidden" name="headline" value="Turnout at 64%">' in page
    assert (
        '<input type="hidden" name="body" value="&lt;p&gt;Turnout is 64% &amp; '
        '&quot;rising&quot;.&lt;/p&gt;">' in page
    )
    # Shown as the words written, the token not among them.
    assert "<dd>Turnout is 64% &amp; &quot;rising&quot;.</dd>" in page
    assert "<dt>csrfmiddlewaretoken</dt>" not in page
    assert "choose them again" not in page


def test_pictures_cannot_be_handed_back_and_the_page_says_so():
    photo = SimpleUploadedFile("photo.jpg", b"\xff\xd8\xff", content_type="image/jpeg")
    request = factory.post("/admin/updates/event/7/desk/", {"headline": "Boxes", "file": photo})

    response = middleware.process_exception(request, InterfaceError("connection already closed"))

    assert response.status_code == 503
    assert "choose them again" in response.content.decode()


def test_a_page_gets_a_short_503_and_the_api_a_json_one():
    page = middleware.process_exception(factory.get("/live/x/"), OperationalError())
    answer = middleware.process_exception(factory.get("/api/events/x/"), OperationalError())

    assert page.status_code == 503
    assert "This page could not be made" in page.content.decode()
    assert answer.status_code == 503
    assert json.loads(answer.content) == {
        "error": "the database is not answering: try again in a few seconds"
    }
    assert answer["Retry-After"] == "5"


def test_other_failures_are_left_to_django():
    assert middleware.process_exception(factory.get("/live/x/"), ValueError()) is None
