"""uacsta's configuration server for phones that load their uaCSTA settings
from a file: Mitel 6800 phones fetch ``startup.cfg`` from the server their
*Configuration Server* setting names (manual 3.5.1.2); provisioning points
that setting here.  It also hands out uacsta's CA certificate to phones that
load trusted certificates by URL (Yealink)."""

from __future__ import annotations

import hmac
import logging
from collections.abc import Awaitable, Callable

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import PlainTextResponse, Response
from starlette.routing import Route

from ..vendors.accounts import MITEL_PATH
from ..vendors.mitel import mitel_startup_cfg

log = logging.getLogger("uacsta.provisioning")

# (server address for the phones or "" for the one they asked, TCP port, password)
Source = Callable[[], Awaitable[tuple[str, int, str]]]


def config_folder(token: str) -> str:
    return f"{MITEL_PATH}/{token}"


CA_PATH = "ca.pem"


def create_config_app(source: Source, token: str, ca_pem: Callable[[], str]) -> Starlette:
    async def startup_cfg(request: Request) -> Response:
        if not hmac.compare_digest(str(request.path_params["token"]), token):
            return PlainTextResponse("not found\n", 404)
        server, port, password = await source()
        if not port:
            return PlainTextResponse("the phone connection has no TCP port\n", 503)
        host = server or (request.url.hostname or "")
        client = request.client.host if request.client else "?"
        log.info("startup.cfg sent to %s (csta proxy %s, port %d)", client, host, port)
        return PlainTextResponse(mitel_startup_cfg(host, port, password))

    async def ca(request: Request) -> Response:
        """uacsta's CA certificate (public), for phones that fetch it by URL (Yealink)."""
        pem = ca_pem()
        if not pem:
            return PlainTextResponse("the certificate in use was not made by uacsta\n", 404)
        return PlainTextResponse(pem, media_type="application/x-pem-file")

    return Starlette(
        routes=[
            Route(f"/{MITEL_PATH}/{{token}}/startup.cfg", startup_cfg),
            Route(f"/{CA_PATH}", ca),
        ]
    )
