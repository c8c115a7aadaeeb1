"""WSGI entry for gunicorn: pages, the API and the admin (deploy/README.md).

Daphne keeps the websockets, and with them the per-process jobs (updates/live/process.py):
nothing here starts the scheduler or the heartbeat.
"""

import os

from django.core.wsgi import get_wsgi_application

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "liveblog.settings")
application = get_wsgi_application()
