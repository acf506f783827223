"""Who a phone is: its SIP user name, a MAC or a Gigaset handset ID, and
what its User-Agent says about vendor, model and firmware (the patterns are in
each vendor's home, read by ``uacsta.vendors.parse_user_agent``)."""

from __future__ import annotations

import re
from dataclasses import dataclass

_MAC_RE = re.compile(r"^[0-9A-Fa-f]{12}$")
# Gigaset N870 handsets register with a 12-character ID in MAC style whose
# first six characters are 58gEC6 or 7C2F8o (manual 3.5.1.6).
HANDSET_RE = re.compile(r"^(58gEC6|7C2F8o)[0-9A-Za-z]{6}$")


def normalise_user(user: str) -> str | None:
    """The canonical phone user name, or None if it is neither a MAC nor a handset ID."""
    if _MAC_RE.match(user):
        return user.upper()
    if HANDSET_RE.match(user):
        return user
    return None


def typed_user(text: str) -> str | None:
    """A phone's user name as an administrator types it: 00:04:13:AA:BB:CC
    and 00-04-13-AA-BB-CC as well as 000413AABBCC."""
    return normalise_user(text.replace(":", "").replace("-", ""))


@dataclass(frozen=True, slots=True)
class Device:
    vendor: str
    model: str
    firmware: str
