"""The uaCSTA account, whatever the vendor: what provisioning writes to a
phone (a :class:`Plan`), how a phone's settings read back (:class:`Registration`),
and the helpers each vendor's table is written with (``vendors/<vendor>.py``).

Sans-IO: settings are plain ``key -> value`` mappings as the phone's web
interface or configuration file shows them.  The simulator reads accounts with
tables of its own (``uacsta.sim.accounts``), so a provisioning test compares
two sources.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Literal

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
    second_server: str = ""  # where to register when the server does not answer ('' none)
    second_port: int = 0


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


def read_registration(
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
        to_int(settings.get(port), 5060),
        transport,
        to_int(settings.get(expiry), 3600),
    )


def free_slot(settings: Mapping[str, str], key: str, slots: range, highest: bool) -> int:
    order = reversed(slots) if highest else slots
    for n in order:
        if not settings.get(key.format(n=n), "").strip():
            return n
    raise ProvisioningError("no unused slot for the uaCSTA account")


def slot_with(settings: Mapping[str, str], key: str, slots: range, mac: str) -> int | None:
    for n in slots:
        if settings.get(key.format(n=n), "").upper() == mac.upper():
            return n
    return None


def to_int(value: str | None, default: int) -> int:
    try:
        return int(value or "")
    except ValueError:
        return default


@dataclass(frozen=True, slots=True)
class VendorAccount:
    """How one vendor keeps the uaCSTA account: what provisioning writes
    (``plan``) and how the phone's settings read back as registrations
    (``read``, also used to check a push)."""

    plan: Callable[[Mapping[str, str], Account], Plan]
    read: Callable[[Mapping[str, str], str], list[Registration]]
    # the keys to read first, for web interfaces that read by name (Poly)
    keys: Callable[[], list[str]] = list


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
