"""gunicorn for liveblog's HTTP: pages, the JSON API and the admin (deploy/README.md).

    gunicorn -c deploy/gunicorn.conf.py liveblog.wsgi:application

Daphne keeps /ws/ (and the per-process jobs); nginx sends everything else here. Any
value below can be overridden on the command line (bench/reads.py picks its own port).
"""

import multiprocessing
import os

# nginx on the same host proxies to this; nothing else should reach it.
bind = os.environ.get("GUNICORN_BIND", "127.0.0.1:8001")

# Sync workers: nginx reads each request whole and buffers each response, so a worker
# never waits on a reader's network, only on PostgreSQL and Redis (round trips of a
# fraction of a millisecond). One request per worker at a time, no threads: nothing in
# Django's request cycle is shared between requests, and a stuck request costs one worker.
worker_class = "sync"

# Twice the cores plus one (gunicorn's rule of thumb): a worker waiting on a query
# leaves its core to another. bench/reads.py measured 2 cores with wrk beside them.
# WEB_CONCURRENCY is the variable hosting platforms set.
workers = int(os.environ.get("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))

# Every view answers in milliseconds; a worker silent for 30 s is stuck (a query
# waiting on a lock, a dead database connection) and is killed and replaced. Daphne's
# http_timeout is the same 30 s (liveblog/server.py).
timeout = 30

# On a restart (a deploy, SIGHUP) requests in flight get this long to finish.
graceful_timeout = 10

# Each worker is replaced after about this many requests, so whatever a long-lived
# process might accumulate stays bounded; the jitter keeps them from restarting together.
max_requests = 10_000
max_requests_jitter = 1_000

# Each worker imports the app itself after the fork: nothing opened at import time (a
# database pool, a Redis connection) is ever shared between processes.
preload_app = False

# The worker heartbeat file on tmpfs: a slow or full disk never makes the master
# think a healthy worker hung.
worker_tmp_dir = "/dev/shm" if os.path.isdir("/dev/shm") else None

# No control socket: nothing here uses it, and its default path is one per user, so
# two gunicorns on one host (a deploy's old and new, the tests) would fight over it.
control_socket_disable = True

# nginx writes the access log; gunicorn's errors go to stderr (journald, docker logs).
accesslog = None
errorlog = "-"
# With LOG_FORMAT=json, gunicorn's own lines are JSON too, as its workers' are.
if os.environ.get("LOG_FORMAT") == "json":
    from liveblog.log_formats import gunicorn_json_logging

    logconfig_dict = gunicorn_json_logging()
proc_name = "liveblog-http"
