"""The JSON API of docs/api.md. Errors are {"error": reason} with a 4xx status, never a 500;
every answer under /api/ is JSON, a 500 all the same included (server_error)."""

from collections.abc import Mapping
from functools import wraps

import orjson
from django.conf import settings
from django.http import Http404, HttpRequest, HttpResponse
from django.urls import resolve
from django.views import defaults
from django.views.decorators.cache import never_cache
from django.views.decorators.csrf import csrf_exempt
from django.views.decorators.http import require_GET

from updates import edge, metrics, readiness, scrape
from updates.answers import changes_json, entry_page_body, is_reset
from updates.forms import BadQuery, ChangesForm, entries_asked, first_error
from updates.held_pages import HELD_SECONDS
from updates.ratelimit import rate_limited, request_client_address
from updates.selectors import event_get
from updates.serialize import event_to_dict


def json_response(data: Mapping[str, object], status: int = 200) -> HttpResponse:
    return HttpResponse(orjson.dumps(data), status=status, content_type="application/json")


def error(reason: str, status: int = 400) -> HttpResponse:
    return json_response({"error": reason}, status=status)


def json_api(view):
    """Read only, with every refusal in JSON: too many requests from one address are a
    429 (updates/ratelimit.py), another method a 405, an unknown event a 404. Exempt from
    CSRF, which guards writes: there are none here, and a POST should hear 405, not the
    CSRF middleware's HTML 403."""

    @csrf_exempt
    @wraps(view)
    def wrapper(request: HttpRequest, *args, **kwargs) -> HttpResponse:
        per_minute = settings.RATE_LIMIT_API_PER_MINUTE
        address = request_client_address(request)
        retry_after = rate_limited("api", address=address, per_minute=per_minute)
        if retry_after is not None:
            response = error(
                f"too many requests from {address}: at most {per_minute} a minute; "
                f"retry after {retry_after} s",
                status=429,
            )
            response["Retry-After"] = str(retry_after)
            return response
        if request.method not in ("GET", "HEAD"):
            response = error(f"{request.method} is not allowed: this API only reads", status=405)
            response["Allow"] = "GET, HEAD"
            return response
        try:
            return view(request, *args, **kwargs)
        except Http404:
            return error("no such event or entry", status=404)

    return wrapper


@json_api
def openapi(request: HttpRequest) -> HttpResponse:
    """This API's OpenAPI document, for integrators and their tools."""
    document = (settings.BASE_DIR / "docs" / "openapi.yaml").read_bytes()
    return HttpResponse(document, content_type="application/yaml")


# The name of no_such_address's route, which takes what the API's routes do not.
NO_SUCH_ADDRESS = "api-no-such-address"


@csrf_exempt
def no_such_address(request: HttpRequest) -> HttpResponse:
    """Whatever path under /api/ no other route takes, with any method: a JSON 404, not
    Django's HTML page (nor, with DEBUG on, its debug page). An address spelt without its
    trailing slash gets one too, not CommonMiddleware's redirect (APPEND_SLASH): a page of
    the API has one address, and a client that follows redirects would never learn that
    it asks for another; the reason names the right one."""
    slashed = f"{request.path_info}/"
    if not request.path_info.endswith("/") and resolve(slashed).url_name != NO_SUCH_ADDRESS:
        return error(f"no such address: the address ends in a slash, {request.path}/", status=404)
    return error("no such address: the API's addresses are in /api/openapi.yaml", status=404)


def under_api(request: HttpRequest) -> bool:
    return request.path_info.startswith("/api/")


def bad_request(request: HttpRequest, exception: Exception) -> HttpResponse:
    """handler400: Django refused the request before any view read it (a SuspiciousOperation:
    a Host this site does not serve, more parameters than DATA_UPLOAD_MAX_NUMBER_FIELDS).
    In JSON under /api/; the pages keep Django's page. Like it, the reason tells nothing
    of the exception, whose message may name the site's settings."""
    if under_api(request):
        return error("refused: a Host this site does not serve, or too many parameters")
    return defaults.bad_request(request, exception)


def server_error(request: HttpRequest) -> HttpResponse:
    """handler500 (with DEBUG off): in JSON under /api/, which never means to answer one;
    the pages keep Django's page."""
    if under_api(request):
        return error("the server failed to answer: the fault is ours, and logged", status=500)
    return defaults.server_error(request)


@require_GET
def health(request: HttpRequest) -> HttpResponse:
    """For the proxy's health check and the unit's start-up request (which also starts a
    new Daphne process's jobs, see liveblog/asgi.py), and the trivial view the HTTP
    benchmark measures against."""
    return json_response({"status": "ok"})


@csrf_exempt  # any other method hears 405, not the CSRF middleware's 403
@require_GET
@never_cache  # a probe asks about now; and out of json_api: no rate limit counts it
def ready(request: HttpRequest) -> HttpResponse:
    """For a load balancer or orchestrator: 503 while the database or Redis does not answer
    (updates/readiness.py)."""
    ok, body = readiness.report()
    return json_response(body, status=200 if ok else 503)


@csrf_exempt
@require_GET
@never_cache  # out of json_api too: a scrape every few seconds is no reader's use
def metrics_text(request: HttpRequest) -> HttpResponse:
    """For Prometheus (docs/metrics.md): only to the addresses or the token settings name."""
    if not scrape.may_read(request):
        return HttpResponse(
            "Forbidden: /metrics answers the addresses in METRICS_ALLOWED_ADDRESSES, "
            "or a bearer token equal to METRICS_TOKEN.\n",
            status=403,
            content_type="text/plain; charset=utf-8",
        )
    body, content_type = scrape.exposition()
    return HttpResponse(body, content_type=content_type)


@json_api
def event_detail(request: HttpRequest, slug: str) -> HttpResponse:
    return json_response(event_to_dict(event_get(slug=slug)))


@json_api
def entry_list(request: HttpRequest, slug: str) -> HttpResponse:
    try:
        asked = entries_asked(request.GET)
        newest, event = asked.page.cursor is None, None
        if newest:
            # The newest page changes with every publish: a copy is current while the
            # revision is (updates/edge.py), which is known before anything is built.
            event = event_get(slug=slug)
            tag = edge.etag(event, f"api-page-{asked.page.digest()}")
            if (current := edge.not_modified(request, tag)) is not None:
                return edge.shared(current, tag)
        body, shareable = entry_page_body(slug, asked, event)
    except BadQuery as reason:
        return error(str(reason))
    response = HttpResponse(body, content_type="application/json")
    if shareable:
        # Any answer at least as new as the revision in the URL is right for whoever
        # asks it, so a CDN or the browser may keep it as long as this process would.
        response["Cache-Control"] = f"public, max-age={HELD_SECONDS}"
    elif newest:
        edge.shared(response, tag)
    return response


@json_api
@never_cache  # what changed after a revision, as of now: never an earlier answer
def change_list(request: HttpRequest, slug: str) -> HttpResponse:
    event = event_get(slug=slug)
    form = ChangesForm(request.GET)
    if not form.is_valid():
        return error(first_error(form))
    body = changes_json(event, since=form.cleaned_data["since"])
    metrics.caught_up(via="http", reset=is_reset(body))
    return HttpResponse(body, content_type="application/json")
