"""How liveblog's processes write their log lines (LOG_FORMAT): Django's and the app's
through settings.LOGGING, gunicorn's own through deploy/gunicorn.conf.py.

plain: lines for people. json: one JSON object a line for a log collector, with time,
level, logger and message, and the fields a line carries besides (a publish's event,
entry, revision, user and commit_to_publish_ms: updates/live/broadcast.py).
"""

LOG_FORMATS: dict[str, dict[str, object]] = {
    "plain": {"format": "%(asctime)s %(levelname)s %(name)s: %(message)s"},
    "json": {
        "()": "pythonjsonlogger.json.JsonFormatter",
        "fmt": "%(levelname)s %(name)s %(message)s",
        "rename_fields": {"levelname": "level", "name": "logger"},
        # ISO 8601 in UTC, as the API's times.
        "timestamp": "time",
    },
}


def gunicorn_json_logging() -> dict[str, object]:
    """gunicorn's logconfig_dict for LOG_FORMAT=json: its own lines (a worker booted, timed
    out, killed) as JSON on stderr, as the workers' are. It takes the place of
    gunicorn's defaults for each key given (gunicorn/glogging.py CONFIG_DEFAULTS)."""
    return {
        "formatters": {"generic": LOG_FORMATS["json"]},
        "loggers": {
            "gunicorn.error": {"level": "INFO", "handlers": ["error_console"], "propagate": False},
            # nginx writes the access log (accesslog = None), which a logging configuration
            # would turn on.
            "gunicorn.access": {"level": "WARNING", "handlers": [], "propagate": False},
        },
    }
