"""The device directory: every identity of every phone session is a device that
clients can name by any of its spellings.

A phone reports its identities (SwitchingFunctionDevices) as URIs such as
``sip:201@pbx.example``; clients say ``201``, ``201@pbx.example``,
``sip:201@pbx.example;user=phone`` or ``tel:201``.  All of them find the same
device.  A device keeps its place while its phone is away, so that monitors on
it survive a reboot and come back by themselves.
"""

from __future__ import annotations

import fnmatch
import logging
from dataclasses import dataclass

from ..csta.types import DeviceID, device_key

log = logging.getLogger("uacsta.devices")


@dataclass(slots=True)
class Device:
    key: str  # normalised: user@host, or the number itself
    id: DeviceID  # as the phone spells it: what we send to the phone
    mac: str  # the phone that owns it

    @property
    def number(self) -> str:
        return self.key.split("@", 1)[0]


def _number(key: str) -> str:
    return key.split("@", 1)[0]


class DeviceDirectory:
    def __init__(self) -> None:
        self._by_key: dict[str, Device] = {}
        self._by_number: dict[str, set[str]] = {}
        self._by_mac: dict[str, list[Device]] = {}

    def __len__(self) -> int:
        return len(self._by_key)

    def all(self) -> list[Device]:
        return sorted(self._by_key.values(), key=lambda d: d.key)

    def has(self, key: str) -> bool:
        """Whether a device of that (normalised) key exists."""
        return key in self._by_key

    def of_phone(self, mac: str) -> list[Device]:
        return list(self._by_mac.get(mac, ()))

    def find(self, spelling: str) -> Device | None:
        """The device a client means, or None when unknown or ambiguous (a bare
        number that two hosts share)."""
        key = device_key(spelling)
        device = self._by_key.get(key)
        if device is not None:
            return device
        keys = self._by_number.get(_number(key))
        if keys and len(keys) == 1 and ("@" not in key or key == next(iter(keys))):
            return self._by_key[next(iter(keys))]
        return None

    def set_identities(self, mac: str, identities: list[DeviceID]) -> list[Device]:
        """The phone's identities as it reported them now; returns the devices
        that are no longer the phone's."""
        keep = {d.key for d in identities}
        gone = [d for d in self._by_mac.get(mac, ()) if d.key not in keep]
        for old in gone:
            self._drop(old)
        for ident in identities:
            key = ident.key
            device = self._by_key.get(key)
            if device is not None and device.mac != mac:
                # One owner per device: the phone that reports it last has it.
                log.warning(
                    "device %s moves from phone %s to phone %s",
                    key,
                    device.mac,
                    mac,
                    extra={"tag": mac},
                )
                self._drop(device)
                device = None
            if device is None:
                device = Device(key, ident, mac)
                self._by_key[key] = device
                self._by_number.setdefault(_number(key), set()).add(key)
                self._by_mac.setdefault(mac, []).append(device)
            else:
                device.id = ident
        return gone

    def remove_phone(self, mac: str) -> list[Device]:
        gone = list(self._by_mac.get(mac, ()))
        for device in gone:
            self._drop(device)
        return gone

    def _drop(self, device: Device) -> None:
        self._by_key.pop(device.key, None)
        keys = self._by_number.get(device.number)
        if keys is not None:
            keys.discard(device.key)
            if not keys:
                del self._by_number[device.number]
        owned = self._by_mac.get(device.mac)
        if owned is not None:
            owned[:] = [d for d in owned if d.key != device.key]
            if not owned:
                del self._by_mac[device.mac]


@dataclass(frozen=True)
class DeviceRights:
    """The devices a client login may see and use: all when the list is empty,
    otherwise those matching one of its patterns (``2*``, ``201@pbx``, a MAC)."""

    patterns: tuple[str, ...] = ()

    def allows(self, device: Device) -> bool:
        if not self.patterns:
            return True
        names = (device.key, device.number, device.mac)
        return any(
            fnmatch.fnmatchcase(name, pattern) for pattern in self.patterns for name in names
        )
