"""The server's side of the ASGI lifespan protocol, which stock Daphne does not speak:
liveblog/server.py tells the application when the process starts and stops serving, as
uvicorn and hypercorn do (ASGI lifespan spec 2.0).
"""

import asyncio
import logging
from typing import Any

logger = logging.getLogger(__name__)

SCOPE = {"type": "lifespan", "asgi": {"version": "3.0", "spec_version": "2.0"}}


class LifespanFailed(Exception):
    """The application answered its startup with failure: the process must not serve."""


class Lifespan:
    """The process's one application instance of the lifespan scope."""

    def __init__(self, application) -> None:
        self.application = application
        self._input: asyncio.Queue[dict] = asyncio.Queue()
        self._replies: asyncio.Queue[dict] = asyncio.Queue()
        self._instance: asyncio.Future[None] | None = None
        self.started = False

    @property
    def instance(self) -> "asyncio.Future[None]":
        """The application's instance for the lifespan scope, made by startup()."""
        if self._instance is None:
            raise RuntimeError("The lifespan has not started")
        return self._instance

    async def startup(self) -> None:
        """Returns once the application's startup is complete, or at once if the application
        does not take the lifespan scope; raises LifespanFailed if its startup failed."""
        scope = SCOPE | {"state": {}}
        self._instance = asyncio.ensure_future(
            self.application(scope, self._input.get, self._replies.put)
        )
        reply = await self._exchange("lifespan.startup")
        if reply is None:
            return
        if reply["type"] != "lifespan.startup.complete":
            raise LifespanFailed(reply.get("message") or reply["type"])
        self.started = True

    async def shutdown(self, timeout: float) -> None:
        """Tells an application whose startup completed that the process stops serving,
        and waits for it at most `timeout` seconds."""
        if not self.started:
            return
        try:
            async with asyncio.timeout(timeout):
                reply = await self._exchange("lifespan.shutdown")
        except TimeoutError:
            logger.warning("The application's lifespan shutdown took over %s s: cancelled", timeout)
            self.instance.cancel()
            return
        if reply is not None and reply["type"] != "lifespan.shutdown.complete":
            logger.error(
                "The application's lifespan shutdown failed: %s",
                reply.get("message") or reply["type"],
            )

    async def _exchange(self, event: str) -> dict | None:
        """Sends the event; the application's reply, or None if it ended instead."""
        await self._input.put({"type": event})
        reply = asyncio.ensure_future(self._replies.get())
        try:
            either: set[asyncio.Future[Any]] = {reply, self.instance}
            await asyncio.wait(either, return_when=asyncio.FIRST_COMPLETED)
            if reply.done():
                return reply.result()
        finally:
            reply.cancel()
        # As the spec asks of servers: an application that raises on the lifespan scope
        # (Channels' ProtocolTypeRouter without a "lifespan" route) is served without it.
        error = None if self.instance.cancelled() else self.instance.exception()
        logger.info("The application takes no lifespan events (%r): serving without them", error)
        return None
