"""The telephone list in memory, written behind to the store.

REGISTER is answered from memory (no database round trip on the hot path);
changed rows are collected and written in one transaction by :meth:`flush`,
which the server calls periodically and at shutdown.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from datetime import datetime

from ..store import repo
from ..store.db import Database
from ..store.models import Phone
from ..vendors import Device

log = logging.getLogger("uacsta.phones")


SHARED_EVERY = 5.0  # seconds between readings of the other nodes' phones
SHOWN_FOR = 120.0  # seconds the telephone list counts as looked at after a look


class PhoneDirectory:
    def __init__(self, db: Database) -> None:
        self.db = db
        self._phones: dict[str, Phone] = {}
        self._dirty: set[str] = set()
        self._revision = -1
        # Nodes of a cluster on one store (:meth:`share`): the others' phones.
        self._here: Callable[[str], bool] | None = None
        self._phones_revision = -1
        self._phones_read = 0.0
        self._shown = -SHOWN_FOR

    def share(self, here: Callable[[str], bool]) -> None:
        """The store is shared with other nodes: follow the rows they write
        for their phones (``here``: whether a phone is registered with this
        node, whose row is ours to write)."""
        self._here = here

    def shown(self) -> None:
        """The telephone list is looked at (the admin UI, the API): in a cluster
        the other nodes' rows are followed while it is (reading every row of a
        shared store costs, and nothing else needs the others' rows)."""
        self._shown = time.monotonic()

    def __len__(self) -> int:
        return len(self._phones)

    def get(self, mac: str) -> Phone | None:
        return self._phones.get(mac)

    def all(self) -> list[Phone]:
        return sorted(self._phones.values(), key=lambda p: p.mac)

    def unordered(self) -> list[Phone]:
        """Every phone, in no particular order (counting needs no sort)."""
        return list(self._phones.values())

    async def load(self) -> None:
        await repo.mark_all_offline(self.db)
        self._phones = {p.mac: p for p in await repo.list_phones(self.db)}
        self._revision = await repo.revision(self.db)

    def registered(
        self,
        mac: str,
        *,
        device: Device,
        user_agent: str,
        ip: str,
        port: int,
        transport: str,
        identity: str,
        when: datetime,
        auto_enable: bool,
    ) -> tuple[Phone, bool]:
        """Record a successful registration; returns the phone and whether it is new."""
        phone = self._phones.get(mac)
        new = phone is None
        if phone is None:
            phone = Phone(mac=mac, first_login=when, enabled=auto_enable)
            self._phones[mac] = phone
        phone.vendor, phone.model, phone.firmware = device.vendor, device.model, device.firmware
        phone.user_agent = user_agent[:255]
        phone.last_ip, phone.last_port, phone.last_transport = ip, port, transport
        phone.last_identity = identity[:255]
        phone.last_login = when
        # The status comes from the phone's lifecycle (sessions.py), not from
        # the registration: a refresh leaves a controllable phone controllable.
        self._dirty.add(mac)
        return phone, new

    def unchanged(self, mac: str, user_agent: str, identity: str) -> Phone | None:
        """The phone, if a registration with this User-Agent and identity would
        change nothing in its row (a refresh on the same connection: the same
        address and transport)."""
        phone = self._phones.get(mac)
        if (
            phone is None
            or phone.user_agent != user_agent[:255]
            or phone.last_identity != identity[:255]
        ):
            return None
        return phone

    def set_status(self, mac: str, status: str, note: str = "") -> None:
        """The lifecycle's status (``lifecycle.STATUS``) and what to know of it."""
        phone = self._phones.get(mac)
        note = note[:255]
        if phone is not None and (phone.status != status or phone.note != note):
            phone.status, phone.note = status, note
            self._dirty.add(mac)

    async def flush(self) -> int:
        if not self._dirty:
            return 0
        macs, self._dirty = self._dirty, set()
        rows = [self._phones[m] for m in macs if m in self._phones]
        try:
            await repo.save_phones(self.db, rows)
        except Exception:
            self._dirty |= macs  # try again next time; nothing is lost
            raise
        return len(rows)

    async def sync_from_store(self) -> bool:
        """Take what others (the CLI, a second admin) changed: enabled flags and
        removed phones; in a cluster also the other nodes' phones.  Cheap when
        nothing changed (one row read)."""
        rev = await repo.revision(self.db)
        if rev == self._revision:
            return await self._others_phones()
        self._revision = rev
        stored = {p.mac: p for p in await repo.list_phones(self.db)}
        for mac in list(self._phones):
            if mac not in stored and mac not in self._dirty:
                log.info("phone %s was removed from the telephone list", mac, extra={"tag": mac})
                del self._phones[mac]
        for mac, row in stored.items():
            mine = self._phones.get(mac)
            if mine is None:
                self._phones[mac] = row
            elif mine.enabled != row.enabled:
                mine.enabled = row.enabled
                state = "enabled" if row.enabled else "disabled"
                log.info("phone %s was %s", mac, state, extra={"tag": mac})
        self._take_others(stored)
        return True

    async def _others_phones(self) -> bool:
        """The rows other nodes wrote, every ``SHARED_EVERY`` seconds at the
        most (a reading of the whole list, while phones register elsewhere)."""
        now = time.monotonic()
        if self._here is None or now - self._phones_read < SHARED_EVERY:
            return False
        if now - self._shown > SHOWN_FOR:
            return False
        rev = await repo.revision(self.db, repo.PHONES_REVISION_KEY)
        if rev == self._phones_revision:
            return False
        self._phones_revision, self._phones_read = rev, now
        return self._take_others({p.mac: p for p in await repo.list_phones(self.db)})

    def _take_others(self, stored: dict[str, Phone]) -> bool:
        here = self._here
        if here is None:
            return False
        taken = False
        for mac, row in stored.items():
            if mac in self._dirty or here(mac):
                continue  # ours to write
            mine = self._phones.get(mac)
            if mine is None or repo.phone_row(mine) != repo.phone_row(row):
                self._phones[mac] = row
                taken = True
        return taken
