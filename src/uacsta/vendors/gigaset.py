"""Gigaset: everything uacsta knows of this vendor's phones in one place:
the manual's feature row (2.4), models and firmware, the User-Agent, the uaCSTA
account (manual 3.5.1.6) and the web interface provisioning uses."""

from __future__ import annotations

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
from .identity import normalise_user
from .web import JsonSettings, check

GIGASET_PROFILES = range(0, 6)
GIGASET_HANDSETS = range(1, 21)
GIGASET_TRANSPORT = {"TCP": "2"}  # 1 UDP, 2 TCP (protocol notes); no TLS known


def gigaset_handset_id(base_mac: str, handset: int) -> str:
    """The handset's CSTA user name: MAC style, starting 58gEC6 (manual 3.5.1.6),
    unique per base station and handset."""
    return f"58gEC6{base_mac[-4:].upper()}{handset:02X}"


def _gigaset_profile(settings: Mapping[str, str]) -> int:
    for n in GIGASET_PROFILES:
        if settings.get(f"SipProvider.{n}.Name", "").strip():
            return n
    return 0


def _gigaset(settings: Mapping[str, str], a: Account) -> Plan:
    if a.transport not in GIGASET_TRANSPORT:
        raise ProvisioningError(
            "the Gigaset N870 takes its CSTA server over TCP only; choose TCP in the options"
        )
    n = _gigaset_profile(settings)
    p = f"SipProvider.{n}."
    writes = {
        p + "CSTA_IsActive": "1",
        p + "CSTA_IsExternal": "1",
        p + "CSTA_Address": a.server,
        p + "CSTA_Port": str(a.port),
        p + "CSTA_RegServerRefreshTimer": str(a.expiry),
        p + "CSTA_DnsQuery": "0",
        p + "CSTA_TransportProtocol": GIGASET_TRANSPORT[a.transport],
    }
    handsets = [h for h in GIGASET_HANDSETS if settings.get(f"Handset.{h}.Name", "").strip()]
    if not handsets:
        raise ProvisioningError("the base station has no handsets registered")
    for h in handsets:
        q = f"Handset.{h}."
        current = settings.get(q + "CSTA_Username", "")
        user = current if normalise_user(current) == current and current else None
        user = user or gigaset_handset_id(a.mac, h)
        writes[q + "CSTA_Username"] = user
        writes[q + "CSTA_AuthName"] = user
        writes[q + "CSTA_Password"] = a.password
    return Plan(f"profile {n + 1}, {len(handsets)} handsets", writes)


def _gigaset_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    n = _gigaset_profile(settings)
    p = f"SipProvider.{n}."
    if settings.get(p + "CSTA_IsActive") != "1" or settings.get(p + "CSTA_IsExternal") != "1":
        return []
    out = []
    for h in GIGASET_HANDSETS:
        q = f"Handset.{h}."
        user = settings.get(q + "CSTA_AuthName", "")
        if not settings.get(q + "Name") or not user:
            continue
        out.append(
            read_registration(
                settings,
                user,
                "TCP",
                q + "CSTA_Password",
                p + "CSTA_Address",
                p + "CSTA_Port",
                p + "CSTA_RegServerRefreshTimer",
            )
        )
    return out


class GigasetWeb(JsonSettings):
    """A login form (JSON) with a session cookie."""

    vendor = "gigaset"
    status_path, status_fields = "/status.json", ("mac", "model", "firmware")
    settings_path, write_method, reboot_path = "/settings.json", "POST", "/reboot.json"

    async def login(self, http: httpx.AsyncClient, user: str, password: str) -> None:
        r = await http.post("/login.json", json={"username": user, "password": password})
        check(r, "login")


VENDOR = VendorProfile(
    "gigaset",
    "Gigaset",
    "N870 IP PRO with R650H/SL750H",
    "2.39.0",
    features(
        no=(
            "HoldCall",
            "RetrieveCall",
            "AlternateCall",
            "ConferenceCall",
            "TransferCall",
            "GenerateDigits",
            "DialDigits",
            "ConsultationCall",
            "SingleStepTransferCall",
            "DeflectCall",
            "DirectedPickupCall",
            "GetForwarding",
            "SetForwarding",
            "SnapshotCall",
            "SystemRegister",
            "SystemRegisterCancel",
        ),
        limited=("ClearConnection",),
    ),
    user_agents=(re.compile(r"^Gigaset\s+(?P<model>[\w ]+?)/(?P<firmware>[\w.\-+]+)", re.I),),
    ouis=(),
    account=VendorAccount(_gigaset, _gigaset_read),
    dialect=GigasetWeb(),
)
