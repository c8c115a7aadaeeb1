"""Errors to Sentry (sentry-sdk), when SENTRY_DSN is set: an exception a request or a
socket did not handle, and every line logged at ERROR (liveblog logs each outage's first
failure there: a publish Redis refused, a job failing). Nothing is sent without it."""

import sentry_sdk


def start(dsn: str, *, environment: str) -> None:
    sentry_sdk.init(
        dsn=dsn,
        environment=environment,
        # A reader's address and cookies, and a journalist's account, stay here.
        send_default_pii=False,
        # Nor the words a journalist was posting: an embargoed result must not leave the
        # newsroom in an error report.
        max_request_body_size="never",
        # Errors only: no tracing, which would time every request and socket.
        traces_sample_rate=None,
    )
