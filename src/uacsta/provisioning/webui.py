"""The phones' web interfaces as provisioning uses them: each vendor's login
method (HTTP digest, basic, or a login form with a session cookie) and the
pages or API calls that identify the phone, read and write its settings and
restart it.

Where a vendor documents the interface it is followed (snom's settings URL
from the manual, Poly's REST API); the others are modelled on the vendor's web
UI, and the simulator serves the same endpoints (``uacsta.sim.webui``).  Each
call's failure becomes a :class:`WebError` whose text is what the phone said.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from ..phones.identity import normalise_user


class WebError(Exception):
    """The web interface refused or failed; the text is for the administrator."""


class LoginRefused(WebError):
    pass


@dataclass(frozen=True, slots=True)
class Identity:
    mac: str
    model: str
    firmware: str


def _mac(text: str) -> str:
    bare = re.sub(r"[:.\-\s]", "", text)
    return normalise_user(bare) or ""


def _check(response: httpx.Response, what: str) -> httpx.Response:
    if response.status_code in (401, 403):
        raise LoginRefused(
            f"web interface refused the login (HTTP {response.status_code}); "
            "check the web user and password in the provisioning options"
        )
    if response.status_code >= 400:
        detail = re.sub(r"<[^>]+>", " ", response.text)
        detail = " ".join(html.unescape(detail).split())[:200]
        raise WebError(f"{what}: HTTP {response.status_code} {detail}".rstrip())
    return response


def _json(response: httpx.Response, what: str) -> Any:
    try:
        return response.json()
    except ValueError:
        raise WebError(f"{what}: the phone answered no JSON") from None


class Dialect:
    """One vendor's web interface; subclasses fill in the calls."""

    vendor: ClassVar[str]

    def auth(self, user: str, password: str) -> httpx.Auth | None:
        return None

    async def login(self, http: httpx.AsyncClient, user: str, password: str) -> None:
        """Form logins post here; HTTP authentication needs nothing."""

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        raise NotImplementedError

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        raise NotImplementedError

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        raise NotImplementedError

    async def restart(self, http: httpx.AsyncClient) -> None:
        raise NotImplementedError


def _html_field(page: str, label: str) -> str:
    m = re.search(
        rf"<td[^>]*>\s*{label}\s*:?\s*</td>\s*<td[^>]*>\s*([^<]*?)\s*</td>", page, re.I | re.S
    )
    return html.unescape(m.group(1)) if m else ""


async def _info_page(http: httpx.AsyncClient, path: str, model_label: str) -> Identity:
    """An HTML status page with a table of "label: value" rows."""
    page = _check(await http.get(path), f"reading {path}").text
    return Identity(
        _mac(_html_field(page, "MAC Address")),
        _html_field(page, model_label),
        _html_field(page, "Firmware Version"),
    )


class Snom(Dialect):
    """HTTP digest (snom's "Authentication Scheme: on"); settings by URL, as in
    the manual's ``settings.htm?csta_legacy_control=4&settings=save``."""

    vendor = "snom"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.DigestAuth(user, password)

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        return await _info_page(http, "/info.htm", "Phone Model")

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        page = _check(await http.get("/settings.htm"), "reading settings.htm").text
        out = {}
        for line in html.unescape(page).splitlines():
            m = re.match(r"^\s*(\w+)[!&$]?:\s?(.*?)\s*$", line)
            if m:
                out[m.group(1)] = m.group(2)
        return out

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        _check(
            await http.get("/settings.htm", params={**settings, "settings": "save"}),
            "saving settings",
        )

    async def restart(self, http: httpx.AsyncClient) -> None:
        _check(await http.get("/advanced_update.htm", params={"reboot": "Reboot"}), "reboot")


YEALINK = "/servlet"


class Yealink(Dialect):
    """A login form with a session cookie; settings as a configuration file
    exported and imported (Settings - Configuration)."""

    vendor = "yealink"

    async def login(self, http: httpx.AsyncClient, user: str, password: str) -> None:
        r = await http.post(
            YEALINK,
            params={"m": "mod_listener", "p": "login", "q": "loginForm", "jumpto": "status"},
            data={"username": user, "pwd": password},
        )
        _check(r, "login")
        if not http.cookies.get("JSESSIONID"):
            raise LoginRefused(
                "web interface refused the login; check the web user and password "
                "in the provisioning options"
            )

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        r = _check(
            await http.get(YEALINK, params={"m": "mod_data", "p": "status", "q": "load"}),
            "reading the status",
        )
        data = _json(r, "reading the status")
        return Identity(
            _mac(str(data.get("MacAddress", ""))),
            str(data.get("Model", "")),
            str(data.get("FirmwareVersion", "")),
        )

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        params = {"m": "mod_data", "p": "settings-config", "q": "exportcfg"}
        text = _check(await http.get(YEALINK, params=params), "exporting the configuration").text
        out = {}
        for line in text.splitlines():
            key, sep, value = line.partition("=")
            if sep and not line.lstrip().startswith("#"):
                out[key.strip()] = value.strip()
        return out

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        body = "#!version:1.0.0.1\n" + "".join(f"{k} = {v}\n" for k, v in settings.items())
        r = await http.post(
            YEALINK,
            params={"m": "mod_data", "p": "settings-config", "q": "importcfg"},
            files={"importcfg": ("uacsta.cfg", body.encode(), "text/plain")},
        )
        data = _json(_check(r, "importing the configuration"), "importing the configuration")
        if data.get("ret") != "ok":
            raise WebError(f"importing the configuration: {data.get('msg') or data}")

    async def restart(self, http: httpx.AsyncClient) -> None:
        params = {"m": "mod_data", "p": "settings-upgrade", "q": "reboot"}
        _check(await http.post(YEALINK, params=params), "reboot")


class Poly(Dialect):
    """The REST API of Poly UC Software (``/api/v1/mgmt``), HTTP basic."""

    vendor = "poly"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.BasicAuth(user, password)

    @staticmethod
    def _data(r: httpx.Response, what: str) -> Any:
        body = _json(_check(r, what), what)
        if str(body.get("Status")) != "2000":
            raise WebError(f"{what}: status {body.get('Status')} {body.get('Message', '')}".strip())
        return body.get("data")

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        data = self._data(await http.get("/api/v1/mgmt/device/info"), "reading device info")
        return Identity(
            _mac(str(data.get("MACAddress", ""))),
            str(data.get("ModelNumber", "")),
            str(data.get("FirmwareRelease", "")),
        )

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        data = self._data(
            await http.post("/api/v1/mgmt/config/get", json={"data": keys}), "reading settings"
        )
        return {k: str(v.get("Value", "")) for k, v in (data or {}).items()}

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        self._data(
            await http.post("/api/v1/mgmt/config/set", json={"data": settings}), "saving settings"
        )

    async def restart(self, http: httpx.AsyncClient) -> None:
        self._data(await http.post("/api/v1/mgmt/safeRestart"), "restart")


# Mitel's configuration-server form fields and the configuration keys they set.
MITEL_FORM = {
    "protocol": "download protocol",
    "httpserv": "http server",
    "httpport": "http port",
    "httppath": "http path",
}


class Mitel(Dialect):
    """HTTP basic; the *Configuration Server* page and *Operation - Reset*."""

    vendor = "mitel"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.BasicAuth(user, password)

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        return await _info_page(http, "/sysinfo.html", "Platform")

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        page = _check(await http.get("/configurationServer.html"), "reading the page").text
        out = {}
        for m in re.finditer(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page):
            if m.group(1) in MITEL_FORM:
                out[MITEL_FORM[m.group(1)]] = html.unescape(m.group(2))
        return out

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        fields = {form: settings[key] for form, key in MITEL_FORM.items() if key in settings}
        _check(await http.post("/configurationServer.html", data=fields), "saving")

    async def restart(self, http: httpx.AsyncClient) -> None:
        _check(await http.post("/reset.html", data={"resetOption": "0"}), "restart")


class JsonSettings(Dialect):
    """Web interfaces that give their status and settings as JSON objects."""

    status_path: ClassVar[str]
    status_fields: ClassVar[tuple[str, str, str]]  # MAC, model, firmware
    settings_path: ClassVar[str]
    write_method: ClassVar[str]
    reboot_path: ClassVar[str]

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        data = _json(_check(await http.get(self.status_path), "status"), "status")
        mac, model, firmware = (str(data.get(f, "")) for f in self.status_fields)
        return Identity(_mac(mac), model, firmware)

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        r = _check(await http.get(self.settings_path), "reading settings")
        return {str(k): str(v) for k, v in _json(r, "reading settings").items()}

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        r = await http.request(self.write_method, self.settings_path, json=settings)
        _check(r, "saving settings")

    async def restart(self, http: httpx.AsyncClient) -> None:
        _check(await http.post(self.reboot_path), "reboot")


class Gigaset(JsonSettings):
    """A login form (JSON) with a session cookie."""

    vendor = "gigaset"
    status_path, status_fields = "/status.json", ("mac", "model", "firmware")
    settings_path, write_method, reboot_path = "/settings.json", "POST", "/reboot.json"

    async def login(self, http: httpx.AsyncClient, user: str, password: str) -> None:
        r = await http.post("/login.json", json={"username": user, "password": password})
        _check(r, "login")


class Auerswald(JsonSettings):
    """HTTP digest."""

    vendor = "auerswald"
    status_path, status_fields = "/api/status", ("macAddress", "device", "firmware")
    settings_path, write_method, reboot_path = "/api/settings", "PATCH", "/api/reboot"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.DigestAuth(user, password)


DIALECTS: dict[str, Dialect] = {
    d.vendor: d for d in (Snom(), Yealink(), Poly(), Mitel(), Gigaset(), Auerswald())
}
