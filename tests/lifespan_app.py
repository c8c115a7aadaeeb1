"""A small ASGI application that tests/test_server_lifespan.py serves in a real process:
it answers every HTTP request with 200 and writes each lifespan event it gets to the file
LIFESPAN_TEST_EVENTS names. LIFESPAN_TEST_MODE says how it answers them: "complete",
"fail" (its startup fails), "hang" (it never finishes its shutdown), or "unsupported"
(it raises on the lifespan scope, as Channels' router without a "lifespan" route does).
"""

import asyncio
import os
from pathlib import Path


async def application(scope, receive, send):
    mode = os.environ["LIFESPAN_TEST_MODE"]
    if scope["type"] == "http":
        await send({"type": "http.response.start", "status": 200, "headers": []})
        await send({"type": "http.response.body", "body": b"serving"})
        return
    if scope["type"] != "lifespan" or mode == "unsupported":
        raise ValueError(f"No application configured for scope type {scope['type']!r}")
    events = Path(os.environ["LIFESPAN_TEST_EVENTS"])
    while True:
        message = await receive()
        with events.open("a") as file:
            file.write(message["type"] + "\n")
        if message["type"] == "lifespan.startup":
            if mode == "fail":
                await send({"type": "lifespan.startup.failed", "message": "no database"})
                return
            await send({"type": "lifespan.startup.complete"})
        elif message["type"] == "lifespan.shutdown":
            if mode == "hang":
                await asyncio.sleep(3600)
            await send({"type": "lifespan.shutdown.complete"})
            return
