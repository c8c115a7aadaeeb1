"""What search engines read: /robots.txt, the sitemap index at /sitemap.xml (the events'
live pages and the entries' permalinks, each with when readers last saw it change), and
the Google News sitemap of the events changed in the last two days. The times are the
feeds' (updated in updates/feeds.py)."""

from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from django.conf import settings
from django.contrib.sitemaps import Sitemap
from django.contrib.sitemaps import views as sitemap_views
from django.contrib.sites.requests import RequestSite
from django.db.models import Max, Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.shortcuts import render
from django.utils import timezone
from django.views.decorators.cache import cache_control
from django.views.decorators.http import require_GET

from updates.feeds import entry_updated_at, event_changed_at, events_with_changes, words_changed_at
from updates.models import Entry, Event

if TYPE_CHECKING:
    # Only its type: the sites framework is not installed (pages name the request's host).
    from django.contrib.sites.models import Site

# How long a crawler's copy may be served by a proxy: a new entry reaches the sitemaps
# within five minutes.
SITEMAP_SECONDS = 300
ROBOTS_SECONDS = 24 * 60 * 60
# Google News reads only the stories of the last two days, at most 1,000 a sitemap.
NEWS_DAYS = 2
NEWS_LIMIT = 1000


class EventSitemap(Sitemap):
    def items(self) -> QuerySet[Event]:
        return events_with_changes().order_by("pk")

    def lastmod(self, event: Event) -> datetime:
        return event_changed_at(event)


class EntrySitemap(Sitemap):
    def items(self) -> QuerySet[Entry]:
        # Only what the permalink and the time need: bodies can be long.
        return (
            Entry.objects.visible()
            .select_related("event")
            .only("published_at", "edited_at", "event__slug")
            .order_by("pk")
        )

    def lastmod(self, entry: Entry) -> datetime:
        return entry_updated_at(entry)

    def get_latest_lastmod(self) -> datetime | None:
        # One query, where Django's default reads every entry for the index's <lastmod>.
        newest = Entry.objects.visible().aggregate(latest=Max(words_changed_at()))
        return newest["latest"]


class NewsSitemap(Sitemap):
    limit = NEWS_LIMIT

    def items(self) -> QuerySet[Event]:
        since = timezone.now() - timedelta(days=NEWS_DAYS)
        return (
            events_with_changes()
            .filter(Q(updated_at__gte=since) | Q(entries_changed_at__gte=since))
            # Not news before its coverage starts: its publication date would be to come.
            .exclude(status=Event.Status.SCHEDULED)
            .order_by("-starts_at", "-pk")
        )

    def lastmod(self, event: Event) -> datetime:
        return event_changed_at(event)

    def get_urls(
        self,
        page: int | str = 1,
        site: "Site | RequestSite | None" = None,
        protocol: str | None = None,
    ) -> list[dict[str, Any]]:
        # The template reads the publication beside each event (<news:publication>).
        publication = {"name": settings.SITE_NAME, "language": news_language()}
        return [
            url | {"publication": publication} for url in super().get_urls(page, site, protocol)
        ]


def news_language() -> str:
    """The site's language as Google News names it: ISO 639 ("en" for en-gb), except
    Chinese, which it names with the script's region (zh-cn, zh-tw)."""
    code = settings.LANGUAGE_CODE.lower()
    return code if code in ("zh-cn", "zh-tw") else code.split("-")[0]


# Quoted: Sitemap is generic only in its stubs.
SITEMAPS: "dict[str, type[Sitemap[Any]] | Sitemap[Any]]" = {
    "events": EventSitemap,
    "entries": EntrySitemap,
}


@require_GET
@cache_control(public=True, max_age=SITEMAP_SECONDS)
def sitemap_index(request: HttpRequest) -> HttpResponse:
    return sitemap_views.index(request, SITEMAPS, sitemap_url_name="sitemap-section")


@require_GET
@cache_control(public=True, max_age=SITEMAP_SECONDS)
def sitemap_section(request: HttpRequest, section: str) -> HttpResponse:
    """One section of the index, a page of it with ?p=; 404 for any other."""
    return sitemap_views.sitemap(
        request, SITEMAPS, section=section, template_name="sitemaps/urlset.xml"
    )


@require_GET
@cache_control(public=True, max_age=SITEMAP_SECONDS)
def news_sitemap(request: HttpRequest) -> HttpResponse:
    return sitemap_views.sitemap(request, {"news": NewsSitemap}, template_name="sitemaps/news.xml")


@require_GET
@cache_control(public=True, max_age=ROBOTS_SECONDS)
def robots_txt(request: HttpRequest) -> HttpResponse:
    return render(request, "sitemaps/robots.txt", content_type="text/plain; charset=utf-8")
