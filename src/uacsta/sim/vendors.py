"""The simulated phones' own description of each vendor, transcribed from the
manual (section 2.4 for the services, 3.5.1.x for the accounts) and the
vendors' configuration references, independently of the server's vendor homes
(``uacsta.vendors``).

The simulator is a witness: a conformance or provisioning test compares what
the server believes of a phone with what this module says the phone does.  So
nothing here may be imported from the server's side, and nothing there from
here; where the two disagree a test fails, and the manual decides which is
right (docs/vendors.md).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass

# -- what the phone refuses (manual 2.4) -------------------------------------------------
#
# Written as the manual prints it: per vendor, the services marked "Not
# supported" (also those the server emulates, e.g. AlternateCall: the phone
# itself refuses them) and those the manual does not list at all.

REFUSES: Mapping[str, frozenset[str]] = {
    "auerswald": frozenset({"AlternateCall", "DialDigits", "DirectedPickupCall", "SnapshotCall"}),
    "mitel": frozenset(
        {
            "AlternateCall",
            "DialDigits",
            "DirectedPickupCall",
            "SystemRegister",
            "SystemRegisterCancel",
        }
    ),
    "snom": frozenset({"AlternateCall", "DialDigits", "DirectedPickupCall", "SnapshotCall"}),
    "yealink": frozenset(
        {
            "AlternateCall",
            "DialDigits",
            "DirectedPickupCall",
            "SnapshotCall",
            "SystemRegister",
            "SystemRegisterCancel",
        }
    ),
    # Poly's table has no SnapShotCall row: not supported.
    "poly": frozenset(
        {
            "AlternateCall",
            "GenerateDigits",
            "DialDigits",
            "DirectedPickupCall",
            "GetDoNotDisturb",
            "SetDoNotDisturb",
            "SnapshotCall",
            "SystemRegister",
            "SystemRegisterCancel",
        }
    ),
    # "The Gigaset base station only provides a very limited scope of CSTA
    # functions": calls, DND, monitoring, identities, status; ClearConnection
    # only in part (which a phone shows by its answer, not by refusing).
    "gigaset": frozenset(
        {
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
        }
    ),
}


def refuses(vendor: str, service: str) -> bool:
    return service in REFUSES.get(vendor, frozenset())


# -- the uaCSTA account as the phone reads it at boot (manual 3.5.1.x) --------------------


@dataclass(frozen=True, slots=True)
class SimAccount:
    """One uaCSTA registration the phone makes after it booted."""

    user: str
    password: str
    server: str
    port: int
    tls: bool
    expiry: int
    # the registrars tried in turn when the first does not answer (server 2 of
    # Yealink's account, of Poly's line)
    backups: tuple[tuple[str, int], ...] = ()


def _number(text: str | None, default: int) -> int:
    return int(text) if text and text.isdigit() else default


def _second(s: Mapping[str, str], prefix: str) -> tuple[tuple[str, int], ...]:
    address = s.get(prefix + "address", "")
    return ((address, _number(s.get(prefix + "port"), 5060)),) if address else ()


def _snom(s: Mapping[str, str], mac: str) -> list[SimAccount]:
    # snom: "Allow control via CSTA" (csta_control) and, below 3, a legacy
    # control mode that refuses uaCSTA; identities 1-12 (user_*N keys); the
    # outbound proxy carries host:port;transport=.
    if s.get("csta_control") != "on" or _number(s.get("csta_legacy_control"), 4) < 3:
        return []
    found = []
    for n in range(1, 13):
        if (s.get(f"user_active{n}"), s.get(f"user_name{n}")) != ("on", mac):
            continue
        proxy = s.get(f"user_outbound{n}", "")
        where, _, params = proxy.partition(";")
        host, _, port = where.partition(":")
        found.append(
            SimAccount(
                mac,
                s.get(f"user_pass{n}", ""),
                host or s.get(f"user_host{n}", ""),
                _number(port, 5060),
                "transport=tls" in params.lower(),
                _number(s.get(f"user_expiry{n}"), 3600),
            )
        )
    return found


def _yealink(s: Mapping[str, str], mac: str) -> list[SimAccount]:
    # Yealink: features.csta_control.enable; accounts 1-16; transport_type
    # 0 UDP, 1 TCP, 2 TLS, 3 DNS-NAPTR.
    if s.get("features.csta_control.enable") != "1":
        return []
    found = []
    for n in range(1, 17):
        a = f"account.{n}."
        if s.get(a + "enable") == "1" and s.get(a + "user_name") == mac:
            found.append(
                SimAccount(
                    mac,
                    s.get(a + "password", ""),
                    s.get(a + "sip_server.1.address", ""),
                    _number(s.get(a + "sip_server.1.port"), 5060),
                    s.get(a + "sip_server.1.transport_type") == "2",
                    _number(s.get(a + "sip_server.1.expires"), 3600),
                    _second(s, a + "sip_server.2."),
                )
            )
    return found


def _poly(s: Mapping[str, str], mac: str) -> list[SimAccount]:
    # Poly: a line whose server has specialInterop "csta" and reg.N.csta 1.
    found = []
    for n in range(1, 13):
        r = f"reg.{n}."
        if s.get(r + "address") != mac or s.get(r + "csta") != "1":
            continue
        if s.get(r + "server.1.specialInterop") == "csta":
            found.append(
                SimAccount(
                    s.get(r + "auth.userId", mac),
                    s.get(r + "auth.password", ""),
                    s.get(r + "server.1.address", ""),
                    _number(s.get(r + "server.1.port"), 5060),
                    s.get(r + "server.1.transport") == "TLS",
                    _number(s.get(r + "server.1.expires"), 3600),
                    _second(s, r + "server.2.") if s.get(r + "server.2.register") == "1" else (),
                )
            )
    return found


def _auerswald(s: Mapping[str, str], mac: str) -> list[SimAccount]:
    # Auerswald: extreme_control.uacsta; an account on a provider entry of
    # server type "ESTOS CSTA (ECSTA)".
    if s.get("extreme_control.uacsta") != "1":
        return []
    found = []
    for n in range(1, 7):
        a = f"account.{n}."
        if s.get(a + "enabled") != "1" or s.get(a + "user") != mac:
            continue
        p = "provider." + s.get(a + "provider", "") + "."
        if s.get(p + "sip.server_type") == "ecsta":
            found.append(
                SimAccount(
                    mac,
                    s.get(a + "password", ""),
                    s.get(p + "registrar.address", ""),
                    _number(s.get(p + "registrar.port"), 5060),
                    s.get(p + "registrar.transport") == "tls",
                    _number(s.get(p + "registrar.period"), 3600),
                )
            )
    return found


def _gigaset(s: Mapping[str, str], mac: str) -> list[SimAccount]:
    # Gigaset N870: the first named provider profile (0-5) holds the CSTA
    # server; every handset (1-20) with a name registers with its own CSTA
    # credentials, over TCP.
    profile = next(
        (n for n in range(6) if s.get(f"SipProvider.{n}.Name", "").strip()),
        0,
    )
    p = f"SipProvider.{profile}."
    if s.get(p + "CSTA_IsActive") != "1" or s.get(p + "CSTA_IsExternal") != "1":
        return []
    found = []
    for h in range(1, 21):
        q = f"Handset.{h}."
        if s.get(q + "Name") and s.get(q + "CSTA_AuthName"):
            found.append(
                SimAccount(
                    s[q + "CSTA_AuthName"],
                    s.get(q + "CSTA_Password", ""),
                    s.get(p + "CSTA_Address", ""),
                    _number(s.get(p + "CSTA_Port"), 5060),
                    False,
                    _number(s.get(p + "CSTA_RegServerRefreshTimer"), 3600),
                )
            )
    return found


def _mitel(loaded: Mapping[str, str], mac: str) -> list[SimAccount]:
    # Mitel: the configuration files it loaded (startup.cfg, <MAC>.cfg) hold
    # "csta: 1", "csta proxy", "csta port" and "csta password" (manual 3.5.1.2).
    if loaded.get("csta") != "1" or not loaded.get("csta proxy"):
        return []
    return [
        SimAccount(
            loaded.get("csta username") or mac,
            loaded.get("csta password", ""),
            loaded["csta proxy"],
            _number(loaded.get("csta port"), 5060),
            False,
            _number(loaded.get("csta registration period"), 3600),
        )
    ]


READERS: Mapping[str, Callable[[Mapping[str, str], str], list[SimAccount]]] = {
    "snom": _snom,
    "yealink": _yealink,
    "poly": _poly,
    "auerswald": _auerswald,
    "gigaset": _gigaset,
    "mitel": _mitel,
}


def accounts(vendor: str, settings: Mapping[str, str], mac: str) -> list[SimAccount]:
    """What the phone registers with after a boot, from its settings."""
    return READERS[vendor](settings, mac)


def parse_aastra_cfg(text: str) -> dict[str, str]:
    """Aastra/Mitel configuration files: ``name: value`` lines, # comments."""
    out: dict[str, str] = {}
    for line in text.splitlines():
        m = re.match(r"\s*([^#:]+?)\s*:\s*([^#]*?)\s*(?:#.*)?$", line)
        if m:
            out[m.group(1).lower()] = m.group(2)
    return out


# Mitel's *Configuration Server* web page: form field -> configuration key.
MITEL_CONFIGURATION_SERVER_FORM: Mapping[str, str] = {
    "protocol": "download protocol",
    "httpserv": "http server",
    "httpport": "http port",
    "httppath": "http path",
}
