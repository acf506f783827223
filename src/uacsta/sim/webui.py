"""The simulated phones' web interfaces: each vendor's login method (HTTP
digest, basic, or a login form with a session cookie) and the endpoints that
provisioning uses (the server's side is each vendor's dialect in
``uacsta.vendors``; this one is written from the vendors' interfaces on its
own), on the
phone's own settings.  A device with ``fault="write"`` refuses every change
the way its vendor reports errors."""

from __future__ import annotations

import base64
import html
import json
import secrets
import time
from collections.abc import Awaitable, Callable
from typing import Protocol

from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, PlainTextResponse, Response
from starlette.routing import Route

from ..sip.digest import DigestServer, Verdict, compute_ha1, parse_credentials
from .vendors import MITEL_CONFIGURATION_SERVER_FORM as MITEL_FORM


class DeviceSpec(Protocol):
    @property
    def fault(self) -> str: ...

    @property
    def web_user(self) -> str: ...

    @property
    def web_password(self) -> str: ...

    @property
    def mac(self) -> str: ...

    @property
    def model(self) -> str: ...

    @property
    def firmware(self) -> str: ...


class SimDevice(Protocol):
    """What a web interface needs of the simulated device (``device.SimDevice``)."""

    @property
    def spec(self) -> DeviceSpec: ...

    @property
    def settings(self) -> dict[str, str]: ...

    @property
    def loaded_config(self) -> dict[str, str]: ...

    @property
    def vendor(self) -> str: ...

    @property
    def mac(self) -> str: ...

    def schedule_restart(self) -> None: ...


Handler = Callable[[Request], Awaitable[Response]]
LOCKED = "settings are locked by the administrator"


def _colons(mac: str) -> str:
    return ":".join(mac[i : i + 2] for i in range(0, 12, 2))


def _table(title: str, rows: dict[str, str]) -> str:
    cells = "".join(f"<tr><td>{k}:</td><td>{html.escape(v)}</td></tr>" for k, v in rows.items())
    return f"<html><head><title>{title}</title></head><body><table>{cells}</table></body></html>"


class _Auth:
    """The three login methods, checked before every handler."""

    def __init__(self, device: SimDevice) -> None:
        self.device = device
        self.digest = DigestServer(f"{device.vendor} {device.mac}", secrets.token_bytes(16))
        self.sessions: set[str] = set()

    def user_ok(self, user: str, password: str) -> bool:
        d = self.device.spec
        return secrets.compare_digest(f"{user}\0{password}", f"{d.web_user}\0{d.web_password}")

    def basic(self, handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            value = request.headers.get("authorization", "")
            if value.lower().startswith("basic "):
                with_pw = base64.b64decode(value[6:]).decode(errors="replace")
                user, _, password = with_pw.partition(":")
                if self.user_ok(user, password):
                    return await handler(request)
            return PlainTextResponse(
                "401 Unauthorized", 401, {"WWW-Authenticate": f'Basic realm="{self.device.vendor}"'}
            )

        return checked

    def digest_auth(self, handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            value = request.headers.get("authorization", "")
            if value.lower().startswith("digest "):
                try:
                    creds = parse_credentials(value)
                except ValueError:
                    creds = None
                if creds is not None and creds.username == self.device.spec.web_user:
                    ha1 = compute_ha1(
                        creds.username, self.digest.realm, self.device.spec.web_password
                    )
                    if self.digest.verify(creds, request.method, ha1, time.time()) is Verdict.OK:
                        return await handler(request)
            challenge = self.digest.challenges(time.time())[0].header_value()
            return PlainTextResponse("401 Unauthorized", 401, {"WWW-Authenticate": challenge})

        return checked

    def form(self, cookie: str, handler: Handler) -> Handler:
        async def checked(request: Request) -> Response:
            if request.cookies.get(cookie) in self.sessions:
                return await handler(request)
            return PlainTextResponse("login required", 403)

        return checked

    def new_session(self) -> str:
        sid = secrets.token_hex(16)
        self.sessions.add(sid)
        return sid


def snom_app(device: SimDevice) -> Starlette:
    auth = _Auth(device)

    async def info(request: Request) -> Response:
        d = device.spec
        title = f"snom {d.model}"
        rows = {
            "Phone Model": d.model,
            "MAC Address": _colons(d.mac),
            "Firmware Version": d.firmware,
        }
        return Response(_table(title, rows), media_type="text/html")

    async def settings(request: Request) -> Response:
        params = dict(request.query_params)
        if params.pop("settings", None) == "save":
            if device.spec.fault == "write":
                return PlainTextResponse(f"Error: {LOCKED}", 500)
            device.settings.update(params)
            return Response("<html><body>Settings saved</body></html>", media_type="text/html")
        lines = "".join(f"{k}!: {html.escape(v)}\n" for k, v in sorted(device.settings.items()))
        return Response(f"<html><body><pre>\n{lines}</pre></body></html>", media_type="text/html")

    async def update(request: Request) -> Response:
        if request.query_params.get("reboot") == "Reboot":
            device.schedule_restart()
            return Response("<html><body>Rebooting...</body></html>", media_type="text/html")
        return Response("<html><body>Software update</body></html>", media_type="text/html")

    return Starlette(
        routes=[
            Route("/info.htm", auth.digest_auth(info)),
            Route("/settings.htm", auth.digest_auth(settings)),
            Route("/advanced_update.htm", auth.digest_auth(update)),
        ]
    )


def yealink_app(device: SimDevice) -> Starlette:
    auth = _Auth(device)

    async def login(request: Request) -> Response:
        form = await request.form()
        if auth.user_ok(str(form.get("username", "")), str(form.get("pwd", ""))):
            response = Response("<html><body>status</body></html>", media_type="text/html")
            response.set_cookie("JSESSIONID", auth.new_session(), httponly=True)
            return response
        return Response(
            "<html><body>Login failed: wrong user name or password</body></html>",
            media_type="text/html",
        )

    async def data(request: Request) -> Response:
        page, q = request.query_params.get("p"), request.query_params.get("q")
        d = device.spec
        if page == "status" and q == "load":
            return JSONResponse(
                {"MacAddress": _colons(d.mac), "Model": d.model, "FirmwareVersion": d.firmware}
            )
        if page == "settings-config" and q == "exportcfg":
            body = "#!version:1.0.0.1\n" + "".join(
                f"{k} = {v}\n" for k, v in sorted(device.settings.items())
            )
            return PlainTextResponse(body)
        if page == "settings-config" and q == "importcfg" and request.method == "POST":
            if d.fault == "write":
                return JSONResponse({"ret": "failed", "msg": LOCKED})
            form = await request.form()
            upload = form.get("importcfg")
            if upload is None or isinstance(upload, str):
                return JSONResponse({"ret": "failed", "msg": "no configuration file"})
            text = (await upload.read()).decode(errors="replace")
            for line in text.splitlines():
                key, sep, value = line.partition("=")
                if sep and not line.startswith("#"):
                    device.settings[key.strip()] = value.strip()
            return JSONResponse({"ret": "ok"})
        if page == "settings-upgrade" and q == "reboot" and request.method == "POST":
            device.schedule_restart()
            return JSONResponse({"ret": "ok"})
        return PlainTextResponse("not found", 404)

    async def servlet(request: Request) -> Response:
        if request.query_params.get("m") == "mod_listener":
            return await login(request)
        return await auth.form("JSESSIONID", data)(request)

    return Starlette(routes=[Route("/servlet", servlet, methods=["GET", "POST"])])


def poly_app(device: SimDevice) -> Starlette:
    auth = _Auth(device)

    async def info(request: Request) -> Response:
        d = device.spec
        return JSONResponse(
            {
                "Status": "2000",
                "data": {
                    "MACAddress": d.mac.lower(),
                    "ModelNumber": d.model,
                    "FirmwareRelease": d.firmware,
                },
            }
        )

    async def get(request: Request) -> Response:
        keys = (await request.json()).get("data", [])
        return JSONResponse(
            {
                "Status": "2000",
                "data": {k: {"Value": device.settings.get(k, ""), "Source": "WEB"} for k in keys},
            }
        )

    async def set_(request: Request) -> Response:
        if device.spec.fault == "write":
            return JSONResponse({"Status": "4007", "Message": LOCKED}, 200)
        values = (await request.json()).get("data", {})
        device.settings.update({str(k): str(v) for k, v in values.items()})
        return JSONResponse({"Status": "2000"})

    async def restart(request: Request) -> Response:
        device.schedule_restart()
        return JSONResponse({"Status": "2000"})

    return Starlette(
        routes=[
            Route("/api/v1/mgmt/device/info", auth.basic(info)),
            Route("/api/v1/mgmt/config/get", auth.basic(get), methods=["POST"]),
            Route("/api/v1/mgmt/config/set", auth.basic(set_), methods=["POST"]),
            Route("/api/v1/mgmt/safeRestart", auth.basic(restart), methods=["POST"]),
        ]
    )


def mitel_app(device: SimDevice) -> Starlette:
    auth = _Auth(device)

    async def sysinfo(request: Request) -> Response:
        d = device.spec
        rows = {"Platform": d.model, "MAC Address": _colons(d.mac), "Firmware Version": d.firmware}
        return Response(_table(f"Mitel {d.model}", rows), media_type="text/html")

    async def config_server(request: Request) -> Response:
        if request.method == "POST":
            if device.spec.fault == "write":
                return Response(
                    f"<html><body>Error: {LOCKED}</body></html>", 500, media_type="text/html"
                )
            form = await request.form()
            for field, key in MITEL_FORM.items():
                if field in form:
                    device.settings[key] = str(form[field])
        values = {
            field: html.escape(device.settings.get(key, "")) for field, key in MITEL_FORM.items()
        }
        inputs = "".join(f'<input type="text" name="{f}" value="{v}">' for f, v in values.items())
        return Response(
            f"<html><body><form method=post>{inputs}</form></body></html>", media_type="text/html"
        )

    async def reset(request: Request) -> Response:
        form = await request.form()
        if form.get("resetOption") == "0":
            device.schedule_restart()
        return Response("<html><body>Restarting</body></html>", media_type="text/html")

    async def server_cfg(request: Request) -> Response:
        """Troubleshooting - Get server.cfg: what the phone loaded at its last start."""
        return PlainTextResponse("".join(f"{k}: {v}\n" for k, v in device.loaded_config.items()))

    return Starlette(
        routes=[
            Route("/sysinfo.html", auth.basic(sysinfo)),
            Route("/configurationServer.html", auth.basic(config_server), methods=["GET", "POST"]),
            Route("/reset.html", auth.basic(reset), methods=["POST"]),
            Route("/servercfg.html", auth.basic(server_cfg)),
        ]
    )


def gigaset_app(device: SimDevice) -> Starlette:
    auth = _Auth(device)

    async def login(request: Request) -> Response:
        try:
            body = await request.json()
        except json.JSONDecodeError:
            body = {}
        if auth.user_ok(str(body.get("username", "")), str(body.get("password", ""))):
            response = JSONResponse({"result": "ok"})
            response.set_cookie("sid", auth.new_session(), httponly=True)
            return response
        return JSONResponse({"error": "wrong user name or password"}, 401)

    async def status(request: Request) -> Response:
        d = device.spec
        return JSONResponse({"mac": _colons(d.mac), "model": d.model, "firmware": d.firmware})

    async def settings(request: Request) -> Response:
        if request.method == "POST":
            if device.spec.fault == "write":
                return JSONResponse({"error": LOCKED}, 409)
            values = await request.json()
            device.settings.update({str(k): str(v) for k, v in values.items()})
            return JSONResponse({"result": "ok"})
        return JSONResponse(device.settings)

    async def reboot(request: Request) -> Response:
        device.schedule_restart()
        return JSONResponse({"result": "ok"})

    return Starlette(
        routes=[
            Route("/login.json", login, methods=["POST"]),
            Route("/status.json", auth.form("sid", status)),
            Route("/settings.json", auth.form("sid", settings), methods=["GET", "POST"]),
            Route("/reboot.json", auth.form("sid", reboot), methods=["POST"]),
        ]
    )


def auerswald_app(device: SimDevice) -> Starlette:
    auth = _Auth(device)

    async def status(request: Request) -> Response:
        d = device.spec
        return JSONResponse(
            {"macAddress": _colons(d.mac), "device": d.model, "firmware": d.firmware}
        )

    async def settings(request: Request) -> Response:
        if request.method == "PATCH":
            if device.spec.fault == "write":
                return JSONResponse({"message": LOCKED}, 423)
            values = await request.json()
            device.settings.update({str(k): str(v) for k, v in values.items()})
            return Response(status_code=204)
        return JSONResponse(device.settings)

    async def reboot(request: Request) -> Response:
        device.schedule_restart()
        return Response(status_code=204)

    return Starlette(
        routes=[
            Route("/api/status", auth.digest_auth(status)),
            Route("/api/settings", auth.digest_auth(settings), methods=["GET", "PATCH"]),
            Route("/api/reboot", auth.digest_auth(reboot), methods=["POST"]),
        ]
    )


APPS: dict[str, Callable[[SimDevice], Starlette]] = {
    "snom": snom_app,
    "yealink": yealink_app,
    "poly": poly_app,
    "mitel": mitel_app,
    "gigaset": gigaset_app,
    "auerswald": auerswald_app,
}
