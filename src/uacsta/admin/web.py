"""What the admin UI's pages and its REST API share: the login check (a
session cookie with a CSRF token for every change, or HTTP Basic for
scripts), the templates, and the :class:`AdminService` every handler goes
through."""

# No "from __future__ import annotations": FastAPI reads the signatures at run time.
import base64
from pathlib import Path
from typing import Annotated, Any

from fastapi import Depends, HTTPException, Request
from fastapi.responses import Response
from fastapi.templating import Jinja2Templates

from .. import __version__
from .auth import COOKIE, AdminAuth, AdminSession
from .service import AdminService

HERE = Path(__file__).parent
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
NAV = [
    ("status", "Server status"),
    ("dashboard", "Dashboard"),
    ("telephones", "Telephones"),
    ("phone-connection", "Phone connection"),
    ("client-connection", "Client connection"),
    ("advanced", "Advanced settings"),
    ("diagnostics", "Diagnostics"),
    ("trace", "Trace"),
    ("info", "Information"),
]
templates = Jinja2Templates(directory=HERE / "templates")


class NeedLogin(Exception):
    pass


async def admin(request: Request) -> AdminSession:
    auth: AdminAuth = request.app.state.auth
    session = auth.session(request.cookies.get(COOKIE))
    if session is not None and not await auth.still_there(session):
        session = None
    if session is not None:
        if request.method in UNSAFE:
            given = request.headers.get("x-csrf-token")
            if given is None and request.headers.get("content-type", "").startswith(
                ("application/x-www-form-urlencoded", "multipart/form-data")
            ):
                form = await request.form()
                value = form.get("csrf")
                given = value if isinstance(value, str) else None
            if not session.csrf_ok(given):
                raise HTTPException(403, "missing or wrong CSRF token: reload the page")
        return session
    basic = request.headers.get("authorization", "")
    if basic.lower().startswith("bearer "):
        local = auth.local(basic[7:].strip())
        if local is None:
            raise HTTPException(401, "wrong token")
        return local
    if basic.lower().startswith("basic "):
        try:
            name, _, password = base64.b64decode(basic[6:]).decode().partition(":")
        except (ValueError, UnicodeDecodeError):
            raise HTTPException(401, "bad Authorization header") from None
        source = request.client.host if request.client else "?"
        if await auth.verify(name, password, source):
            return AdminSession(name)
        raise HTTPException(401, "wrong admin name or password")
    if request.url.path.startswith("/api/") or request.url.path == "/metrics":
        raise HTTPException(401, "log in first (HTTP Basic with an admin account)")
    raise NeedLogin()


def service_of(request: Request) -> AdminService:
    service: AdminService = request.app.state.service
    return service


Admin = Annotated[AdminSession, Depends(admin)]
Service = Annotated[AdminService, Depends(service_of)]


def page(request: Request, name: str, session: AdminSession, **context: Any) -> Response:
    return templates.TemplateResponse(
        request,
        f"{name}.html",
        {"nav": NAV, "current": name, "session": session, "version": __version__, **context},
    )


def done(request: Request, message: str) -> Response:
    return templates.TemplateResponse(request, "message.html", {"ok": message})
