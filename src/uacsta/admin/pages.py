"""The admin web UI's pages and their htmx fragments and live streams: one
page per screen of the manual, rendered on the server (Jinja2), made live
with htmx (vendored under ``static/``, no build step)."""

# No "from __future__ import annotations": FastAPI reads the signatures at run time.
import asyncio
from collections.abc import AsyncIterator
from typing import Annotated, Any

from fastapi import APIRouter, Form, Request, UploadFile
from fastapi.responses import HTMLResponse, RedirectResponse, Response, StreamingResponse

from .. import __version__
from ..provisioning.jobs import Job
from ..provisioning.provisioner import Target
from ..settings import SECTIONS, parse_mac_list
from .auth import COOKIE
from .service import AdminError, AdminService
from .web import Admin, Service, done, page, templates

router = APIRouter(include_in_schema=False)
STATUS_LOG_LINES = 50  # the rest is in Diagnostics
# At most this often a live list is told to refresh (seconds).
REFRESH_INTERVAL = 0.5

VENDOR_LABELS = [
    ("snom", "snom"),
    ("yealink", "Yealink"),
    ("mitel", "Mitel"),
    ("poly", "Poly"),
    ("auerswald", "Auerswald"),
    ("gigaset", "Gigaset N870"),
]


# -- login ---------------------------------------------------------------------------


@router.get("/login", response_class=HTMLResponse, include_in_schema=False)
async def login_page(request: Request) -> Response:
    return templates.TemplateResponse(request, "login.html", {"version": __version__})


@router.post("/login", include_in_schema=False)
async def login(
    request: Request, name: Annotated[str, Form()], password: Annotated[str, Form()]
) -> Response:
    source = request.client.host if request.client else "?"
    session = await request.app.state.auth.login(name, password, source)
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


@router.post("/logout", include_in_schema=False)
async def logout(request: Request, session: Admin, service: Service) -> Response:
    request.app.state.auth.logout(session.token)
    response: Response = RedirectResponse("/login", 303)
    if request.headers.get("hx-request"):
        response = Response(headers={"HX-Redirect": "/login"})
    response.delete_cookie(COOKIE, path="/")
    return response


@router.get("/", include_in_schema=False)
async def root() -> Response:
    return RedirectResponse("/status", 303)


# -- pages ------------------------------------------------------------------------------


@router.get("/status", response_class=HTMLResponse, include_in_schema=False)
async def status_page(request: Request, session: Admin, service: Service) -> Response:
    return page(
        request,
        "status",
        session,
        status=service.status(),
        log=service.log_since_start(STATUS_LOG_LINES),
    )


@router.get("/ui/status", response_class=HTMLResponse, include_in_schema=False)
async def status_fragment(request: Request, session: Admin, service: Service) -> Response:
    return templates.TemplateResponse(request, "status_counts.html", {"status": service.status()})


@router.post("/ui/service/{which}/{action}", include_in_schema=False)
async def service_action(
    request: Request, which: str, action: str, session: Admin, service: Service
) -> Response:
    await service.service(which, action)
    return templates.TemplateResponse(
        request,
        "status_counts.html",
        {"status": service.status(), "ok": f"{which} service: {action} done"},
    )


@router.get("/telephones", response_class=HTMLResponse, include_in_schema=False)
async def telephones_page(request: Request, session: Admin, service: Service) -> Response:
    return page(
        request,
        "telephones",
        session,
        view=service.phone_page(),
        version_seen=service.telephones_version(),
    )


@router.get("/ui/telephones", response_class=HTMLResponse, include_in_schema=False)
async def telephones_table(
    request: Request,
    session: Admin,
    service: Service,
    q: str = "",
    sort: str = "mac",
    page: int = 1,
) -> Response:
    return templates.TemplateResponse(
        request,
        "telephones_table.html",
        {"view": service.phone_page(q, sort, page), "session": session},
    )


@router.post("/ui/telephones/bulk", include_in_schema=False)
async def telephones_bulk(request: Request, session: Admin, service: Service) -> Response:
    form = await request.form()
    macs = [str(m) for m in form.getlist("mac")]
    if form.get("action") == "restart":
        return await job_fragment(request, await service.restart_phones(macs), service)
    message = await service.bulk(str(form.get("action", "")), macs)
    return done(request, message[0].upper() + message[1:] + ".")


@router.get("/ui/telephones/events", include_in_schema=False)
async def telephones_events(
    request: Request, session: Admin, service: Service
) -> StreamingResponse:
    async def stream() -> AsyncIterator[bytes]:
        seen = service.telephones_version()
        yield b": live\n\n"
        while not await request.is_disconnected():
            try:
                seen = await asyncio.wait_for(service.telephones_after(seen), 15)
                yield f"event: changed\ndata: {seen}\n\n".encode()
                # While thousands of phones come up at once, one refresh of
                # the page shown per interval is enough: the next one takes
                # in every change made meanwhile.
                await asyncio.sleep(REFRESH_INTERVAL)
            except TimeoutError:
                yield b": keep-alive\n\n"

    return StreamingResponse(stream(), media_type="text/event-stream")


# -- Manage telephones (provisioning) -----------------------------------------------


@router.get("/telephones/manage", response_class=HTMLResponse, include_in_schema=False)
async def manage_page(request: Request, session: Admin, service: Service) -> Response:
    model, _ = SECTIONS["provisioning"]
    return page(
        request,
        "manage-telephones",
        session,
        options=(await service.settings("provisioning")).model_dump(mode="json"),
        fields=model.model_fields,
        interfaces=service.interfaces(),
        records=await service.provisioned(),
        web_password_set=await service.web_password_set(),
        vendors=VENDOR_LABELS,
    )


async def job_fragment(request: Request, job: Job, service: AdminService) -> Response:
    # The search marks phones provided already; a finished push or delete
    # also brings the list of provided phones up to date.
    records = await service.provisioned()
    return templates.TemplateResponse(
        request,
        "provisioning_job.html",
        {"job": job, "records": records, "provided": {r["mac"]: r["slot"] for r in records}},
    )


@router.post("/ui/provisioning/find", include_in_schema=False)
async def find_form(
    request: Request,
    session: Admin,
    service: Service,
    interface: Annotated[str, Form()] = "",
    addresses: Annotated[str, Form()] = "",
    duration: Annotated[str, Form()] = "3",
) -> Response:
    try:
        seconds = float(duration)
    except ValueError:
        raise AdminError(f"{duration!r} is not a number of seconds") from None
    return await job_fragment(request, service.find(interface, addresses, seconds), service)


async def provide_form(request: Request, action: str, service: AdminService) -> Response:
    form = await request.form()
    targets = []
    for value in form.getlist("phone"):
        ip, _, rest = str(value).partition("|")
        vendor, _, mac = rest.partition("|")
        targets.append(Target(ip, vendor, mac))
    return await job_fragment(request, service.provide(action, targets), service)


@router.post("/ui/provisioning/push", include_in_schema=False)
async def push_form(request: Request, session: Admin, service: Service) -> Response:
    return await provide_form(request, "push", service)


@router.post("/ui/provisioning/delete", include_in_schema=False)
async def delete_form(request: Request, session: Admin, service: Service) -> Response:
    return await provide_form(request, "delete", service)


@router.get("/ui/provisioning/jobs/{job_id}", include_in_schema=False)
async def job_form(request: Request, job_id: str, session: Admin, service: Service) -> Response:
    return await job_fragment(request, service.job(job_id), service)


@router.post("/ui/provisioning/web-password", include_in_schema=False)
async def web_password_form(
    request: Request, session: Admin, service: Service, password: Annotated[str, Form()] = ""
) -> Response:
    await service.set_web_password(password)
    return done(request, "Web interface password stored.")


@router.post("/ui/provisioning/vendor-login", include_in_schema=False)
async def vendor_login_form(
    request: Request,
    session: Admin,
    service: Service,
    vendor: Annotated[str, Form()],
    user: Annotated[str, Form()] = "",
    password: Annotated[str, Form()] = "",
) -> Response:
    await service.set_vendor_login(vendor, user.strip(), password)
    what = f"Web login for {vendor} phones"
    return done(request, f"{what} stored." if user.strip() else f"{what} removed.")


@router.post("/ui/telephones/{mac}/enabled", include_in_schema=False)
async def toggle_phone(
    request: Request,
    mac: str,
    session: Admin,
    service: Service,
    enabled: Annotated[str, Form()] = "",
) -> Response:
    await service.set_enabled(mac, enabled == "on")
    return Response(status_code=204)


@router.post("/ui/telephones/{mac}/remove", include_in_schema=False)
async def remove_phone_ui(request: Request, mac: str, session: Admin, service: Service) -> Response:
    await service.remove_phone(mac)
    return Response(status_code=204)


def connection_page(name: str, section: str) -> Any:
    async def handler(request: Request, session: Admin, service: Service) -> Response:
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


router.get("/phone-connection", response_class=HTMLResponse, include_in_schema=False)(
    connection_page("phone-connection", "phone_connection")
)
router.get("/client-connection", response_class=HTMLResponse, include_in_schema=False)(
    connection_page("client-connection", "client_connection")
)


@router.get("/advanced", response_class=HTMLResponse, include_in_schema=False)
async def advanced_page(request: Request, session: Admin, service: Service) -> Response:
    model, _ = SECTIONS["advanced"]
    return page(
        request,
        "advanced",
        session,
        settings=(await service.settings("advanced")).model_dump(mode="json"),
        fields=model.model_fields,
    )


@router.get("/diagnostics", response_class=HTMLResponse, include_in_schema=False)
async def diagnostics_page(request: Request, session: Admin, service: Service) -> Response:
    return page(
        request,
        "diagnostics",
        session,
        settings=(await service.settings("diagnostics")).model_dump(mode="json"),
        files=service.log_files(),
    )


@router.get("/info", response_class=HTMLResponse, include_in_schema=False)
async def info_page(request: Request, session: Admin, service: Service) -> Response:
    return page(request, "info", session)


@router.post("/ui/settings/{section}", include_in_schema=False)
async def save_form(request: Request, section: str, session: Admin, service: Service) -> Response:
    form = await request.form()
    changes = form_to_settings(section, {k: str(v) for k, v in form.multi_items()})
    await service.update(section, changes)
    note = (
        " Restart the service for ports and addresses to take effect."
        if (section.endswith("_connection"))
        else ""
    )
    return done(request, f"Saved.{note}")


@router.post("/ui/phone-password", include_in_schema=False)
async def phone_password_form(
    request: Request, session: Admin, service: Service, password: Annotated[str, Form()]
) -> Response:
    await service.set_phone_password(password)
    return done(request, "Phone password changed.")


@router.post("/ui/clients", include_in_schema=False)
async def client_form(
    request: Request,
    session: Admin,
    service: Service,
    name: Annotated[str, Form()],
    password: Annotated[str, Form()] = "",
    allowed: Annotated[str, Form()] = "",
) -> Response:
    devices = [d.strip() for d in allowed.split(",") if d.strip()]
    await service.set_client(name.strip(), password or None, devices)
    return done(request, f"Client login {name} saved.")


@router.post("/ui/clients/{name}/remove", include_in_schema=False)
async def client_remove_form(
    request: Request, name: str, session: Admin, service: Service
) -> Response:
    await service.remove_client(name)
    return done(request, f"Client login {name} removed.")


@router.post("/ui/certificate/regenerate", include_in_schema=False)
async def regenerate_form(request: Request, session: Admin, service: Service) -> Response:
    await service.regenerate_certificate()
    return done(request, "New certificate generated; restart the services to use it.")


@router.post("/ui/certificate/upload", include_in_schema=False)
async def upload_form(
    request: Request, session: Admin, service: Service, certificate: UploadFile, key: UploadFile
) -> Response:
    await service.upload_certificate(await certificate.read(), await key.read())
    return done(request, "Certificate stored; restart the services to use it.")


@router.get("/ui/log/tail", include_in_schema=False)
async def log_tail(
    request: Request, session: Admin, service: Service, macs: str = ""
) -> StreamingResponse:
    try:
        wanted = frozenset(parse_mac_list(macs))
    except ValueError as exc:
        raise AdminError(str(exc)) from None

    records = service.tail(wanted)  # from this moment on

    async def stream() -> AsyncIterator[bytes]:
        yield b": live\n\n"
        async for record in records:
            if await request.is_disconnected():
                return
            line = templates.get_template("log_line.html").render(r=record)
            yield ("event: line\ndata: " + line.replace("\n", " ") + "\n\n").encode()

    return StreamingResponse(stream(), media_type="text/event-stream")


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
