"""Finding phones: the SIP OPTIONS probe, the plug-and-play SUBSCRIBE that
booting phones send (``Event: ua-profile``, sip.mcast.net 224.0.1.75), and
manual addresses and ranges.  Sans-IO: datagrams in, sightings out."""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, replace

from ..sip.datagram import udp_request
from ..sip.errors import SipParseError
from ..sip.message import Response, parse_message
from ..vendors import OUI_VENDORS, normalise_user, parse_user_agent

MAX_TARGETS = 4096  # a /20: more is a typo, not a phone network


@dataclass(frozen=True, slots=True)
class Sighting:
    """One phone as discovery sees it; empty fields are not known (yet)."""

    ip: str
    vendor: str = ""
    model: str = ""
    firmware: str = ""
    mac: str = ""
    source: str = ""  # OPTIONS, PnP SUBSCRIBE, web interface, manual
    user_agent: str = ""

    def merged(self, other: Sighting) -> Sighting:
        """Known fields of both; this one's win where both know."""
        fields = ("vendor", "model", "firmware", "mac", "user_agent")
        updates = {f: getattr(self, f) or getattr(other, f) for f in fields}
        sources = [s for s in (self.source, other.source) if s]
        updates["source"] = ", ".join(dict.fromkeys(", ".join(sources).split(", ")))
        return replace(self, **updates)


def options_request(local_ip: str, local_port: int, target: str) -> bytes:
    """An OPTIONS a phone answers without registration (RFC 3261 11)."""
    return udp_request(
        "OPTIONS",
        f"sip:{target}",
        f"{local_ip}:{local_port}",
        f"sip:uacsta@{local_ip}",
        f"sip:{target}",
        [
            ("Max-Forwards", "1"),  # a probe, not to be forwarded
            ("Contact", f"<sip:uacsta@{local_ip}:{local_port}>"),
            ("Accept", "application/sdp"),
            ("User-Agent", "uacsta provisioning"),
        ],
    )


_PARAM = re.compile(r';\s*([\w\-]+)\s*=\s*(?:"([^"]*)"|([^;\s]+))')


def event_params(value: str) -> tuple[str, dict[str, str]]:
    """``ua-profile;vendor="snom";model=…`` → ("ua-profile", {vendor: snom, …})."""
    name = value.split(";", 1)[0].strip().lower()
    return name, {
        m.group(1).lower(): m.group(2) or m.group(3) or "" for m in _PARAM.finditer(value)
    }


def _mac_of(user: str | None) -> str:
    if not user:
        return ""
    mac = normalise_user(user)
    return mac if mac and len(mac) == 12 and mac[:6] in OUI_VENDORS else ""


def read_datagram(data: bytes, source_ip: str) -> Sighting | None:
    """A phone in an answer to our OPTIONS or in its PnP SUBSCRIBE; None for
    anything else (our own multicast looping back, other SIP traffic, garbage)."""
    try:
        msg = parse_message(data)
    except (SipParseError, ValueError):
        return None
    ua = (msg.headers.get("User-Agent") or msg.headers.get("Server") or "").strip()
    if isinstance(msg, Response):
        if msg.cseq.method != "OPTIONS" or "uacsta provisioning" in ua:
            return None
        users = [c.uri.user for c in msg.contacts if hasattr(c.uri, "user")]
        users.append(getattr(msg.to.uri, "user", None))
        mac = next((m for m in map(_mac_of, users) if m), "")
        return _identified(Sighting(source_ip, mac=mac, source="OPTIONS", user_agent=ua))
    if msg.method != "SUBSCRIBE":
        return None
    name, params = event_params(msg.headers.get("Event") or "")
    if name != "ua-profile":
        return None
    mac = _mac_of(getattr(msg.from_.uri, "user", None))
    seen = _identified(Sighting(source_ip, mac=mac, source="PnP SUBSCRIBE", user_agent=ua))
    vendor = params.get("vendor", "").lower()
    vendor = {"polycom": "poly", "aastra": "mitel"}.get(vendor, vendor)
    from_event = Sighting(
        source_ip,
        vendor=vendor if vendor in OUI_VENDORS.values() else "",
        model=params.get("model", ""),
        firmware=params.get("version", ""),
    )
    return seen.merged(from_event)


def _identified(seen: Sighting) -> Sighting:
    device = parse_user_agent(seen.user_agent, seen.mac)
    vendor = "" if device.vendor == "unknown" else device.vendor
    return seen.merged(Sighting(seen.ip, vendor, device.model, device.firmware))


def expand_targets(text: str) -> list[str]:
    """Addresses an administrator types: ``10.0.0.5``, ``10.0.0.10-10.0.0.20``,
    ``10.0.0.10-20``, ``10.0.1.0/28``, separated by commas or spaces.
    ValueError names what is wrong."""
    out: list[str] = []
    for item in re.split(r"[,\s]+", text.strip()):
        if not item:
            continue
        try:
            if "/" in item:
                net = ipaddress.ip_network(item, strict=False)
                hosts = list(net.hosts()) if net.num_addresses <= MAX_TARGETS * 2 else None
                if hosts is None:
                    raise ValueError("too many")
                out.extend(str(h) for h in hosts)
            elif "-" in item:
                first_s, last_s = item.split("-", 1)
                first = ipaddress.ip_address(first_s)
                if "." not in last_s and ":" not in last_s:
                    last_s = first_s.rsplit(".", 1)[0] + "." + last_s
                last = ipaddress.ip_address(last_s)
                if int(last) < int(first) or int(last) - int(first) >= MAX_TARGETS:
                    raise ValueError("bad range")
                out.extend(str(ipaddress.ip_address(i)) for i in range(int(first), int(last) + 1))
            else:
                out.append(str(ipaddress.ip_address(item)))
        except ValueError:
            raise ValueError(
                f"{item!r} is not an IP address, a range (a-b) or a network (a/n)"
            ) from None
        if len(out) > MAX_TARGETS:
            raise ValueError(f"more than {MAX_TARGETS} addresses; give a smaller range")
    return list(dict.fromkeys(out))
