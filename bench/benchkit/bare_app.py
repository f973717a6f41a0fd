"""The floor of the HTTP stack: a bare ASGI app answering a fixed job-sized JSON body.

Served by the same uvicorn (httptools, uvloop, one process) as the gateway, so the ratio
gateway ÷ bare is the cost of everything AudioText adds to a request.
"""

from __future__ import annotations

import json
from typing import Any

BODY = json.dumps(
    {
        "id": "00000000-0000-0000-0000-000000000000",
        "filename": "jfk.flac",
        "url": "file:///uploads/jfk.flac",
        "status": "completed",
        "progress": 100,
        "result_text": "And so my fellow Americans, ask not what your country can do for you, "
        "ask what you can do for your country.",
        "error_message": None,
        "processing_time_seconds": 1.5,
        "model": "tiny.en",
        "creation_date": "2025-01-01T00:00:00Z",
        "update_date": "2025-01-01T00:00:00Z",
    }
).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    if scope["type"] == "lifespan":
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(BODY)).encode()),
            ],
        }
    )
    await send({"type": "http.response.body", "body": BODY})
