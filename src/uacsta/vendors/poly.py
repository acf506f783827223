"""Polycom / Poly: everything uacsta knows of this vendor's phones in one place:
the manual's feature row (2.4), models and firmware, the User-Agent, the uaCSTA
account (manual 3.5.1.5) and the web interface provisioning uses."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import httpx

from .accounts import (
    DISPLAY_NAME,
    Account,
    Plan,
    Registration,
    Transport,
    VendorAccount,
    free_slot,
    read_registration,
    slot_with,
)
from .base import VendorProfile, features
from .web import Dialect, Identity, WebError, check, json_of, mac_of

POLY_LINES = range(1, 13)
POLY_TRANSPORT = {"TCP": "TCPOnly", "TLS": "TLS"}


def poly_keys() -> list[str]:
    """The keys provisioning reads from a Poly phone (its REST API reads by name)."""
    fields = ("address", "auth.userId", "csta", "server.1.address")
    return [f"reg.{n}.{f}" for n in POLY_LINES for f in fields]


def _poly(settings: Mapping[str, str], a: Account) -> Plan:
    key = "reg.{n}.address"
    n = slot_with(settings, key, POLY_LINES, a.mac) or free_slot(
        settings, key, POLY_LINES, highest=False
    )
    p = f"reg.{n}."
    writes = {
        p + "displayName": DISPLAY_NAME,
        p + "address": a.mac,
        p + "auth.userId": a.mac,
        p + "auth.password": a.password,
        p + "server.1.address": a.server,
        p + "server.1.port": str(a.port),
        p + "server.1.transport": POLY_TRANSPORT[a.transport],
        p + "server.1.expires": str(a.expiry),
        p + "server.1.register": "1",
        p + "server.1.specialInterop": "csta",
        # server 2: the failover registrar (another node of a cluster), cleared
        # when there is none
        p + "server.2.address": a.second_server,
        p + "csta": "1",
    }
    if a.second_server:
        writes[p + "server.2.port"] = str(a.second_port)
        writes[p + "server.2.transport"] = POLY_TRANSPORT[a.transport]
        writes[p + "server.2.expires"] = str(a.expiry)
        writes[p + "server.2.register"] = "1"
        writes[p + "server.2.specialInterop"] = "csta"
    if a.transport == "TLS" and a.ca_pem:
        writes["device.sec.TLS.customCaCert1"] = a.ca_pem
        writes["device.sec.TLS.customCaCert1.set"] = "1"
    return Plan(f"line {n}", writes)


def _poly_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    out = []
    for n in POLY_LINES:
        p = f"reg.{n}."
        if settings.get(p + "csta") != "1" or settings.get(p + "address") != mac:
            continue
        if settings.get(p + "server.1.specialInterop") != "csta":
            continue
        transport: Transport = "TLS" if settings.get(p + "server.1.transport") == "TLS" else "TCP"
        out.append(
            read_registration(
                settings,
                settings.get(p + "auth.userId", mac),
                transport,
                p + "auth.password",
                p + "server.1.address",
                p + "server.1.port",
                p + "server.1.expires",
            )
        )
    return out


class PolyWeb(Dialect):
    """The REST API of Poly UC Software (``/api/v1/mgmt``), HTTP basic."""

    vendor = "poly"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.BasicAuth(user, password)

    @staticmethod
    def _data(r: httpx.Response, what: str) -> Any:
        body = json_of(check(r, what), what)
        if str(body.get("Status")) != "2000":
            raise WebError(f"{what}: status {body.get('Status')} {body.get('Message', '')}".strip())
        return body.get("data")

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        data = self._data(await http.get("/api/v1/mgmt/device/info"), "reading device info")
        return Identity(
            mac_of(str(data.get("MACAddress", ""))),
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


VENDOR = VendorProfile(
    "poly",
    "Polycom / Poly",
    "VVX x01/x11/x50, CCX",
    "6.1.0.618g",
    features(
        no=(
            "GenerateDigits",
            "DialDigits",
            "DirectedPickupCall",
            "GetDoNotDisturb",
            "SetDoNotDisturb",
            "SnapshotCall",
            "SystemRegister",
            "SystemRegisterCancel",
        ),
        emulated=("AlternateCall",),
    ),
    user_agents=(
        re.compile(
            r"Poly(?:com)?\w*[-/](?P<model>(?:VVX|CCX|Edge)_[\w]+)-UA/(?P<firmware>[\w.\-]+)", re.I
        ),
        re.compile(r"^Poly(?:com)?/(?P<firmware>[\d.]+)\s+(?P<model>(?:VVX|CCX)[\w ]*)", re.I),
    ),
    ouis=("0004F2", "64167F"),
    account=VendorAccount(_poly, _poly_read, keys=poly_keys),
    dialect=PolyWeb(),
)
