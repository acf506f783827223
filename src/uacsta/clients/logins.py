"""Client logins from the store, checked the same way for every face: by
password (JSON face) or by digest HA1 (uaCSTA over SIP), with lock-out after
repeated wrong passwords."""

from __future__ import annotations

import hmac
import logging
import time

from ..core.devices import DeviceRights
from ..csta.types import device_key
from ..lockout import Lockout
from ..sip.digest import compute_ha1
from ..store import repo
from ..store.db import Database
from ..store.models import ClientLogin

log = logging.getLogger("uacsta.clients")


def rights_of(login: ClientLogin) -> DeviceRights:
    # Patterns are kept as the admin typed them; devices are matched by key.
    patterns = tuple(p if "*" in p or "?" in p else device_key(p) for p in login.allowed_devices)
    return DeviceRights(patterns)


class ClientLogins:
    def __init__(self, db: Database, realm: str) -> None:
        self.db = db
        self.realm = realm
        self.lockout = Lockout()

    async def get(self, name: str) -> ClientLogin | None:
        return await repo.get_client_login(self.db, name)

    async def check_password(self, name: str, password: str, source: str) -> DeviceRights | None:
        """The login's rights, or None for a wrong name or password (or a
        source locked out for too many of them)."""
        now = time.monotonic()
        if self.lockout.locked(source, name, now):
            log.warning("client login %r from %s refused: locked out", name, source)
            return None
        login = await self.get(name)
        if login is not None:
            given = compute_ha1(name, login.realm, password, "SHA-256")
            if hmac.compare_digest(given, login.ha1_sha256):
                self.lockout.succeeded(source, name)
                return rights_of(login)
        count = self.lockout.failed(source, name, now)
        log.warning(
            "client login %r from %s: wrong name or password (attempt %d)", name, source, count
        )
        return None
