"""While PostgreSQL does not answer (restarting, failing over, down), a clear 503 instead of
Django's bare 500 page, and nothing a journalist sent is lost.

A post (the desk, any admin form) is answered "could not be saved", with every field it
sent in a form that sends them again: the words come back with one click once the database
does. Uploaded files cannot be handed back to a browser, so the page says to choose them
again. The API answers in JSON, pages with a short page; each with Retry-After. Readers'
sockets never reach this: Daphne holds them without the database (updates/live/).
"""

import logging

from django.db import InterfaceError, OperationalError
from django.http import HttpRequest, HttpResponse
from django.template.loader import render_to_string

from updates.api import error, under_api

logger = logging.getLogger(__name__)

RETRY_AFTER_SECONDS = 5
# A form's own bookkeeping: sent again, not shown as what the journalist wrote.
NOT_WRITTEN = ("csrfmiddlewaretoken",)
NOT_WRITTEN_SUFFIXES = ("TOTAL_FORMS", "INITIAL_FORMS", "MIN_NUM_FORMS", "MAX_NUM_FORMS")


class DatabaseDownMiddleware:
    """Turns the database's failure to answer, raised by a view, into database_down()."""

    def __init__(self, get_response) -> None:
        self.get_response = get_response

    def __call__(self, request: HttpRequest) -> HttpResponse:
        return self.get_response(request)

    def process_exception(self, request: HttpRequest, exception: Exception) -> HttpResponse | None:
        # OperationalError: no connection, or one lost mid-request (psycopg's pool timing
        # out is one too); InterfaceError: a connection already closed under Django.
        if not isinstance(exception, OperationalError | InterfaceError):
            return None
        logger.error(
            "The database did not answer %s %s: %s", request.method, request.path, exception
        )
        return database_down(request)


def database_down(request: HttpRequest) -> HttpResponse:
    """The 503 for a request the database could not serve. Rendered without the request:
    its context processors would ask the database (the session, the user) again."""
    if under_api(request):
        response = error("the database is not answering: try again in a few seconds", status=503)
    else:
        sent = [(name, value) for name, values in request.POST.lists() for value in values]
        context = {
            "posted": request.method == "POST",
            "action": request.get_full_path(),
            "sent": sent,
            "written": [(name, value) for name, value in sent if is_written(name) and value],
            "files_left_out": bool(request.FILES),
        }
        response = HttpResponse(render_to_string("database_down.html", context), status=503)
    response["Retry-After"] = str(RETRY_AFTER_SECONDS)
    response["Cache-Control"] = "no-store"
    return response


def is_written(name: str) -> bool:
    return name not in NOT_WRITTEN and not name.endswith(NOT_WRITTEN_SUFFIXES)
