"""snom: everything uacsta knows of this vendor's phones in one place:
the manual's feature row (2.4), models and firmware, the User-Agent, the uaCSTA
account (manual 3.5.1.3) and the web interface provisioning uses."""

from __future__ import annotations

import html
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
    slot_with,
    to_int,
)
from .base import VendorProfile, features
from .web import Dialect, Identity, check, info_page

SNOM_IDENTITIES = range(1, 13)


def _snom(settings: Mapping[str, str], a: Account) -> Plan:
    n = slot_with(settings, "user_name{n}", SNOM_IDENTITIES, a.mac) or free_slot(
        settings, "user_name{n}", SNOM_IDENTITIES, highest=True
    )
    writes = {
        f"user_active{n}": "on",
        f"user_realname{n}": DISPLAY_NAME,
        f"user_name{n}": a.mac,
        f"user_pass{n}": a.password,
        f"user_host{n}": a.server,
        f"user_outbound{n}": f"{a.server}:{a.port};transport={a.transport.lower()}",
        f"user_hidden{n}": "on",
        f"user_expiry{n}": str(a.expiry),
        "csta_control": "on",
    }
    # Below 3 the phone refuses uaCSTA; the web interface cannot show it (manual).
    if to_int(settings.get("csta_legacy_control"), 0) < 3:
        writes["csta_legacy_control"] = "4"
    return Plan(f"identity {n}", writes)


def _snom_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    if settings.get("csta_control") != "on" or to_int(settings.get("csta_legacy_control"), 4) < 3:
        return []
    out = []
    for n in SNOM_IDENTITIES:
        if settings.get(f"user_active{n}") != "on" or settings.get(f"user_name{n}") != mac:
            continue
        outbound = settings.get(f"user_outbound{n}", "")
        m = re.fullmatch(r"([^:;]+)(?::(\d+))?(?:;transport=(\w+))?", outbound)
        host = m.group(1) if m else settings.get(f"user_host{n}", "")
        port = int(m.group(2)) if m and m.group(2) else 5060
        transport: Transport = "TLS" if m and (m.group(3) or "").lower() == "tls" else "TCP"
        out.append(
            Registration(
                mac,
                settings.get(f"user_pass{n}", ""),
                host,
                port,
                transport,
                to_int(settings.get(f"user_expiry{n}"), 3600),
            )
        )
    return out


class SnomWeb(Dialect):
    """HTTP digest (snom's "Authentication Scheme: on"); settings by URL, as in
    the manual's ``settings.htm?csta_legacy_control=4&settings=save``."""

    vendor = "snom"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.DigestAuth(user, password)

    async def identify(self, http: httpx.AsyncClient) -> Identity:
        return await info_page(http, "/info.htm", "Phone Model")

    async def read(self, http: httpx.AsyncClient, keys: list[str]) -> dict[str, str]:
        page = check(await http.get("/settings.htm"), "reading settings.htm").text
        out = {}
        for line in html.unescape(page).splitlines():
            m = re.match(r"^\s*(\w+)[!&$]?:\s?(.*?)\s*$", line)
            if m:
                out[m.group(1)] = m.group(2)
        return out

    async def write(self, http: httpx.AsyncClient, settings: dict[str, str]) -> None:
        check(
            await http.get("/settings.htm", params={**settings, "settings": "save"}),
            "saving settings",
        )

    async def restart(self, http: httpx.AsyncClient) -> None:
        check(await http.get("/advanced_update.htm", params={"reboot": "Reboot"}), "reboot")


VENDOR = VendorProfile(
    "snom",
    "snom",
    "D3xx, D7xx, 3xx, 7xx, 8xx, D120",
    "8.7.5.13",
    features(no=("DialDigits", "DirectedPickupCall", "SnapshotCall"), emulated=("AlternateCall",)),
    user_agents=(
        re.compile(r"^snom(?P<model>[A-Za-z]*\d+[A-Za-z0-9]*)[-/ ](?P<firmware>[\w.\-]+)", re.I),
    ),
    ouis=("000413",),
    account=VendorAccount(_snom, _snom_read),
    dialect=SnomWeb(),
)
