"""Auerswald: everything uacsta knows of this vendor's phones in one place:
the manual's feature row (2.4), models and firmware, the User-Agent, the uaCSTA
account (manual 3.5.1.1) and the web interface provisioning uses."""

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
    to_int,
)
from .base import VendorProfile, features
from .web import JsonSettings

AUERSWALD_SLOTS = range(1, 7)


def _auerswald(settings: Mapping[str, str], a: Account) -> Plan:
    acc = slot_with(settings, "account.{n}.user", AUERSWALD_SLOTS, a.mac)
    if acc is not None:
        prov = to_int(settings.get(f"account.{acc}.provider"), 0) or free_slot(
            settings, "provider.{n}.name", AUERSWALD_SLOTS, highest=False
        )
    else:
        acc = free_slot(settings, "account.{n}.user", AUERSWALD_SLOTS, highest=False)
        prov = free_slot(settings, "provider.{n}.name", AUERSWALD_SLOTS, highest=False)
    p, q = f"provider.{prov}.", f"account.{acc}."
    writes = {
        p + "name": DISPLAY_NAME,
        p + "domain": a.server,
        p + "type": "pbx",
        p + "registrar.enabled": "1",
        p + "registrar.address": a.server,
        p + "registrar.port": str(a.port),
        p + "registrar.transport": a.transport.lower(),
        p + "registrar.period": str(a.expiry),
        p + "sip.server_type": "ecsta",
        q + "name": a.mac,
        q + "enabled": "1",
        q + "user": a.mac,
        q + "password": a.password,
        q + "auth_id": a.mac,
        q + "provider": str(prov),
        "extreme_control.uacsta": "1",
    }
    return Plan(f"provider {prov}, account {acc}", writes)


def _auerswald_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    if settings.get("extreme_control.uacsta") != "1":
        return []
    out = []
    for n in AUERSWALD_SLOTS:
        q = f"account.{n}."
        if settings.get(q + "enabled") != "1" or settings.get(q + "user") != mac:
            continue
        p = f"provider.{settings.get(q + 'provider', '')}."
        if settings.get(p + "sip.server_type") != "ecsta":
            continue
        transport: Transport = "TLS" if settings.get(p + "registrar.transport") == "tls" else "TCP"
        out.append(
            read_registration(
                settings,
                mac,
                transport,
                q + "password",
                p + "registrar.address",
                p + "registrar.port",
                p + "registrar.period",
            )
        )
    return out


class AuerswaldWeb(JsonSettings):
    """HTTP digest."""

    vendor = "auerswald"
    status_path, status_fields = "/api/status", ("macAddress", "device", "firmware")
    settings_path, write_method, reboot_path = "/api/settings", "PATCH", "/api/reboot"

    def auth(self, user: str, password: str) -> httpx.Auth:
        return httpx.DigestAuth(user, password)


VENDOR = VendorProfile(
    "auerswald",
    "Auerswald",
    "COMfortel 1400/2600/3600 IP",
    "2.8A",
    features(no=("DialDigits", "DirectedPickupCall", "SnapshotCall"), emulated=("AlternateCall",)),
    user_agents=(
        re.compile(
            r"(?:Auerswald\s+)?(?P<model>COMfortel\s+\w+(?:\s+IP)?)[/ ](?P<firmware>[\w.\-]+)", re.I
        ),
    ),
    ouis=("000952",),
    account=VendorAccount(_auerswald, _auerswald_read),
    dialect=AuerswaldWeb(),
)
