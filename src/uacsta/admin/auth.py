"""Admin accounts and their sessions: argon2 password hashes in the store,
sessions in memory (a random token in an HttpOnly, SameSite=Strict cookie),
a CSRF token per session, lock-out after repeated wrong passwords."""

from __future__ import annotations

import asyncio
import hmac
import logging
import secrets
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError

from ..lockout import Lockout
from ..store import repo
from ..store.db import Database

log = logging.getLogger("uacsta.admin")
SESSION_IDLE = 8 * 3600.0  # seconds without a request before a session ends
COOKIE = "uacsta_admin"
MIN_PASSWORD = 8
# Password hashes are checked off the event loop, two at a time; beyond this
# many waiting, a login is refused at once.
_HASHING = ThreadPoolExecutor(max_workers=2, thread_name_prefix="uacsta-argon2")
MAX_WAITING_HASHES = 16


@dataclass
class AdminSession:
    name: str
    token: str = field(default_factory=lambda: secrets.token_urlsafe(32))
    csrf: str = field(default_factory=lambda: secrets.token_urlsafe(24))
    last_seen: float = field(default_factory=time.monotonic)

    def csrf_ok(self, given: str | None) -> bool:
        return given is not None and hmac.compare_digest(given, self.csrf)


VERIFIED_FOR = 60.0  # seconds a verified name and password are taken without argon2
MAX_VERIFIED = 256


class AccountError(Exception):
    """An account change refused, with what to do instead."""


class AdminAuth:
    def __init__(self, db: Database) -> None:
        self.db = db
        self.hasher = PasswordHasher()
        self.lockout = Lockout(max_failures=5, window=300.0)
        self._sessions: dict[str, AdminSession] = {}
        self._hashing = 0  # checks under way or waiting
        # Scripts send HTTP Basic with every call: a name and password that
        # verified against the stored hash a moment ago are taken again without
        # argon2 (a minute at most).  The key covers the stored hash, so a
        # changed or removed password (also by the CLI) is never taken.
        self._verified: dict[bytes, float] = {}
        self._verified_key = secrets.token_bytes(32)
        # The operator CLI on this host: a bearer token the server writes to
        # control.json in the data folder (readable by its user only).
        self.local_token = secrets.token_urlsafe(32)

    def local(self, token: str) -> AdminSession | None:
        if hmac.compare_digest(token.encode(), self.local_token.encode()):
            return AdminSession("local CLI")
        return None

    def hash(self, password: str) -> str:
        if len(password) < MIN_PASSWORD:
            raise ValueError(f"an admin password needs at least {MIN_PASSWORD} characters")
        return self.hasher.hash(password)

    def _check(self, password_hash: str, password: str) -> bool:
        try:
            return bool(self.hasher.verify(password_hash, password))
        except (VerificationError, InvalidHashError):
            return False

    async def has_no_admin(self) -> bool:
        return await repo.count_admins(self.db) == 0

    async def set_password(self, name: str, password: str) -> bool:
        return await repo.set_admin(self.db, name, self.hash(password))

    async def create(self, name: str, password: str) -> None:
        """A new account; an existing name is refused (its password is changed
        with :meth:`change_password`, never by accident)."""
        if await repo.get_admin(self.db, name) is not None:
            raise AccountError(
                f"admin account {name!r} exists; change its password with "
                f"'uacsta admin password {name}'"
            )
        await self.set_password(name, password)

    async def change_password(self, name: str, password: str) -> None:
        if await repo.get_admin(self.db, name) is None:
            raise AccountError(f"no admin account {name!r}; create it with 'uacsta admin create'")
        await self.set_password(name, password)

    async def remove(self, name: str) -> None:
        """Remove an account and end its sessions; the last one stays, or
        nobody could administer the server."""
        if await repo.get_admin(self.db, name) is None:
            raise AccountError(f"no admin account {name!r}")
        if await repo.count_admins(self.db) <= 1:
            raise AccountError(f"{name!r} is the last admin account; create another one first")
        await repo.remove_admin(self.db, name)
        self.end_sessions(name)
        log.info("admin account %s removed", name)

    def end_sessions(self, name: str) -> None:
        for token, session in list(self._sessions.items()):
            if session.name == name:
                del self._sessions[token]

    async def still_there(self, session: AdminSession) -> bool:
        """Whether the session's account still exists (another process, the
        CLI, may have removed it): a removed account's sessions end."""
        if await repo.get_admin(self.db, session.name) is not None:
            return True
        self.end_sessions(session.name)
        return False

    async def verify(self, name: str, password: str, source: str) -> bool:
        now = time.monotonic()
        if self.lockout.locked(source, name, now):
            log.warning("admin login %r from %s refused: locked out", name, source)
            return False
        account = await repo.get_admin(self.db, name)
        proof = b""
        if account is not None:
            material = "\0".join((name, password, account.password_hash)).encode()
            proof = hmac.new(self._verified_key, material, "sha256").digest()
            if self._verified.get(proof, 0.0) > now:
                self.lockout.succeeded(source, name, now)
                return True
        if self._hashing >= MAX_WAITING_HASHES:
            # argon2 is made to be slow: a flood of logins must not queue
            # without bound (nor, being off the loop, slow phones and clients).
            log.warning("admin login %r from %s refused: too many logins at once", name, source)
            return False
        self._hashing += 1
        try:
            ok = account is not None and await asyncio.get_running_loop().run_in_executor(
                _HASHING, self._check, account.password_hash, password
            )
        finally:
            self._hashing -= 1
        if not ok:
            count = self.lockout.failed(source, name, now)
            log.warning(
                "admin login %r from %s: wrong name or password (attempt %d)", name, source, count
            )
            return False
        self.lockout.succeeded(source, name, now)
        if len(self._verified) >= MAX_VERIFIED:
            self._verified = {k: v for k, v in self._verified.items() if v > now}
        if len(self._verified) < MAX_VERIFIED:
            self._verified[proof] = now + VERIFIED_FOR
        return True

    async def login(self, name: str, password: str, source: str) -> AdminSession | None:
        if not await self.verify(name, password, source):
            return None
        session = AdminSession(name)
        self._sessions[session.token] = session
        log.info("admin %s logged in from %s", name, source)
        return session

    def session(self, token: str | None) -> AdminSession | None:
        if not token:
            return None
        session = self._sessions.get(token)
        now = time.monotonic()
        if session is None:
            return None
        if now - session.last_seen > SESSION_IDLE:
            del self._sessions[token]
            return None
        session.last_seen = now
        return session

    def logout(self, token: str) -> None:
        session = self._sessions.pop(token, None)
        if session is not None:
            log.info("admin %s logged out", session.name)
