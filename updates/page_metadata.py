"""What search engines and social sites read of a page besides its words: schema.org
JSON-LD (a LiveBlogPosting on the live page, a BlogPosting on a permalink) and the share
card (Open Graph and Twitter tags), in templates/updates/_page_metadata.html.

Text carries no HTML, times are ISO 8601 with their offset, addresses are absolute
(`absolute` makes a path one, as request.build_absolute_uri does). A share card's picture
is the entry's first, else the newest on the live page, else the site's own.
"""

import html
import json
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.conf import settings
from django.templatetags.static import static
from django.utils.html import format_html, strip_tags
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import Truncator

from updates.models import Entry, Event
from updates.serialize import PictureDict, media_to_dicts

type Absolute = Callable[[str], str]

# The site's own picture, for a page with none: static/share.png, as large as share
# cards show a picture.
SITE_PICTURE = "share.png"
SITE_PICTURE_SIZE = (1200, 630)
DESCRIPTION_WORDS = 40
# As many updates as the live page shows at first: what a crawler sees on the page too.
LIVE_UPDATES = 20


@dataclass(frozen=True)
class ShareCard:
    """A page as a link to it shows on social sites and in messages."""

    title: str
    description: str
    url: str
    type: str  # og:type: "website" for the live page, "article" for an entry
    image: str
    image_alt: str
    image_width: int
    image_height: int

    @property
    def site_name(self) -> str:
        return settings.SITE_NAME


# Where rich text's blocks end (sanitize.py's tags): lines of their own as text, not words
# run together ("<li>Turnout 64%</li><li>Recount</li>" is not "Turnout 64%Recount").
BLOCK_END = re.compile(r"</(?:p|li|h[2-4]|blockquote|figcaption)>|<br\s*/?>", re.IGNORECASE)


def plain(body: str) -> str:
    """An entry's body as text: no tags, no entities, single spaces."""
    return " ".join(plain_lines(body).split())


def plain_lines(body: str) -> str:
    """Rich text as text: each block (a paragraph, a list's point) on a line of its own."""
    text = html.unescape(strip_tags(BLOCK_END.sub("\n", body)))
    return "\n".join(" ".join(line.split()) for line in text.splitlines() if line.strip())


def described(text: str) -> str:
    return Truncator(text).words(DESCRIPTION_WORDS)


def iso(moment: datetime) -> str:
    """ISO 8601 with the offset, to the second (what schema.org's validators expect)."""
    return moment.replace(microsecond=0).isoformat()


def first_picture(entries: Iterable[Entry]) -> PictureDict | None:
    for entry in entries:
        for item in media_to_dicts(entry):
            if item["kind"] == "image":
                return item
    return None


def share_card(
    *,
    title: str,
    description: str,
    url: str,
    type: str,
    picture: PictureDict | None,
    absolute: Absolute,
) -> ShareCard:
    if picture is None:
        width, height = SITE_PICTURE_SIZE
        image, alt = absolute(static(SITE_PICTURE)), settings.SITE_NAME
    else:
        width, height = picture["width"], picture["height"]
        image, alt = absolute(picture["src"]), picture["alt"]
    return ShareCard(title, description, url, type, image, alt, width, height)


def publisher() -> dict[str, Any]:
    return {"@type": "Organization", "name": settings.SITE_NAME}


def author_of(entry: Entry) -> dict[str, Any]:
    """The byline as a person ("Sam Okafor, Political Correspondent"), else the publisher."""
    name, _, role = (part.strip() for part in entry.byline.partition(","))
    if not name:
        return publisher()
    return {"@type": "Person", "name": name} | ({"jobTitle": role} if role else {})


def blog_posting(entry: Entry, absolute: Absolute) -> dict[str, Any]:
    """One update, as the live page lists it and its permalink carries it."""
    posting: dict[str, Any] = {
        "@type": "BlogPosting",
        "@id": absolute(entry.get_absolute_url()),
        "url": absolute(entry.get_absolute_url()),
        "headline": entry.headline,  # text as typed, never HTML
        "articleBody": plain(entry.body),
        "datePublished": iso(entry.published_at),
        "dateModified": iso(entry.edited_at or entry.published_at),
        "author": author_of(entry),
        "publisher": publisher(),
    }
    if picture := first_picture([entry]):
        posting["image"] = absolute(picture["src"])
    if entry.correction:
        posting["correction"] = {"@type": "CorrectionComment", "text": plain(entry.correction)}
    return posting


def live_blog_posting(event: Event, entries: list[Entry], absolute: Absolute) -> dict[str, Any]:
    """The live page: the event's coverage, with its newest updates."""
    newest = entries[:LIVE_UPDATES]
    posting: dict[str, Any] = {
        "@context": "https://schema.org",
        "@type": "LiveBlogPosting",
        "@id": absolute(event.get_absolute_url()),
        "url": absolute(event.get_absolute_url()),
        "headline": event.title,
        "description": event.summary or event.title,
        "coverageStartTime": iso(event.starts_at),
        "datePublished": iso(event.starts_at),
        "dateModified": iso(max([event.starts_at, *(modified(entry) for entry in newest)])),
        "publisher": publisher(),
        "liveBlogUpdate": [blog_posting(entry, absolute) for entry in newest],
    }
    if event.key_points:
        # The editors' summary of the coverage so far: schema.org's "abstract" ("a short
        # description that summarizes a CreativeWork"), as text, a point a line;
        # "description" stays the event's one-line summary, which share cards show too.
        posting["abstract"] = plain_lines(event.key_points)
    if event.ended_at is not None:
        posting["coverageEndTime"] = iso(event.ended_at)
    if picture := first_picture(newest):
        posting["image"] = absolute(picture["src"])
    return posting


def modified(entry: Entry) -> datetime:
    return entry.edited_at or entry.published_at


def entry_metadata(
    entry: Entry, absolute: Absolute, newest: Callable[[], list[Entry]]
) -> dict[str, Any]:
    """A permalink's JSON-LD and share card, for _page_metadata.html; newest() gives the
    live page's first entries, for the card of an entry without a picture."""
    description = described(plain(entry.body))
    return {
        "json_ld": json_ld({"@context": "https://schema.org"} | blog_posting(entry, absolute)),
        "card": share_card(
            title=entry.headline,
            description=description,
            url=absolute(entry.get_absolute_url()),
            type="article",
            picture=first_picture([entry]) or first_picture(newest()),
            absolute=absolute,
        ),
    }


def live_metadata(event: Event, entries: list[Entry], absolute: Absolute) -> dict[str, Any]:
    """The live page's JSON-LD and share card, for _page_metadata.html; entries are its
    first page, newest first."""
    return {
        "json_ld": json_ld(live_blog_posting(event, entries, absolute)),
        "card": share_card(
            title=event.title,
            description=described(event.summary or f"Live coverage: {event.title}"),
            url=absolute(event.get_absolute_url()),
            type="website",
            picture=first_picture(entries),
            absolute=absolute,
        ),
    }


def json_ld(data: dict[str, Any]) -> SafeString:
    """A <script type="application/ld+json"> of data: a block of data that browsers never
    run, so no nonce; <, > and & escaped so that no text in it can close the element."""
    text = json.dumps(data, ensure_ascii=False, separators=(",", ":"))
    text = text.replace("<", "\\u003c").replace(">", "\\u003e").replace("&", "\\u0026")
    return format_html('<script type="application/ld+json">{}</script>', mark_safe(text))
