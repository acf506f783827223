"""The admin web UI and its REST API (one FastAPI application).

Pages are rendered on the server (Jinja2) and made live with htmx (vendored
under ``static/``, no build step).  The REST API under ``/api/`` is what
scripts use; both go through :class:`AdminService`, so a value the API
refuses is refused by the form with the same words.  Authentication: a
session cookie from the login page (with a CSRF token for every change), or
HTTP Basic with an admin account for scripts.
"""

# No "from __future__ import annotations": FastAPI reads the route signatures
# at run time, and their dependency aliases are local names.
import asyncio
import base64
import logging
from collections.abc import AsyncIterator, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

from fastapi import Depends, FastAPI, Form, HTTPException, Request, UploadFile
from fastapi.responses import (
    FileResponse,
    HTMLResponse,
    JSONResponse,
    RedirectResponse,
    Response,
    StreamingResponse,
)
from fastapi.staticfiles import StaticFiles
from fastapi.templating import Jinja2Templates
from pydantic import BaseModel, Field

from .. import __version__
from ..net.apidocs import add_api_docs
from ..net.asgi import BoundedJson, SecurityHeaders
from ..provisioning.jobs import Job
from ..provisioning.service import Target
from ..settings import SECTIONS, parse_mac_list
from ..store import repo
from .auth import COOKIE, AdminAuth, AdminSession
from .service import AdminError, AdminService

if TYPE_CHECKING:
    from ..server import UacstaServer

log = logging.getLogger("uacsta.admin")
HERE = Path(__file__).parent
UNSAFE = {"POST", "PUT", "PATCH", "DELETE"}
NAV = [
    ("status", "Server status"),
    ("telephones", "Telephones"),
    ("phone-connection", "Phone connection"),
    ("client-connection", "Client connection"),
    ("advanced", "Advanced settings"),
    ("diagnostics", "Diagnostics"),
    ("info", "Information"),
]


VENDOR_LABELS = [
    ("snom", "snom"),
    ("yealink", "Yealink"),
    ("mitel", "Mitel"),
    ("poly", "Poly"),
    ("auerswald", "Auerswald"),
    ("gigaset", "Gigaset N870"),
]


class NeedLogin(Exception):
    pass


class Enabled(BaseModel):
    enabled: bool


class Password(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class FindRequest(BaseModel):
    interface: str = Field("", description="This host's IP address to search from (broadcast)")
    addresses: str = Field(
        "", description="Addresses to ask as well: IPs, ranges a-b, networks a/n"
    )
    duration: float = Field(3.0, description="Seconds to listen for answers")


class PhoneRef(BaseModel):
    ip: str
    vendor: str = ""
    mac: str = ""
    web_port: int = Field(80, ge=1, le=65535)


class ProvideRequest(BaseModel):
    phones: list[PhoneRef] = Field(min_length=1, max_length=10_000)


class VendorLogin(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field("", max_length=256)


class ClientChange(BaseModel):
    password: str | None = Field(None, max_length=256)
    allowed_devices: list[str] | None = None


def create_admin_app(server: "UacstaServer", auth: AdminAuth) -> FastAPI:
    service = AdminService(server)
    app = FastAPI(
        title="uacsta admin API",
        version=__version__,
        description="Settings, telephones, client logins, status and logs of a uacsta server. "
        "Authenticate with HTTP Basic (an admin account) or the web UI's session.",
        docs_url=None,
        openapi_url="/api/openapi.json",
        redoc_url=None,
    )
    add_api_docs(
        app, docs_url="/api/docs", openapi_url="/api/openapi.json", title="uacsta admin API"
    )
    app.add_middleware(BoundedJson)
    app.add_middleware(SecurityHeaders)
    app.mount("/static", StaticFiles(directory=HERE / "static"), name="static")
    templates = Jinja2Templates(directory=HERE / "templates")

    # -- authentication ---------------------------------------------------------------

    async def admin(request: Request) -> AdminSession:
        session = auth.session(request.cookies.get(COOKIE))
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
        if basic.lower().startswith("basic "):
            try:
                name, _, password = base64.b64decode(basic[6:]).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise HTTPException(401, "bad Authorization header") from None
            source = request.client.host if request.client else "?"
            if await auth.verify(name, password, source):
                return AdminSession(name)
            raise HTTPException(401, "wrong admin name or password")
        if request.url.path.startswith("/api/"):
            raise HTTPException(401, "log in first (HTTP Basic with an admin account)")
        raise NeedLogin()

    Admin = Annotated[AdminSession, Depends(admin)]

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

    def page(request: Request, name: str, session: AdminSession, **context: Any) -> Response:
        return templates.TemplateResponse(
            request,
            f"{name}.html",
            {"nav": NAV, "current": name, "session": session, "version": __version__, **context},
        )

    def done(request: Request, message: str) -> Response:
        return templates.TemplateResponse(request, "message.html", {"ok": message})

    # -- login ---------------------------------------------------------------------------

    @app.get("/login", response_class=HTMLResponse, include_in_schema=False)
    async def login_page(request: Request) -> Response:
        return templates.TemplateResponse(request, "login.html", {"version": __version__})

    @app.post("/login", include_in_schema=False)
    async def login(
        request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()]
    ) -> Response:
        source = request.client.host if request.client else "?"
        session = await auth.login(name, password, source)
        if session is None:
            return templates.TemplateResponse(
                request,
                "login.html",
                {"version": __version__, "error": "Wrong name or password.", "name": name},
                status_code=401,
            )
        response = RedirectResponse("/status", 303)
        response.set_cookie(
            COOKIE,
            session.token,
            httponly=True,
            samesite="strict",
            secure=request.url.scheme == "https",
            path="/",
        )
        return response

    @app.post("/logout", include_in_schema=False)
    async def logout(request: Request, session: Admin) -> Response:
        auth.logout(session.token)
        response: Response = RedirectResponse("/login", 303)
        if request.headers.get("hx-request"):
            response = Response(headers={"HX-Redirect": "/login"})
        response.delete_cookie(COOKIE, path="/")
        return response

    @app.get("/", include_in_schema=False)
    async def root() -> Response:
        return RedirectResponse("/status", 303)

    # -- pages ------------------------------------------------------------------------------

    @app.get("/status", response_class=HTMLResponse, include_in_schema=False)
    async def status_page(request: Request, session: Admin) -> Response:
        return page(
            request, "status", session, status=server.status(), log=service.log_since_start(200)
        )

    @app.get("/ui/status", response_class=HTMLResponse, include_in_schema=False)
    async def status_fragment(request: Request, session: Admin) -> Response:
        return templates.TemplateResponse(
            request, "status_counts.html", {"status": server.status()}
        )

    @app.post("/ui/service/{which}/{action}", include_in_schema=False)
    async def service_action(request: Request, which: str, action: str, session: Admin) -> Response:
        await service.service(which, action)
        return templates.TemplateResponse(
            request,
            "status_counts.html",
            {"status": server.status(), "ok": f"{which} service: {action} done"},
        )

    @app.get("/telephones", response_class=HTMLResponse, include_in_schema=False)
    async def telephones_page(request: Request, session: Admin) -> Response:
        return page(
            request,
            "telephones",
            session,
            phones=service.phones(),
            version_seen=server.telephones_version,
        )

    @app.get("/ui/telephones", response_class=HTMLResponse, include_in_schema=False)
    async def telephones_table(
        request: Request, session: Admin, q: str = "", sort: str = "mac"
    ) -> Response:
        phones = service.phones()
        if q:
            needle = q.lower()
            phones = [p for p in phones if any(needle in str(v).lower() for v in p.values())]
        key = sort.lstrip("-")
        if phones and key in phones[0]:
            phones.sort(key=lambda p: str(p[key] or ""), reverse=sort.startswith("-"))
        return templates.TemplateResponse(
            request, "telephones_table.html", {"phones": phones, "session": session, "sort": sort}
        )

    @app.get("/ui/telephones/events", include_in_schema=False)
    async def telephones_events(request: Request, session: Admin) -> StreamingResponse:
        async def stream() -> AsyncIterator[bytes]:
            seen = server.telephones_version
            yield b": live\n\n"
            while not await request.is_disconnected():
                try:
                    seen = await asyncio.wait_for(server.telephones_changed(seen), 15)
                    yield f"event: changed\ndata: {seen}\n\n".encode()
                except TimeoutError:
                    yield b": keep-alive\n\n"

        return StreamingResponse(stream(), media_type="text/event-stream")

    # -- Manage telephones (provisioning) -----------------------------------------------

    @app.get("/telephones/manage", response_class=HTMLResponse, include_in_schema=False)
    async def manage_page(request: Request, session: Admin) -> Response:
        model, _ = SECTIONS["provisioning"]
        assert server.box is not None
        password = await repo.get_secret(server.db, server.box, repo.PHONE_WEB_PASSWORD)
        return page(
            request,
            "manage-telephones",
            session,
            options=(await service.settings("provisioning")).model_dump(mode="json"),
            fields=model.model_fields,
            interfaces=service.interfaces(),
            records=await service.provisioned(),
            web_password_set=bool(password),
            vendors=VENDOR_LABELS,
        )

    async def job_fragment(request: Request, job: Job) -> Response:
        # The search marks phones provided already; a finished push or delete
        # also brings the list of provided phones up to date.
        records = await service.provisioned()
        return templates.TemplateResponse(
            request,
            "provisioning_job.html",
            {"job": job, "records": records, "provided": {r["mac"]: r["slot"] for r in records}},
        )

    @app.post("/ui/provisioning/find", include_in_schema=False)
    async def find_form(
        request: Request,
        session: Admin,
        interface: Annotated[str, Form()] = "",
        addresses: Annotated[str, Form()] = "",
        duration: Annotated[str, Form()] = "3",
    ) -> Response:
        try:
            seconds = float(duration)
        except ValueError:
            raise AdminError(f"{duration!r} is not a number of seconds") from None
        return await job_fragment(request, service.find(interface, addresses, seconds))

    async def provide_form(request: Request, action: str) -> Response:
        form = await request.form()
        targets = []
        for value in form.getlist("phone"):
            ip, _, rest = str(value).partition("|")
            vendor, _, mac = rest.partition("|")
            targets.append(Target(ip, vendor, mac))
        return await job_fragment(request, service.provide(action, targets))

    @app.post("/ui/provisioning/push", include_in_schema=False)
    async def push_form(request: Request, session: Admin) -> Response:
        return await provide_form(request, "push")

    @app.post("/ui/provisioning/delete", include_in_schema=False)
    async def delete_form(request: Request, session: Admin) -> Response:
        return await provide_form(request, "delete")

    @app.get("/ui/provisioning/jobs/{job_id}", include_in_schema=False)
    async def job_form(request: Request, job_id: str, session: Admin) -> Response:
        return await job_fragment(request, service.job(job_id))

    @app.post("/ui/provisioning/web-password", include_in_schema=False)
    async def web_password_form(
        request: Request, session: Admin, password: Annotated[str, Form()] = ""
    ) -> Response:
        await service.set_web_password(password)
        return done(request, "Web interface password stored.")

    @app.post("/ui/provisioning/vendor-login", include_in_schema=False)
    async def vendor_login_form(
        request: Request,
        session: Admin,
        vendor: Annotated[str, Form()],
        user: Annotated[str, Form()] = "",
        password: Annotated[str, Form()] = "",
    ) -> Response:
        await service.set_vendor_login(vendor, user.strip(), password)
        what = f"Web login for {vendor} phones"
        return done(request, f"{what} stored." if user.strip() else f"{what} removed.")

    @app.post("/ui/telephones/{mac}/enabled", include_in_schema=False)
    async def toggle_phone(
        request: Request, mac: str, session: Admin, enabled: Annotated[str, Form()] = ""
    ) -> Response:
        await service.set_enabled(mac, enabled == "on")
        return Response(status_code=204)

    @app.post("/ui/telephones/{mac}/remove", include_in_schema=False)
    async def remove_phone_ui(request: Request, mac: str, session: Admin) -> Response:
        await service.remove_phone(mac)
        return Response(status_code=204)

    def connection_page(name: str, section: str) -> Any:
        async def handler(request: Request, session: Admin) -> Response:
            extra: dict[str, Any] = {}
            if section == "client_connection":
                extra["clients"] = await service.clients()
            return page(
                request,
                name,
                session,
                settings=(await service.settings(section)).model_dump(mode="json"),
                certificate=service.certificate(),
                **extra,
            )

        return handler

    app.get("/phone-connection", response_class=HTMLResponse, include_in_schema=False)(
        connection_page("phone-connection", "phone_connection")
    )
    app.get("/client-connection", response_class=HTMLResponse, include_in_schema=False)(
        connection_page("client-connection", "client_connection")
    )

    @app.get("/advanced", response_class=HTMLResponse, include_in_schema=False)
    async def advanced_page(request: Request, session: Admin) -> Response:
        model, _ = SECTIONS["advanced"]
        return page(
            request,
            "advanced",
            session,
            settings=(await service.settings("advanced")).model_dump(mode="json"),
            fields=model.model_fields,
        )

    @app.get("/diagnostics", response_class=HTMLResponse, include_in_schema=False)
    async def diagnostics_page(request: Request, session: Admin) -> Response:
        return page(
            request,
            "diagnostics",
            session,
            settings=(await service.settings("diagnostics")).model_dump(mode="json"),
            files=service.log_files(),
        )

    @app.get("/info", response_class=HTMLResponse, include_in_schema=False)
    async def info_page(request: Request, session: Admin) -> Response:
        return page(request, "info", session)

    @app.post("/ui/settings/{section}", include_in_schema=False)
    async def save_form(request: Request, section: str, session: Admin) -> Response:
        form = await request.form()
        changes = form_to_settings(section, {k: str(v) for k, v in form.multi_items()})
        await service.update(section, changes)
        note = (
            " Restart the service for ports and addresses to take effect."
            if (section.endswith("_connection"))
            else ""
        )
        return done(request, f"Saved.{note}")

    @app.post("/ui/phone-password", include_in_schema=False)
    async def phone_password_form(
        request: Request, session: Admin, password: Annotated[str, Form()]
    ) -> Response:
        await service.set_phone_password(password)
        return done(request, "Phone password changed.")

    @app.post("/ui/clients", include_in_schema=False)
    async def client_form(
        request: Request,
        session: Admin,
        name: Annotated[str, Form()],
        password: Annotated[str, Form()] = "",
        allowed: Annotated[str, Form()] = "",
    ) -> Response:
        devices = [d.strip() for d in allowed.split(",") if d.strip()]
        await service.set_client(name.strip(), password or None, devices)
        return done(request, f"Client login {name} saved.")

    @app.post("/ui/clients/{name}/remove", include_in_schema=False)
    async def client_remove_form(request: Request, name: str, session: Admin) -> Response:
        await service.remove_client(name)
        return done(request, f"Client login {name} removed.")

    @app.post("/ui/certificate/regenerate", include_in_schema=False)
    async def regenerate_form(request: Request, session: Admin) -> Response:
        await service.regenerate_certificate()
        return done(request, "New certificate generated; restart the services to use it.")

    @app.post("/ui/certificate/upload", include_in_schema=False)
    async def upload_form(
        request: Request, session: Admin, certificate: UploadFile, key: UploadFile
    ) -> Response:
        await service.upload_certificate(await certificate.read(), await key.read())
        return done(request, "Certificate stored; restart the services to use it.")

    @app.get("/ui/log/tail", include_in_schema=False)
    async def log_tail(request: Request, session: Admin, macs: str = "") -> StreamingResponse:
        try:
            wanted = frozenset(parse_mac_list(macs))
        except ValueError as exc:
            raise AdminError(str(exc)) from None

        async def stream() -> AsyncIterator[bytes]:
            yield b": live\n\n"
            async for record in service.tail(wanted):
                if await request.is_disconnected():
                    return
                line = templates.get_template("log_line.html").render(r=record)
                yield ("event: line\ndata: " + line.replace("\n", " ") + "\n\n").encode()

        return StreamingResponse(stream(), media_type="text/event-stream")

    # -- REST API ----------------------------------------------------------------------------

    @app.get("/api/settings", tags=["settings"])
    async def api_settings(session: Admin) -> dict[str, Any]:
        return {name: (await service.settings(name)).model_dump(mode="json") for name in SECTIONS}

    @app.get("/api/settings/{section}", tags=["settings"])
    async def api_section(section: str, session: Admin) -> dict[str, Any]:
        return (await service.settings(section)).model_dump(mode="json")

    @app.patch("/api/settings/{section}", tags=["settings"])
    async def api_update(section: str, changes: dict[str, Any], session: Admin) -> dict[str, Any]:
        """Change some settings of a section (a partial object); all or nothing."""
        return (await service.update(section, changes)).model_dump(mode="json")

    @app.put("/api/phone-password", status_code=204, tags=["settings"])
    async def api_phone_password(body: Password, session: Admin) -> None:
        await service.set_phone_password(body.password)

    @app.get("/api/phones", tags=["telephones"])
    async def api_phones(session: Admin) -> list[dict[str, Any]]:
        return service.phones()

    @app.patch("/api/phones/{mac}", status_code=204, tags=["telephones"])
    async def api_phone(mac: str, body: Enabled, session: Admin) -> None:
        await service.set_enabled(mac, body.enabled)

    @app.delete("/api/phones/{mac}", status_code=204, tags=["telephones"])
    async def api_remove_phone(mac: str, session: Admin) -> None:
        await service.remove_phone(mac)

    @app.get("/api/provisioning/interfaces", tags=["provisioning"])
    async def api_interfaces(session: Admin) -> list[dict[str, str]]:
        """This host's IPv4 addresses that a search can start from."""
        return service.interfaces()

    @app.post("/api/provisioning/find", status_code=202, tags=["provisioning"])
    async def api_find(body: FindRequest, session: Admin) -> dict[str, Any]:
        """Start a search; follow it at ``/api/provisioning/jobs/{id}``."""
        return service.find(body.interface, body.addresses, body.duration).as_json()

    @app.post("/api/provisioning/push", status_code=202, tags=["provisioning"])
    async def api_push(body: ProvideRequest, session: Admin) -> dict[str, Any]:
        """Provide the telephones with the uaCSTA account (the stored options)."""
        targets = [Target(p.ip, p.vendor, p.mac, p.web_port) for p in body.phones]
        return service.provide("push", targets).as_json()

    @app.post("/api/provisioning/delete", status_code=202, tags=["provisioning"])
    async def api_delete(body: ProvideRequest, session: Admin) -> dict[str, Any]:
        """Delete provisioning: remove exactly what was written."""
        targets = [Target(p.ip, p.vendor, p.mac, p.web_port) for p in body.phones]
        return service.provide("delete", targets).as_json()

    @app.get("/api/provisioning/jobs/{job_id}", tags=["provisioning"])
    async def api_job(job_id: str, session: Admin) -> dict[str, Any]:
        return service.job(job_id).as_json()

    @app.get("/api/provisioning/records", tags=["provisioning"])
    async def api_records(session: Admin) -> list[dict[str, Any]]:
        """What provisioning wrote to each telephone (secrets shown as "(set)")."""
        return await service.provisioned()

    @app.put("/api/provisioning/web-password", status_code=204, tags=["provisioning"])
    async def api_web_password(body: Password, session: Admin) -> None:
        await service.set_web_password(body.password)

    @app.put("/api/provisioning/web-login/{vendor}", status_code=204, tags=["provisioning"])
    async def api_vendor_login(vendor: str, body: VendorLogin, session: Admin) -> None:
        """A vendor's own web login, for phones that do not take the common one."""
        await service.set_vendor_login(vendor, body.user, body.password)

    @app.delete("/api/provisioning/web-login/{vendor}", status_code=204, tags=["provisioning"])
    async def api_remove_vendor_login(vendor: str, session: Admin) -> None:
        await service.set_vendor_login(vendor, "", "")

    @app.get("/api/clients", tags=["clients"])
    async def api_clients(session: Admin) -> list[dict[str, Any]]:
        return await service.clients()

    @app.put("/api/clients/{name}", status_code=204, tags=["clients"])
    async def api_client(name: str, body: ClientChange, session: Admin) -> None:
        await service.set_client(name, body.password, body.allowed_devices)

    @app.delete("/api/clients/{name}", status_code=204, tags=["clients"])
    async def api_remove_client(name: str, session: Admin) -> None:
        await service.remove_client(name)

    @app.get("/api/certificate", tags=["certificate"])
    async def api_certificate(session: Admin) -> dict[str, Any]:
        return service.certificate()

    @app.get("/api/certificate/ca.pem", tags=["certificate"])
    async def api_ca(session: Admin) -> Response:
        paths = server.cert_paths
        if paths is None or paths.ca is None:
            raise HTTPException(404, "the certificate in use was not generated by uacsta")
        return FileResponse(paths.ca, media_type="application/x-pem-file", filename="uacsta-ca.pem")

    @app.get("/api/status", tags=["status"])
    async def api_status(session: Admin) -> dict[str, Any]:
        return server.status()

    @app.post("/api/services/{which}/{action}", tags=["status"])
    async def api_service(which: str, action: str, session: Admin) -> dict[str, Any]:
        """Start, stop or restart the phone or client service (the web UI stays up)."""
        await service.service(which, action)
        return server.status()

    @app.get("/api/logs", tags=["logs"])
    async def api_logs(session: Admin) -> list[dict[str, Any]]:
        return service.log_files()

    @app.get("/api/logs/{name}", tags=["logs"])
    async def api_log(name: str, session: Admin) -> Response:
        """A log file as it is now (the current one keeps growing while it is
        sent: exactly the bytes it had when asked are sent)."""
        path = service.log_path(name)
        size = path.stat().st_size

        def chunks() -> Iterator[bytes]:
            left = size
            with path.open("rb") as f:
                while left > 0:
                    data = f.read(min(left, 1 << 16))
                    if not data:
                        return
                    left -= len(data)
                    yield data

        return StreamingResponse(
            chunks(),
            media_type="text/plain",
            headers={
                "Content-Disposition": f'attachment; filename="{name}"',
                "Content-Length": str(size),
            },
        )

    return app


def form_to_settings(section: str, form: dict[str, str]) -> dict[str, Any]:
    """Form fields named like the settings (``lan.tcp_port``) as a partial
    settings object: empty text is null, checkboxes are booleans, numbers are
    numbers, comma lists are lists."""
    if section not in SECTIONS:
        raise AdminError(f"no settings section {section!r}", 404)
    _model, default = SECTIONS[section]
    template = default().model_dump(mode="json")
    out: dict[str, Any] = {}
    # unchecked checkboxes are not sent: every boolean of the form is named in "booleans"
    booleans = [b for b in form.get("booleans", "").split(",") if b]
    for name in booleans:
        form.setdefault(name, "")
    for name, raw in form.items():
        if name in ("csrf", "booleans"):
            continue
        node: Any = template
        for part in name.split("."):
            node = node.get(part) if isinstance(node, dict) else None
        value: Any
        if name in booleans:
            value = raw in ("on", "true", "1")
        elif raw == "":
            value = [] if isinstance(node, list) else "" if isinstance(node, str) else None
        elif isinstance(node, list):
            value = [p.strip() for p in raw.split(",") if p.strip()]
        elif isinstance(node, bool):
            value = raw in ("on", "true", "1")
        elif isinstance(node, int) or (node is None and raw.isascii() and raw.isdigit()):
            digits = raw.removeprefix("-")
            value = int(raw) if digits.isascii() and digits.isdigit() else raw
        elif isinstance(node, float):
            try:
                value = float(raw)
            except ValueError:
                value = raw
        else:
            value = raw
        target = out
        parts = name.split(".")
        for part in parts[:-1]:
            target = target.setdefault(part, {})
        target[parts[-1]] = value
    return out
