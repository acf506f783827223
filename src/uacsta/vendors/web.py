"""The phones' web interfaces as provisioning uses them: each vendor's login
method (HTTP digest, basic, or a login form with a session cookie) and the
pages or API calls that identify the phone, read and write its settings and
restart it.

Where a vendor documents the interface it is followed (snom's settings URL
from the manual, Poly's REST API); the others are modelled on the vendor's web
UI; the simulator serves such endpoints from its own description
(``uacsta.sim.webui``).  Each vendor's dialect is in ``vendors/<vendor>.py``.  Each
call's failure becomes a :class:`WebError` whose text is what the phone said.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, ClassVar

import httpx

from .identity import normalise_user


class WebError(Exception):
    """The web interface refused or failed; the text is for the administrator."""


class LoginRefused(WebError):
    pass


@dataclass(frozen=True, slots=True)
class Identity:
    mac: str
    model: str
    firmware: str


def mac_of(text: str) -> str:
    bare = re.sub(r"[:.\-\s]", "", text)
    return normalise_user(bare) or ""


def check(response: httpx.Response, what: str) -> httpx.Response:
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


def json_of(response: httpx.Response, what: str) -> Any:
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


def html_field(page: str, label: str) -> str:
    m = re.search(
        rf"<td[^>]*>\s*{label}\s*:?\s*</td>\s*<td[^>]*>\s*([^<]*?)\s*</td>", page, re.I | re.S
    )
    return html.unescape(m.group(1)) if m else ""


async def info_page(http: httpx.AsyncClient, path: str, model_label: str) -> Identity:
    """An HTML status page with a table of "label: value" rows."""
    page = check(await http.get(path), f"reading {path}").text
    return Identity(
        mac_of(html_field(page, "MAC Address")),
        html_field(page, model_label),
        html_field(page, "Firmware Version"),
    )


class JsonSettings(Dialect):
    """Web interfaces that give their status and settings as JSON objects."""

    status_path: ClassVar[str]
    status_fields: ClassVar[tuple[str, str, str]]  # MAC, model, firmware
    settings_path: ClassVar[str]
    write_method: ClassVar[str]
    reboot_path: ClassVar[str]

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        data = json_of(check(await http.get(self.status_path), "status"), "status")
        mac, model, firmware = (str(data.get(f, "")) for f in self.status_fields)
        return Identity(mac_of(mac), model, firmware)

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        r = check(await http.get(self.settings_path), "reading settings")
        return {str(k): str(v) for k, v in json_of(r, "reading settings").items()}

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        r = await http.request(self.write_method, self.settings_path, json=settings)
        check(r, "saving settings")

    async def restart(self, http: httpx.AsyncClient) -> None:
        check(await http.post(self.reboot_path), "reboot")
