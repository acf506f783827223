"""Who a phone is: its SIP user name (MAC or Gigaset handset ID) and what its
User-Agent says about vendor, model and firmware."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAC_RE = re.compile(r"^[0-9A-Fa-f]{12}$")
# Gigaset N870 handsets register with a 12-character ID in MAC style whose
# first six characters are 58gEC6 or 7C2F8o (manual 3.5.1.6).
_HANDSET_RE = re.compile(r"^(58gEC6|7C2F8o)[0-9A-Za-z]{6}$")

# Vendor OUIs of the manual's phones, for a User-Agent we cannot read.
OUI_VENDORS = {
    "000413": "snom",
    "001565": "yealink",
    "805EC0": "yealink",
    "00085D": "mitel",
    "0004F2": "poly",
    "64167F": "poly",
    "000952": "auerswald",
}


def normalise_user(user: str) -> str | None:
    """The canonical phone user name, or None if it is neither a MAC nor a handset ID."""
    if _MAC_RE.match(user):
        return user.upper()
    if _HANDSET_RE.match(user):
        return user
    return None


@dataclass(frozen=True, slots=True)
class Device:
    vendor: str
    model: str
    firmware: str


# (vendor, pattern) in order; each pattern has the groups model and firmware.
_UA_PATTERNS: list[tuple[str, re.Pattern[str]]] = [
    (
        "snom",
        re.compile(r"^snom(?P<model>[A-Za-z]*\d+[A-Za-z0-9]*)[-/ ](?P<firmware>[\w.\-]+)", re.I),
    ),
    ("yealink", re.compile(r"^Yealink\s+(?P<model>[\w\-]+)\s+(?P<firmware>[\d.]+)", re.I)),
    ("mitel", re.compile(r"^(?:Mitel|Aastra)\s*(?P<model>\d{4}i?)/(?P<firmware>[\w.\-]+)", re.I)),
    (
        "poly",
        re.compile(
            r"Poly(?:com)?\w*[-/](?P<model>(?:VVX|CCX|Edge)_[\w]+)-UA/(?P<firmware>[\w.\-]+)", re.I
        ),
    ),
    (
        "poly",
        re.compile(r"^Poly(?:com)?/(?P<firmware>[\d.]+)\s+(?P<model>(?:VVX|CCX)[\w ]*)", re.I),
    ),
    (
        "auerswald",
        re.compile(
            r"(?:Auerswald\s+)?(?P<model>COMfortel\s+\w+(?:\s+IP)?)[/ ](?P<firmware>[\w.\-]+)", re.I
        ),
    ),
    ("gigaset", re.compile(r"^Gigaset\s+(?P<model>[\w ]+?)/(?P<firmware>[\w.\-+]+)", re.I)),
]


def parse_user_agent(user_agent: str, user: str = "") -> Device:
    ua = user_agent.strip()
    for vendor, pattern in _UA_PATTERNS:
        m = pattern.search(ua)
        if m:
            model = m.group("model").replace("_", " ").strip()
            return Device(vendor, model, m.group("firmware"))
    if _HANDSET_RE.match(user):
        return Device("gigaset", "", "")
    return Device(OUI_VENDORS.get(user[:6].upper(), "unknown"), "", "")
