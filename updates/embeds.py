"""Video and social posts in entries, private until the reader chooses.

A journalist pastes a link; an entry keeps it as an embed of a known provider
({"kind": "embed", "provider", "url", "title"} in Entry.media). Readers first get a
placeholder that names the provider and links to the post: nothing is asked of the
provider (no script, no frame, no image) until the reader clicks "Show content from
<provider>". A provider whose player can be framed from the link alone (YouTube through
its privacy-enhanced domain, Vimeo) then plays in place; the others stay a link card.
Which providers a site takes is settings.EMBED_PROVIDERS; the Content-Security-Policy
frames only their players (frame-src in liveblog/settings.py).
"""

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import parse_qs, urlsplit

from django.conf import settings
from django.core.exceptions import ValidationError
from django.utils.translation import gettext_lazy as _

YOUTUBE_ID = re.compile(r"[A-Za-z0-9_-]{11}")


def youtube_player(url: str) -> str | None:
    parts = urlsplit(url)
    if parts.hostname == "youtu.be":
        candidate = parts.path.strip("/")
    elif parts.path == "/watch":
        candidate = parse_qs(parts.query).get("v", [""])[0]
    else:
        candidate = re.sub(r"^/(shorts|embed|live)/", "", parts.path).strip("/")
    if not YOUTUBE_ID.fullmatch(candidate):
        return None
    return f"https://www.youtube-nocookie.com/embed/{candidate}"


def vimeo_player(url: str) -> str | None:
    found = re.fullmatch(r"/(?:video/)?(\d+)/?", urlsplit(url).path)
    return f"https://player.vimeo.com/video/{found[1]}?dnt=1" if found else None


@dataclass(frozen=True)
class Provider:
    name: str
    label: str  # "Show content from <label>"
    hosts: tuple[str, ...]
    # The player's address for a link, for a provider whose player can be framed.
    player: Callable[[str], str | None] | None = None
    player_origin: str = ""
    # A post's path, for a provider on many hosts (Mastodon).
    path: re.Pattern[str] | None = None

    def takes(self, url: str) -> bool:
        parts = urlsplit(url)
        host = (parts.hostname or "").removeprefix("www.").removeprefix("m.")
        if self.path is not None:
            return bool(self.path.fullmatch(parts.path))
        if host not in self.hosts:
            return False
        return self.player is None or self.player(url) is not None


PROVIDERS = {
    provider.name: provider
    for provider in (
        Provider(
            "youtube",
            "YouTube",
            ("youtube.com", "youtu.be"),
            youtube_player,
            "https://www.youtube-nocookie.com",
        ),
        Provider("vimeo", "Vimeo", ("vimeo.com",), vimeo_player, "https://player.vimeo.com"),
        Provider("x", "X", ("x.com", "twitter.com")),
        Provider("bluesky", "Bluesky", ("bsky.app",)),
        Provider("instagram", "Instagram", ("instagram.com",)),
        Provider("tiktok", "TikTok", ("tiktok.com",)),
        # Any instance: a post's address is /@user/<number>.
        Provider("mastodon", "Mastodon", (), path=re.compile(r"/@[\w.]+(@[\w.-]+)?/\d+/?")),
    )
}


def providers() -> list[Provider]:
    """The providers this site takes, in the order settings.EMBED_PROVIDERS names them."""
    return [PROVIDERS[name] for name in settings.EMBED_PROVIDERS]


def embed_for(url: str, *, title: str = "") -> dict[str, Any]:
    """The entry's embed of `url`. Raises ValidationError for a link no provider takes."""
    if urlsplit(url).scheme != "https":
        raise ValidationError(_("Paste the post's https:// address."))
    for provider in providers():
        if provider.takes(url):
            return {"kind": "embed", "provider": provider.name, "url": url, "title": title}
    names = ", ".join(provider.label for provider in providers())
    raise ValidationError(f"Only links to {names} can be embedded.")


def player_of(embed: Mapping[str, Any]) -> str:
    """The address to frame after the reader's click; empty for a link card."""
    provider = PROVIDERS[embed["provider"]]
    return (provider.player(embed["url"]) or "") if provider.player else ""
