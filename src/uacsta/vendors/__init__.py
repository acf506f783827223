"""The vendors' registry: one home per vendor (``vendors/<vendor>.py``) and a
line here.  Adding a seventh vendor is a module with its ``VENDOR`` and one
entry in :data:`HOMES`.

Everything outside this package asks the registry: the routing of CSTA
services (the feature row), the registrar (the User-Agent), provisioning (the
account and the web interface).  The simulator does not: it has its own
description of each phone (``uacsta.sim.vendors``), so that tests compare two
sources.
"""

from __future__ import annotations

from collections.abc import Mapping
from types import MappingProxyType

from . import auerswald, gigaset, mitel, poly, snom, yealink
from .accounts import Account, Plan, ProvisioningError, Registration
from .base import FEATURES, Support, VendorProfile
from .identity import HANDSET_RE, Device, normalise_user, typed_user
from .web import Dialect

# The manual's order; User-Agents are tried in it too.
HOMES = (auerswald, mitel, snom, yealink, poly, gigaset)

VENDORS: Mapping[str, VendorProfile] = MappingProxyType({h.VENDOR.name: h.VENDOR for h in HOMES})
# Phones we cannot tell apart still get a session: everything is tried, and the
# phone's own answer says what it lacks.
UNKNOWN = VendorProfile("unknown", "unknown", "", "", dict.fromkeys(FEATURES, Support.YES))
# Vendor OUIs of the manual's phones, for a User-Agent we cannot read.
OUI_VENDORS: Mapping[str, str] = MappingProxyType(
    {oui: v.name for v in VENDORS.values() for oui in v.ouis}
)
# The web interfaces provisioning knows, by vendor.
DIALECTS: Mapping[str, Dialect] = MappingProxyType(
    {v.name: v.dialect for v in VENDORS.values() if v.dialect is not None}
)


def profile(vendor: str) -> VendorProfile:
    return VENDORS.get(vendor, UNKNOWN)


def plan(vendor: str, settings: Mapping[str, str], account: Account) -> Plan:
    """What provisioning writes to this vendor's phone for ``account``."""
    home = VENDORS.get(vendor)
    if home is None or home.account is None:
        raise ProvisioningError(f"no provisioning for vendor {vendor!r}")
    return home.account.plan(settings, account)


def registrations(vendor: str, settings: Mapping[str, str], mac: str) -> list[Registration]:
    """The uaCSTA accounts these settings of the vendor's phone hold."""
    home = VENDORS.get(vendor)
    return home.account.read(settings, mac) if home and home.account else []


def parse_user_agent(user_agent: str, user: str = "") -> Device:
    """Vendor, model and firmware from a User-Agent; failing that, a Gigaset
    handset ID or the MAC's vendor prefix give the vendor."""
    ua = user_agent.strip()
    for vendor in VENDORS.values():
        for pattern in vendor.user_agents:
            m = pattern.search(ua)
            if m:
                model = m.group("model").replace("_", " ").strip()
                return Device(vendor.name, model, m.group("firmware"))
    if HANDSET_RE.match(user):
        return Device("gigaset", "", "")
    return Device(OUI_VENDORS.get(user[:6].upper(), "unknown"), "", "")


__all__ = [
    "DIALECTS",
    "FEATURES",
    "OUI_VENDORS",
    "UNKNOWN",
    "VENDORS",
    "Account",
    "Device",
    "Dialect",
    "Plan",
    "ProvisioningError",
    "Registration",
    "Support",
    "VendorProfile",
    "normalise_user",
    "parse_user_agent",
    "plan",
    "profile",
    "registrations",
    "typed_user",
]
