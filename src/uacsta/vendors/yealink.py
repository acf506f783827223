"""Yealink: everything uacsta knows of this vendor's phones in one place:
the manual's feature row (2.4), models and firmware, the User-Agent, the uaCSTA
account (manual 3.5.1.4) and the web interface provisioning uses."""

from __future__ import annotations

import re
from collections.abc import Mapping

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
from .web import Dialect, Identity, LoginRefused, WebError, check, json_of, mac_of

YEALINK_ACCOUNTS = range(1, 17)
YEALINK_TRANSPORT = {"TCP": "1", "TLS": "2"}


def _yealink(settings: Mapping[str, str], a: Account) -> Plan:
    key = "account.{n}.user_name"
    n = slot_with(settings, key, YEALINK_ACCOUNTS, a.mac) or free_slot(
        settings, key, YEALINK_ACCOUNTS, highest=True
    )
    p = f"account.{n}."
    writes = {
        p + "enable": "1",
        p + "label": DISPLAY_NAME,
        p + "display_name": DISPLAY_NAME,
        p + "register_name": a.mac,
        p + "user_name": a.mac,
        p + "password": a.password,
        p + "sip_server.1.address": a.server,
        p + "sip_server.1.port": str(a.port),
        p + "sip_server.1.transport_type": YEALINK_TRANSPORT[a.transport],
        p + "sip_server.1.expires": str(a.expiry),
        # server 2: where the phone registers while server 1 does not answer
        # (another node of a cluster); cleared when there is none
        p + "sip_server.2.address": a.second_server,
        "features.csta_control.enable": "1",
    }
    if a.second_server:
        writes[p + "sip_server.2.port"] = str(a.second_port)
        writes[p + "sip_server.2.transport_type"] = YEALINK_TRANSPORT[a.transport]
        writes[p + "sip_server.2.expires"] = str(a.expiry)
    if a.transport == "TLS" and a.ca_url:
        # The phone loads our CA from the configuration server and then
        # trusts the certificates it signs.
        writes["trusted_certificates.url"] = a.ca_url
        writes["security.trust_certificates"] = "1"
    return Plan(f"account {n}", writes)


def _yealink_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    if settings.get("features.csta_control.enable") != "1":
        return []
    out = []
    for n in YEALINK_ACCOUNTS:
        p = f"account.{n}."
        if settings.get(p + "enable") != "1" or settings.get(p + "user_name") != mac:
            continue
        transport: Transport = (
            "TLS" if settings.get(p + "sip_server.1.transport_type") == "2" else "TCP"
        )
        out.append(
            read_registration(
                settings,
                mac,
                transport,
                p + "password",
                p + "sip_server.1.address",
                p + "sip_server.1.port",
                p + "sip_server.1.expires",
            )
        )
    return out


YEALINK = "/servlet"


class YealinkWeb(Dialect):
    """A login form with a session cookie; settings as a configuration file
    exported and imported (Settings - Configuration)."""

    vendor = "yealink"

    async def login(self, http: httpx.AsyncClient, user: str, password: str) -> None:
        r = await http.post(
            YEALINK,
            params={"m": "mod_listener", "p": "login", "q": "loginForm", "jumpto": "status"},
            data={"username": user, "pwd": password},
        )
        check(r, "login")
        if not http.cookies.get("JSESSIONID"):
            raise LoginRefused(
                "web interface refused the login; check the web user and password "
                "in the provisioning options"
            )

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        r = check(
            await http.get(YEALINK, params={"m": "mod_data", "p": "status", "q": "load"}),
            "reading the status",
        )
        data = json_of(r, "reading the status")
        return Identity(
            mac_of(str(data.get("MacAddress", ""))),
            str(data.get("Model", "")),
            str(data.get("FirmwareVersion", "")),
        )

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        params = {"m": "mod_data", "p": "settings-config", "q": "exportcfg"}
        text = check(await http.get(YEALINK, params=params), "exporting the configuration").text
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
        data = json_of(check(r, "importing the configuration"), "importing the configuration")
        if data.get("ret") != "ok":
            raise WebError(f"importing the configuration: {data.get('msg') or data}")

    async def restart(self, http: httpx.AsyncClient) -> None:
        params = {"m": "mod_data", "p": "settings-upgrade", "q": "reboot"}
        check(await http.post(YEALINK, params=params), "reboot")


VENDOR = VendorProfile(
    "yealink",
    "Yealink",
    "T2x, T4x, T5x, VP59",
    "x.81.0.15",
    features(
        no=(
            "DialDigits",
            "DirectedPickupCall",
            "SnapshotCall",
            "SystemRegister",
            "SystemRegisterCancel",
        ),
        emulated=("AlternateCall",),
    ),
    user_agents=(re.compile(r"^Yealink\s+(?P<model>[\w\-]+)\s+(?P<firmware>[\d.]+)", re.I),),
    ouis=("001565", "805EC0"),
    account=VendorAccount(_yealink, _yealink_read),
    dialect=YealinkWeb(),
)
