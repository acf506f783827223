"""The settings that take effect while the server runs: read at start, and
again whenever the administrator (or another process) stored something."""

from __future__ import annotations

import logging
import secrets
import string
from collections.abc import Awaitable, Callable
from typing import cast

from ..logs import LogManager, check_writable
from ..phones.phone_session import SessionSettings
from ..phones.registrar import RegistrarPolicy
from ..secrets_box import SecretBox
from ..settings import Advanced, ClientConnection, Diagnostics, default_client_connection
from ..store import repo
from ..store.db import Database

log = logging.getLogger("uacsta.server")


def generate_password(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


class LiveSettings:
    def __init__(self, db: Database, box: SecretBox, logs: LogManager) -> None:
        self.db = db
        self.box = box
        self.logs = logs
        self.advanced = Advanced()
        self.client_connection: ClientConnection = default_client_connection()
        self.phone_password = ""
        # told after every reload (the registrar's policy, the client logins)
        self.listeners: list[Callable[[], Awaitable[None]]] = []

    async def load(self) -> str | None:
        """The first reading at start; returns the phone password if it was
        generated just now (the console shows it once)."""
        diag = cast(Diagnostics, await repo.load_section(self.db, "diagnostics"))
        problem = check_writable(self.logs.folder_for(diag))
        if problem:
            raise RuntimeError(problem)
        self.logs.apply(diag)
        self.advanced = cast(Advanced, await repo.load_section(self.db, "advanced"))
        self.client_connection = cast(
            ClientConnection, await repo.load_section(self.db, "client_connection")
        )
        password = await repo.get_secret(self.db, self.box, repo.PHONE_PASSWORD)
        generated = None
        if password is None:
            password = generated = generate_password()
            await repo.set_secret(self.db, self.box, repo.PHONE_PASSWORD, password)
        self.phone_password = password
        return generated

    async def reload(self) -> None:
        """Take what is stored now.  Ports and addresses take effect when a
        service restarts (:meth:`restart_client_connection`); windows, bounds,
        timeouts and webhook targets at once."""
        self.advanced = cast(Advanced, await repo.load_section(self.db, "advanced"))
        stored = cast(ClientConnection, await repo.load_section(self.db, "client_connection"))
        self.client_connection = self.client_connection.model_copy(
            update={
                "resume_window": stored.resume_window,
                "max_queued_events": stored.max_queued_events,
                "request_timeout": stored.request_timeout,
                "webhook_targets": stored.webhook_targets,
            }
        )
        password = await repo.get_secret(self.db, self.box, repo.PHONE_PASSWORD)
        if password and password != self.phone_password:
            self.phone_password = password
            log.info("phone password changed")
        diag = cast(Diagnostics, await repo.load_section(self.db, "diagnostics"))
        if check_writable(self.logs.folder_for(diag)) is None:
            self.logs.apply(diag)
        for listener in self.listeners:
            await listener()

    async def restart_client_connection(self) -> ClientConnection:
        """All of the client connection settings, for a client service start."""
        self.client_connection = cast(
            ClientConnection, await repo.load_section(self.db, "client_connection")
        )
        return self.client_connection

    def policy(self) -> RegistrarPolicy:
        adv = self.advanced
        return RegistrarPolicy(adv.sip_expiration, adv.min_expiration, adv.auto_enable)

    def session_settings(self) -> SessionSettings:
        return SessionSettings(
            keepalive=float(self.advanced.keepalive),
            request_timeout=self.client_connection.request_timeout,
        )
