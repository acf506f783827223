"""Client logins, checked the same way for every face: by password (JSON
face) or by digest HA1 (uaCSTA over SIP), with lock-out after repeated wrong
passwords.  They are held in memory (a SIP request is answered without a
database round trip) and reloaded when the store changes."""

from __future__ import annotations

import hmac
import logging
import time
from collections import Counter
from dataclasses import dataclass

from ..core.devices import DeviceRights
from ..csta.types import device_key
from ..lockout import Lockout
from ..sip.digest import compute_ha1
from ..store import repo
from ..store.db import Database

log = logging.getLogger("uacsta.faces")


@dataclass(frozen=True)
class Login:
    name: str
    realm: str
    ha1: dict[str, str]  # digest algorithm -> HA1
    rights: DeviceRights


def rights_of(allowed: list[str]) -> DeviceRights:
    # Patterns stay as the admin typed them; plain names are matched by key.
    return DeviceRights(tuple(p if "*" in p or "?" in p else device_key(p) for p in allowed))


class ClientLogins:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.lockout = Lockout()
        self._logins: dict[str, Login] = {}
        self.refused: Counter[str] = Counter()  # failed and locked-out logins by face

    async def load(self) -> None:
        self._logins = {
            row.name: Login(
                row.name,
                row.realm,
                {"MD5": row.ha1_md5, "SHA-256": row.ha1_sha256},
                rights_of(list(row.allowed_devices)),
            )
            for row in await repo.list_client_logins(self.db)
        }

    def get(self, name: str) -> Login | None:
        return self._logins.get(name)

    def check_password(
        self, name: str, password: str, source: str, face: str = ""
    ) -> DeviceRights | None:
        """The login's rights, or None for a wrong name or password (or a
        source locked out for too many of them)."""
        now = time.monotonic()
        if self.lockout.locked(source, name, now):
            log.warning("client login %r from %s refused: locked out", name, source)
            self.refused[face] += 1
            return None
        login = self._logins.get(name)
        if login is not None:
            given = compute_ha1(name, login.realm, password, "SHA-256")
            if hmac.compare_digest(given, login.ha1["SHA-256"]):
                self.lockout.succeeded(source, name, now)
                return login.rights
        self.failed(name, source, face)
        return None

    def failed(self, name: str, source: str, face: str = "") -> None:
        self.refused[face] += 1
        count = self.lockout.failed(source, name, time.monotonic())
        log.warning(
            "client login %r from %s: wrong name or password (attempt %d)", name, source, count
        )

    def locked(self, name: str, source: str) -> bool:
        return self.lockout.locked(source, name, time.monotonic())
