from django.conf import settings
from django.conf.urls.static import static
from django.contrib import admin
from django.urls import path, re_path

from updates import api, feeds, sitemaps, views

admin.site.site_header = "Liveblog newsroom"
admin.site.site_title = "Liveblog newsroom"
admin.site.index_title = "Events and updates"

urlpatterns = [
    path("", views.home, name="home"),
    path("live/<slug:slug>/", views.live, name="live"),
    path("live/<slug:slug>/entries/<int:entry_id>/", views.entry, name="entry"),
    path("live/<slug:slug>/embed/", views.embed, name="embed"),
    path("jsi18n/<str:language>/", views.script_strings, name="script-strings"),
    path("live/<slug:slug>/feed/", feeds.event_feed, name="event-feed"),
    path("feed/", feeds.events_feed, name="events-feed"),
    # For search engines: the index names each section's sitemap-<section>.xml.
    path("robots.txt", sitemaps.robots_txt, name="robots"),
    path("sitemap.xml", sitemaps.sitemap_index, name="sitemap"),
    path("sitemap-<section>.xml", sitemaps.sitemap_section, name="sitemap-section"),
    path("news-sitemap.xml", sitemaps.news_sitemap, name="news-sitemap"),
    path("healthz", api.health, name="health"),
    path("readyz", api.ready, name="ready"),
    path("metrics", api.metrics_text, name="metrics"),
    path("api/openapi.yaml", api.openapi, name="api-openapi"),
    path("api/events/<slug:slug>/", api.event_detail, name="api-event"),
    path("api/events/<slug:slug>/entries/", api.entry_list, name="api-entries"),
    path("api/events/<slug:slug>/changes/", api.change_list, name="api-changes"),
    # After the API's routes: whatever else is asked under api/ is a JSON 404.
    re_path(r"^api/", api.no_such_address, name=api.NO_SUCH_ADDRESS),
    path("admin/", admin.site.urls),
]
# Pictures from MEDIA_ROOT while developing (static() adds nothing with DEBUG off): in
# production nginx serves them, or the bucket does (docs/media.md). Not whitenoise, which
# knows only the files there when the process started.
urlpatterns += static(settings.MEDIA_URL, document_root=settings.MEDIA_ROOT)

# JSON under /api/, Django's own pages elsewhere (with DEBUG off; 404s under /api/ are the
# route above's, with DEBUG on too).
handler400 = api.bad_request
handler500 = api.server_error
