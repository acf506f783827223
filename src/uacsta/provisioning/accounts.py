"""The uaCSTA account as each vendor stores it: which settings provisioning
writes (the manual's sections 3.5.1.1-3.5.1.6), and how a phone reads them back.

Sans-IO: settings are plain ``key -> value`` mappings as the phone's web
interface or configuration file shows them.  The same tables serve the server
(what to write, what to remove) and the simulator (what a phone registers with
after its restart), so the two cannot drift apart.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

from ..phones.identity import normalise_user

Transport = Literal["TCP", "TLS"]
DISPLAY_NAME = "uaCSTA"
# Where Mitel phones find startup.cfg on our configuration server: under this,
# a secret folder (the file holds the phone password; only phones we pointed
# at it know where).
MITEL_PATH = "mitel"


class ProvisioningError(Exception):
    """A phone cannot take the account as asked (no free slot, unsupported transport)."""


@dataclass(frozen=True, slots=True)
class Account:
    """What the phone needs to register with uacsta (phone connection settings)."""

    mac: str
    password: str
    server: str
    port: int
    transport: Transport = "TCP"
    expiry: int = 300
    ca_pem: str = ""  # our CA, for vendors that take it through configuration
    config_port: int = 0  # our HTTP provisioning endpoint (Mitel configuration server)
    config_path: str = MITEL_PATH  # its folder with startup.cfg
    ca_url: str = ""  # our CA on that endpoint, for vendors that fetch it by URL


@dataclass(frozen=True, slots=True)
class Plan:
    """What provisioning writes to one phone: ``slot`` names the identity,
    account, line or profile used (for the log and the result)."""

    slot: str
    writes: dict[str, str]
    restart_needed: bool = True


@dataclass(frozen=True, slots=True)
class Registration:
    """A uaCSTA account as a phone reads it from its settings (simulator)."""

    user: str
    password: str
    server: str
    port: int
    transport: Transport
    expiry: int


def _read(
    settings: Mapping[str, str],
    user: str,
    transport: Transport,
    password: str,
    server: str,
    port: str,
    expiry: str,
) -> Registration:
    """A registration from the keys that hold each part of it."""
    return Registration(
        user,
        settings.get(password, ""),
        settings.get(server, ""),
        _int(settings.get(port), 5060),
        transport,
        _int(settings.get(expiry), 3600),
    )


def _free(settings: Mapping[str, str], key: str, slots: range, highest: bool) -> int:
    order = reversed(slots) if highest else slots
    for n in order:
        if not settings.get(key.format(n=n), "").strip():
            return n
    raise ProvisioningError("no unused slot for the uaCSTA account")


def _slot_with(settings: Mapping[str, str], key: str, slots: range, mac: str) -> int | None:
    for n in slots:
        if settings.get(key.format(n=n), "").upper() == mac.upper():
            return n
    return None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


# -- snom (3.5.1.3): an unused identity, Allow control via CSTA ------------------------

SNOM_IDENTITIES = range(1, 13)


def _snom(settings: Mapping[str, str], a: Account) -> Plan:
    n = _slot_with(settings, "user_name{n}", SNOM_IDENTITIES, a.mac) or _free(
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
    if _int(settings.get("csta_legacy_control"), 0) < 3:
        writes["csta_legacy_control"] = "4"
    return Plan(f"identity {n}", writes)


def _snom_read(settings: Mapping[str, str], mac: str) -> list[Registration]:
    if settings.get("csta_control") != "on" or _int(settings.get("csta_legacy_control"), 4) < 3:
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
                _int(settings.get(f"user_expiry{n}"), 3600),
            )
        )
    return out


# -- Yealink (3.5.1.4): an unused account, CSTA Control ------------------------------

YEALINK_ACCOUNTS = range(1, 17)
YEALINK_TRANSPORT = {"TCP": "1", "TLS": "2"}


def _yealink(settings: Mapping[str, str], a: Account) -> Plan:
    key = "account.{n}.user_name"
    n = _slot_with(settings, key, YEALINK_ACCOUNTS, a.mac) or _free(
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
        "features.csta_control.enable": "1",
    }
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
            _read(
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


# -- Poly (3.5.1.5): an unused line with special interop CSTA ---------------------------

POLY_LINES = range(1, 13)
POLY_TRANSPORT = {"TCP": "TCPOnly", "TLS": "TLS"}


def poly_keys() -> list[str]:
    """The keys provisioning reads from a Poly phone (its REST API reads by name)."""
    fields = ("address", "auth.userId", "csta", "server.1.address")
    return [f"reg.{n}.{f}" for n in POLY_LINES for f in fields]


def _poly(settings: Mapping[str, str], a: Account) -> Plan:
    key = "reg.{n}.address"
    n = _slot_with(settings, key, POLY_LINES, a.mac) or _free(
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
        p + "csta": "1",
    }
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
            _read(
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


# -- Auerswald (3.5.1.1): provider/PBX entry "ESTOS CSTA (ECSTA)", an account -----------

AUERSWALD_SLOTS = range(1, 7)


def _auerswald(settings: Mapping[str, str], a: Account) -> Plan:
    acc = _slot_with(settings, "account.{n}.user", AUERSWALD_SLOTS, a.mac)
    if acc is not None:
        prov = _int(settings.get(f"account.{acc}.provider"), 0) or _free(
            settings, "provider.{n}.name", AUERSWALD_SLOTS, highest=False
        )
    else:
        acc = _free(settings, "account.{n}.user", AUERSWALD_SLOTS, highest=False)
        prov = _free(settings, "provider.{n}.name", AUERSWALD_SLOTS, highest=False)
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
            _read(
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


# -- Gigaset N870 (3.5.1.6): the provider profile's CSTA section, each handset ----------

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
            _read(
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


# -- Mitel 6800 (3.5.1.2): startup.cfg from our configuration server -------------------


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
        _read(
            settings,
            settings.get("csta username") or mac,
            "TCP",
            "csta password",
            "csta proxy",
            "csta port",
            "csta registration period",  # not set by the manual: the default
        )
    ]


@dataclass(frozen=True, slots=True)
class VendorAccount:
    plan: Callable[[Mapping[str, str], Account], Plan]
    read: Callable[[Mapping[str, str], str], list[Registration]]


VENDORS: dict[str, VendorAccount] = {
    "snom": VendorAccount(_snom, _snom_read),
    "yealink": VendorAccount(_yealink, _yealink_read),
    "poly": VendorAccount(_poly, _poly_read),
    "auerswald": VendorAccount(_auerswald, _auerswald_read),
    "gigaset": VendorAccount(_gigaset, _gigaset_read),
    "mitel": VendorAccount(_mitel, _mitel_read),
}


def plan(vendor: str, settings: Mapping[str, str], account: Account) -> Plan:
    try:
        return VENDORS[vendor].plan(settings, account)
    except KeyError:
        raise ProvisioningError(f"no provisioning for vendor {vendor!r}") from None


def registrations(vendor: str, settings: Mapping[str, str], mac: str) -> list[Registration]:
    return VENDORS[vendor].read(settings, mac)


def undo(
    written: Mapping[str, str], previous: Mapping[str, str | None], current: Mapping[str, str]
) -> tuple[dict[str, str], list[str]]:
    """What a delete writes: every key we wrote back to its value before the
    push, but only where the phone still holds our value; keys changed since
    are left alone and named."""
    writes: dict[str, str] = {}
    changed: list[str] = []
    for key, ours in written.items():
        if key in current and current[key] != ours:
            changed.append(key)
            continue
        writes[key] = previous.get(key) or ""
    return writes, changed
