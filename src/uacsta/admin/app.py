"""The admin web UI and its REST API, one FastAPI application: the pages
(``pages.py``), the REST API (``api.py``), their shared login check
(``web.py``), all going through :class:`AdminService`, which sees narrow
parts of the server (``AdminParts``) and never the server itself."""

# No "from __future__ import annotations": FastAPI reads the route signatures at run time.
from fastapi import FastAPI, Request
from fastapi.responses import JSONResponse, RedirectResponse, Response
from fastapi.staticfiles import StaticFiles

from .. import __version__
from ..net.apidocs import add_api_docs
from ..net.asgi import BoundedJson, SecurityHeaders
from . import api, observe, pages
from .auth import AdminAuth
from .service import AdminError, AdminService
from .web import HERE, NeedLogin, templates


def create_admin_app(service: AdminService, auth: AdminAuth) -> FastAPI:
    app = FastAPI(
        title="uacsta admin API",
        version=__version__,
        description="Settings, telephones, client logins, status and logs of a uacsta server. "
        "Authenticate with HTTP Basic (an admin account) or the web UI's session.",
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    app.state.service = service
    app.state.auth = auth
    add_api_docs(
        app, docs_url="/api/docs", openapi_url="/api/openapi.json", title="uacsta admin API"
    )
    app.add_middleware(BoundedJson)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")

    @app.exception_handler(NeedLogin)
    async def need_login(request: Request, exc: NeedLogin) -> Response:
        if request.headers.get("hx-request"):
            return Response(status_code=401, headers={"HX-Redirect": "/login"})
        return RedirectResponse("/login", 303)

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> Response:
        if request.headers.get("hx-request"):
            return templates.TemplateResponse(
                request, "message.html", {"error": str(exc)}, status_code=200
            )
        return JSONResponse({"detail": str(exc)}, exc.status)

    app.include_router(pages.router)
    app.include_router(api.router)
    app.include_router(observe.router)
    return app


def create_metrics_app(service: AdminService) -> FastAPI:
    """/metrics, /healthz and /readyz alone, without a login, for the
    ``metrics_listen`` listener (Prometheus, load balancers)."""
    app = FastAPI(
        title="uacsta metrics", version=__version__, docs_url=None, openapi_url=None, redoc_url=None
    )
    app.state.service = service
    app.add_middleware(SecurityHeaders)

    @app.exception_handler(AdminError)
    async def admin_error(request: Request, exc: AdminError) -> Response:
        return JSONResponse({"detail": str(exc)}, exc.status)

    app.include_router(observe.open_router)
    return app
