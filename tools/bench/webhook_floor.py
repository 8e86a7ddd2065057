"""The receiver's floor: the same stack (uvicorn, Starlette, one process) answering every POST
to /sentry/webhook with 200 after reading the body, and doing nothing else.

``python -m tools.bench.webhook_floor PORT``; answers GET /healthz once up.
"""

from __future__ import annotations

import sys

import uvicorn
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Route


async def receive(request: Request) -> Response:
    await request.body()
    return JSONResponse({"seq": 0, "duplicate": False})


async def healthz(_request: Request) -> Response:
    return JSONResponse({"status": "ok"})


app = Starlette(
    routes=[
        Route("/sentry/webhook", receive, methods=["POST"]),
        Route("/healthz", healthz, methods=["GET"]),
    ]
)

if __name__ == "__main__":
    uvicorn.run(app, host="127.0.0.1", port=int(sys.argv[1]), log_level="warning", server_header=False)
