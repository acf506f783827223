"""Mitel: everything uacsta knows of this vendor's phones in one place:
the manual's feature row (2.4), models and firmware, the User-Agent, the uaCSTA
account (manual 3.5.1.2) and the web interface provisioning uses."""

from __future__ import annotations

import html
import re
from collections.abc import Mapping

import httpx

from .accounts import (
    Account,
    Plan,
    ProvisioningError,
    Registration,
    VendorAccount,
    read_registration,
)
from .base import VendorProfile, features
from .web import Dialect, Identity, check, info_page


def _mitel(settings: Mapping[str, str], a: Account) -> Plan:
    if a.transport != "TCP":
        raise ProvisioningError("Mitel 6800 phones speak uaCSTA over TCP only; choose TCP")
    if not a.config_port:
        raise ProvisioningError(
            "Mitel phones load startup.cfg from uacsta's provisioning endpoint, which is off "
            "(provisioning options: HTTP port)"
        )
    writes = {
        "download protocol": "HTTP",
        "http server": a.server,
        "http port": str(a.config_port),
        "http path": a.config_path,
    }
    return Plan("configuration server", writes)


def mitel_startup_cfg(server: str, port: int, password: str) -> str:
    """startup.cfg as the manual gives it (3.5.1.2)."""
    return f"csta: 1\ncsta proxy: {server}\ncsta port: {port}\ncsta password: {password}\n"


def parse_mitel_cfg(text: str) -> dict[str, str]:
    """Aastra/Mitel configuration lines ``name: value``; # starts a comment."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        line = line.split("#", 1)[0].strip()
        name, sep, value = line.partition(":")
        if sep and name.strip():
            out[name.strip().lower()] = value.strip()
    return out


def _mitel_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    """``settings`` here are the lines of the configuration files the phone loaded."""
    if settings.get("csta") != "1" or not settings.get("csta proxy"):
        return []
    return [
        read_registration(
            settings,
            settings.get("csta username") or mac,
            "TCP",
            "csta password",
            "csta proxy",
            "csta port",
            "csta registration period",  # not set by the manual: the default
        )
    ]


# Mitel's configuration-server form fields and the configuration keys they set.
MITEL_FORM = {
    "protocol": "download protocol",
    "httpserv": "http server",
    "httpport": "http port",
    "httppath": "http path",
}


class MitelWeb(Dialect):
    """HTTP basic; the *Configuration Server* page and *Operation - Reset*."""

    vendor = "mitel"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.BasicAuth(user, password)

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        return await info_page(http, "/sysinfo.html", "Platform")

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        page = check(await http.get("/configurationServer.html"), "reading the page").text
        out = {}
        for m in re.finditer(r'<input[^>]*name="(\w+)"[^>]*value="([^"]*)"', page):
            if m.group(1) in MITEL_FORM:
                out[MITEL_FORM[m.group(1)]] = html.unescape(m.group(2))
        return out

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        fields = {form: settings[key] for form, key in MITEL_FORM.items() if key in settings}
        check(await http.post("/configurationServer.html", data=fields), "saving")

    async def restart(self, http: httpx.AsyncClient) -> None:
        check(await http.post("/reset.html", data={"resetOption": "0"}), "restart")


VENDOR = VendorProfile(
    "mitel",
    "Mitel",
    "6863i, 6865i, 6867i, 6869i",
    "4.1.0 SP2",
    features(
        no=("DialDigits", "DirectedPickupCall", "SystemRegister", "SystemRegisterCancel"),
        emulated=("AlternateCall",),
    ),
    user_agents=(
        re.compile(r"^(?:Mitel|Aastra)\s*(?P<model>\d{4}i?)/(?P<firmware>[\w.\-]+)", re.I),
    ),
    ouis=("00085D",),
    account=VendorAccount(_mitel, _mitel_read),
    dialect=MitelWeb(),
)
