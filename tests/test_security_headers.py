"""Every response carries the Content-Security-Policy and the other security headers.

`check --deploy` does not notice a missing policy: these tests are what guard it. What
the policy does in a real browser (nothing refused while the newsroom posts and readers
follow) is tests/browser/test_content_security_policy.py.
"""

import base64
import hashlib
import re
from html.parser import HTMLParser
from pathlib import Path

import django_prose_editor
import pytest
from django.templatetags.static import static

from updates.models import Entry, Event

OTHER_HEADERS = {
    "X-Frame-Options": "DENY",
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "same-origin",
    "Cross-Origin-Opener-Policy": "same-origin",
}


def policy_of(response) -> dict[str, list[str]]:
    """The enforced policy, directive by directive."""
    header = response["Content-Security-Policy"]
    directives = (part.split() for part in header.split(";") if part.strip())
    return {name: values for name, *values in directives}


def nonce_of(response) -> str | None:
    """The nonce the policy allows scripts with (None if the page never asked for one)."""
    nonces = [value for value in policy_of(response)["script-src"] if value.startswith("'nonce-")]
    return nonces[0].removeprefix("'nonce-").removesuffix("'") if nonces else None


class Scripts(HTMLParser):
    """The page's <script> tags, each as its attributes and its text."""

    def __init__(self, html: str) -> None:
        super().__init__()
        self.tags: list[tuple[dict[str, str | None], str]] = []
        self._open: dict[str, str | None] | None = None
        self.feed(html)

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "script":
            self._open = dict(attrs)
            self.tags.append((self._open, ""))

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            attributes, text = self.tags[-1]
            self.tags[-1] = (attributes, text + data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "script":
            self._open = None

    @property
    def inline(self) -> list[dict[str, str | None]]:
        """Inline scripts the browser runs or reads as code (import maps included); data
        blocks (json_script's type="application/json", the JSON-LD) are never run, so no
        policy applies to them."""
        data = ("application/json", "application/ld+json")
        return [
            attributes
            for attributes, _ in self.tags
            if "src" not in attributes and attributes.get("type") not in data
        ]


@pytest.fixture
def entry(make_entry) -> Entry:
    return make_entry(headline="Polls are open")


@pytest.fixture
def pages(event: Event, entry: Entry) -> dict[str, tuple[str, bool, int]]:
    """Every kind of page the app serves: its address, whether it needs a journalist
    logged in, and its status."""
    return {
        "home": ("/", False, 200),
        "live page": ("/live/harbourside/", False, 200),
        "live page, oldest first": ("/live/harbourside/?order=oldest", False, 200),
        "entry permalink": (entry.get_absolute_url(), False, 200),
        "not found": ("/live/no-such-event/", False, 404),
        "admin login": ("/admin/login/", False, 200),
        "admin index": ("/admin/", True, 200),
        "admin changelist": ("/admin/updates/entry/", True, 200),
        "admin change form": (f"/admin/updates/entry/{entry.pk}/change/", True, 200),
        "admin add form": ("/admin/updates/entry/add/", True, 200),
        "desk": (f"/admin/updates/event/{event.pk}/desk/", True, 200),
        "JSON API": ("/api/events/harbourside/entries/", False, 200),
        "JSON API error": ("/api/events/harbourside/entries/?limit=0", False, 400),
        "health check": ("/healthz", False, 200),
        "readiness check": ("/readyz", False, 200),
    }


def get(client, journalist, page: tuple[str, bool, int]):
    url, needs_login, status = page
    if needs_login:
        client.force_login(journalist)
    else:
        client.logout()
    response = client.get(url)
    assert response.status_code == status, url
    return response


def test_every_kind_of_page_carries_the_policy_and_the_other_headers(client, journalist, pages):
    for name, page in pages.items():
        response = get(client, journalist, page)
        assert "Content-Security-Policy" in response, name
        for header, value in OTHER_HEADERS.items():
            assert response[header] == value, (name, header)


def test_the_policy_is_strict(client, event):
    response = client.get("/live/harbourside/")
    policy = policy_of(response)
    assert policy["default-src"] == ["'self'"]
    # No nonce on a page a shared cache keeps (updates/edge.py): its scripts are our files.
    assert policy["script-src"] == ["'self'"]
    for directive in ("script-src", "style-src"):
        assert "'unsafe-inline'" not in policy[directive], directive
        assert "'unsafe-eval'" not in policy[directive], directive
    assert policy["object-src"] == ["'none'"]
    assert policy["base-uri"] == ["'none'"]
    assert policy["form-action"] == ["'self'"]
    assert policy["frame-ancestors"] == ["'none'"]
    # The websocket and the API's fetches: 'self' covers ws:/wss: on the page's host.
    assert policy["connect-src"] == ["'self'"]
    # What updates/sanitize.py lets a body hold: images over http(s).
    assert {"'self'", "https:", "http:"} <= set(policy["img-src"])


def test_only_the_embed_may_be_framed_by_other_sites_with_the_rest_of_the_policy_the_same(
    client, event, settings
):
    live, embed = client.get("/live/harbourside/"), client.get("/live/harbourside/embed/")

    assert "X-Frame-Options" not in embed
    assert policy_of(embed)["frame-ancestors"] == settings.EMBED_ALLOWED_ORIGINS == ["*"]

    def the_rest(response) -> dict[str, list[str]]:
        """The policy but frame-ancestors, with its nonce (a new one each response) named."""
        nonce = f"'nonce-{nonce_of(response)}'"
        return {
            name: ["the nonce" if value == nonce else value for value in values]
            for name, values in policy_of(response).items()
            if name != "frame-ancestors"
        }

    assert the_rest(embed) == the_rest(live)
    for header, value in OTHER_HEADERS.items():
        if header != "X-Frame-Options":
            assert embed[header] == value, header


def test_each_pages_inline_scripts_carry_that_responses_nonce(client, journalist, pages):
    for name, page in pages.items():
        response = get(client, journalist, page)
        if not response["Content-Type"].startswith("text/html"):
            continue
        nonce = nonce_of(response)
        scripts = Scripts(response.content.decode())
        for attributes in scripts.inline:
            assert nonce is not None and attributes.get("nonce") == nonce, (name, attributes)
        # Scripts from our own files need no nonce ('self'), but where a page has one every
        # one of ours carries it (the reader pages a cache keeps have none: test_edge_cache).
        for attributes, _ in scripts.tags:
            if "src" in attributes:
                assert attributes.get("nonce") == nonce, (name, attributes)


@pytest.mark.parametrize("where", ["desk", "admin change form"])
def test_the_rich_text_editors_import_map_carries_the_nonce(client, journalist, pages, where):
    # django-prose-editor writes an inline <script type="importmap"> through its widget
    # media; rendered with {% csp_nonce_attr media %} it gets the response's nonce.
    response = get(client, journalist, pages[where])
    import_maps = [
        attributes
        for attributes in Scripts(response.content.decode()).inline
        if attributes.get("type") == "importmap"
    ]
    assert len(import_maps) == 1
    assert import_maps[0]["nonce"] == nonce_of(response)
    assert f"'nonce-{nonce_of(response)}'" in policy_of(response)["script-src"]


def test_the_nonce_differs_between_two_responses(client, journalist, pages):
    first = get(client, journalist, pages["desk"])
    second = get(client, journalist, pages["desk"])
    assert nonce_of(first) and nonce_of(second)
    assert nonce_of(first) != nonce_of(second)
    assert f'nonce="{nonce_of(first)}"' in first.content.decode()
    assert nonce_of(first) not in second.content.decode()


def test_the_style_hash_is_that_of_the_css_the_editor_adds(client, db):
    # Tiptap, inside django-prose-editor, adds <style data-tiptap-style> with this text and
    # cannot be handed a nonce: settings.py allows it by its hash. Another version of the
    # editor with other CSS fails here, before the desk loses its editor's styles.
    editor_js = Path(django_prose_editor.__file__).parent / "static/django_prose_editor/editor.js"
    found = re.findall(
        r"`(\.ProseMirror \{\n  position: relative;\n\}.*?)`", editor_js.read_text(), re.DOTALL
    )
    assert len(found) == 1, "the editor's injected CSS is no longer where this test looks"
    digest = base64.b64encode(hashlib.sha256(found[0].encode()).digest()).decode()
    assert f"'sha256-{digest}'" in policy_of(client.get("/"))["style-src"]


def test_static_files_carry_the_policy_too(client, db):
    # An SVG opened on its own is a document: the policy keeps script out of it as well.
    response = client.get(static("admin/img/icon-yes.svg"))
    try:
        assert response.status_code == 200
        assert policy_of(response)["default-src"] == ["'self'"]
        assert response["X-Content-Type-Options"] == "nosniff"
    finally:
        response.close()
