"""Health, metrics, the dashboard and the per-device trace on the admin listener.

``/healthz`` and ``/readyz`` answer anyone (they say nothing but up or not,
for systemd, load balancers and the cluster); ``/metrics`` and the rest need
an admin login (HTTP Basic, which Prometheus' ``basic_auth`` sends, the
local token, or the web UI's session).
"""

# No "from __future__ import annotations": FastAPI reads the signatures at run time.
import asyncio
import contextlib
import json
from collections.abc import AsyncIterator

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, Response, StreamingResponse
from prometheus_client import CONTENT_TYPE_LATEST

from .service import AdminService
from .web import Admin, Service, page, service_of

router = APIRouter()
open_router = APIRouter()  # the metrics listener's: no login
KEEP_ALIVE = 15.0


@router.get("/healthz", tags=["health"])
async def healthz() -> dict[str, str]:
    """The process is alive and its event loop answers."""
    return {"status": "alive"}


@router.get("/readyz", tags=["health"])
async def readyz(request: Request) -> JSONResponse:
    """Ready to serve: the store answers and the phone and client services
    listen (503 with what is missing otherwise)."""
    service: AdminService = service_of(request)
    checks = await service.ready()
    return JSONResponse(checks, 200 if checks["ready"] else 503)


@router.get("/metrics", tags=["health"])
async def metrics(session: Admin, service: Service) -> Response:
    """Prometheus metrics (docs/metrics.md)."""
    return Response(service.metrics(), media_type=CONTENT_TYPE_LATEST)


@open_router.get("/metrics")
async def open_metrics(service: Service) -> Response:
    return Response(service.metrics(), media_type=CONTENT_TYPE_LATEST)


open_router.add_api_route("/healthz", healthz, methods=["GET"])
open_router.add_api_route("/readyz", readyz, methods=["GET"])


@router.get("/api/dashboard/{name}", tags=["status"])
async def api_dashboard(name: str, session: Admin, service: Service) -> dict[str, object]:
    """The dashboard's series over the last hour (a point every 10 s) or
    day (every 5 minutes): times (seconds since 1970), then each series."""
    return service.dashboard(name)


@router.get("/dashboard", include_in_schema=False)
async def dashboard_page(request: Request, session: Admin, service: Service) -> Response:
    return page(request, "dashboard", session)


@router.get("/ui/dashboard/events", include_in_schema=False)
async def dashboard_events(request: Request, session: Admin, service: Service) -> StreamingResponse:
    """A 'point' event whenever the series have a new point."""

    async def stream() -> AsyncIterator[bytes]:
        yield b": live\n\n"
        while not await request.is_disconnected():
            try:
                await asyncio.wait_for(service.next_point(), KEEP_ALIVE)
                yield b"event: point\ndata: new\n\n"
            except TimeoutError:
                yield b": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


@router.get("/api/trace", tags=["trace"])
async def api_trace(
    request: Request,
    session: Admin,
    service: Service,
    target: str,
    seconds: float = 60.0,
    messages: int = 1000,
) -> StreamingResponse:
    """Follow one phone (a MAC, or a device it has) live: its SIP messages
    with the CSTA they carry decoded, and the CSTA between the server and the
    clients about its devices, one JSON object a line.  Ends by itself after
    ``seconds`` or ``messages``; the last line says why."""
    mac, entries = service.trace(target, seconds, messages)

    async def lines() -> AsyncIterator[bytes]:
        yield (
            json.dumps({"tracing": mac, "seconds": seconds, "messages": messages}) + "\n"
        ).encode()
        async with contextlib.aclosing(entries):
            async for entry in entries:
                if await request.is_disconnected():
                    return
                yield (json.dumps(entry) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/trace", include_in_schema=False)
async def trace_page(request: Request, session: Admin, service: Service) -> Response:
    return page(request, "trace", session)
