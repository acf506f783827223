"""The phone service and the client service: their listeners, opened with the
connection settings as stored when they start (the manual: changed ports and
addresses take effect at a restart), stopped and started by the administrator
while the admin UI stays up."""

from __future__ import annotations

import contextlib
import functools
import json
import logging
import os
import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any, cast

from ..admin.auth import AdminAuth
from ..config import Config
from ..core.switching import SwitchingFunction
from ..csta.framing import CstaStreamFramer
from ..faces.csta_tcp import CstaTcpFace
from ..faces.json_api import create_app, json_session
from ..faces.logins import ClientLogins
from ..faces.sip import SipClientFace
from ..faces.webhooks import Webhooks
from ..net import tls
from ..net.connection import SipConnection
from ..net.http import HttpService
from ..net.sip_service import ListenerError, Listening, SipService
from ..phones.directory import PhoneDirectory
from ..phones.endpoint import PhoneEndpoint
from ..phones.registrar import Registrar
from ..phones.session_manager import SessionManager
from ..provisioning.config_server import create_config_app
from ..provisioning.provisioner import CONFIG_SERVER, config_token
from ..secrets_box import SecretBox
from ..settings import (
    ClientConnection,
    ClientInterface,
    PhoneConnection,
    ProvisioningOptions,
    TlsSettings,
)
from ..sip.digest import DigestServer
from ..sip.message import Request, Response
from ..sip.transaction import TIMEOUT
from ..store import repo
from ..store.db import Database
from .live import LiveSettings, generate_password

log = logging.getLogger("uacsta.server")


def sip_service(
    config: Config,
    side: str,
    on_message: Callable[[SipConnection, Request | Response], None],
    on_closed: Callable[[SipConnection], None],
    idle_timeout: Callable[[SipConnection], float],
    **stream: Any,
) -> SipService:
    """A stream service with the limits of the configuration (``stream``: the
    framer, frame callback and ports of CSTA over TCP)."""
    return SipService(
        side,
        on_message,
        on_closed,
        max_per_source=config.max_connections_per_source,
        tls_handshake_timeout=config.tls_handshake_timeout,
        idle_timeout=idle_timeout,
        max_connections=config.max_connections,
        max_buffered=config.max_buffered_bytes,
        message_deadline=config.message_deadline,
        share_ports=config.share_ports,
        **stream,
    )


def _no_sip(conn: SipConnection, msg: Request | Response) -> None:
    conn.close()  # the CSTA listener's framer makes no SIP messages


FIRST_START_FILE = "first-start.txt"
CONTROL_FILE = "control.json"  # the running server, for the operator CLI


@dataclass
class StartupNotes:
    """What the server says once at start (and the CLI prints after its
    summary).  What was generated (passwords, the local CA) is also written at
    once to ``first-start.txt`` in the data folder, readable by the server's
    user only: a start interrupted before the console showed it loses nothing."""

    folder: Path
    lines: list[str] = field(default_factory=list)

    @property
    def path(self) -> Path:
        return self.folder / FIRST_START_FILE

    def add(self, line: str) -> None:
        self.lines.append(line)
        stamp = datetime.now().astimezone().isoformat(timespec="seconds")
        fd = os.open(self.path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(fd, "a", encoding="utf-8") as f:
            f.write(f"{stamp} {line}\n")
        self.path.chmod(0o600)


@dataclass
class PhoneParts:
    registrar: Registrar
    sessions: SessionManager
    switching: SwitchingFunction
    directory: PhoneDirectory


class PhoneService:
    """The phone listeners (TCP, TLS) and, for Mitel phones, the
    configuration server that serves startup.cfg."""

    def __init__(
        self,
        config: Config,
        db: Database,
        box: SecretBox,
        live: LiveSettings,
        certificates: tls.Certificates,
        parts: PhoneParts,
        clock: Callable[[], float],
        notes: StartupNotes,
    ) -> None:
        self.config, self.db, self.box, self.live = config, db, box, live
        self.certificates = certificates
        self.parts = parts
        self.notes = notes
        endpoint = PhoneEndpoint(parts.registrar, parts.sessions, clock)
        self.sip = sip_service(
            config, "phone", endpoint.handle, parts.registrar.connection_lost, self._idle_timeout
        )
        self.config_server: HttpService | None = None
        self.since: datetime | None = None

    @property
    def running(self) -> bool:
        return self.sip.running

    @property
    def listening(self) -> list[Listening]:
        served = self.config_server.listening if self.config_server is not None else []
        return [*self.sip.listening, *served]

    def _idle_timeout(self, conn: SipConnection) -> float:
        if conn.macs:
            return self.config.idle_timeout or float(self.live.advanced.sip_expiration + 60)
        # Nobody registered on it yet: a scanner or a half-open connection.
        return TIMEOUT

    async def start(self) -> None:
        if self.sip.running:
            return
        phone_conn = cast(PhoneConnection, await repo.load_section(self.db, "phone_connection"))
        # Connection settings take effect here: the digest algorithms too.
        self.parts.registrar.digest.algorithms = tuple(phone_conn.digest_algorithms)
        tls_settings = cast(TlsSettings, await repo.load_section(self.db, "tls"))
        extra = [i.public_address for i in (phone_conn.lan, phone_conn.wan) if i.public_address]
        paths, generated = self.certificates.ensure(
            tls_settings.cert_file, tls_settings.key_file, extra
        )
        if generated:
            ca_info = tls.info(paths.ca) if paths.ca else None
            log.warning("generated a local CA and TLS certificate: %s", paths.cert)
            self.notes.add(
                f"Generated a local CA and a TLS certificate for {self.config.host_name}: "
                f"{paths.cert} (CA {paths.ca}, SHA-256 fingerprint "
                f"{ca_info.sha256 if ca_info else '?'})"
            )
        tls.tune_asyncio_tls_buffers()
        await self.sip.start(phone_conn, self.certificates.context())
        self.since = datetime.now().astimezone()
        await self._start_config_server(phone_conn)

    async def stop(self) -> None:
        self.parts.switching.abort_registrations("phone service stopped")
        await self.parts.sessions.close()
        if self.config_server is not None:
            await self.config_server.stop()
            self.config_server = None
        await self.sip.stop()
        self.since = None
        with contextlib.suppress(Exception):
            await self.parts.directory.flush()

    def bound_port(self, interface: str, kind: str) -> int | None:
        service = self.config_server if kind == CONFIG_SERVER else self.sip
        with contextlib.suppress(KeyError):
            return service.port(interface, kind) if service is not None else None
        return None

    async def _start_config_server(self, phone_conn: PhoneConnection) -> None:
        """The configuration server for Mitel phones, on the phone interface that
        provisioning uses.  Being optional, a port conflict is logged, not fatal."""
        opts = cast(ProvisioningOptions, await repo.load_section(self.db, "provisioning"))
        iface = phone_conn.lan if opts.interface == "lan" else phone_conn.wan
        if opts.http_port is None or not iface.enabled:
            return

        async def source() -> tuple[str, int, str]:
            now = cast(ProvisioningOptions, await repo.load_section(self.db, "provisioning"))
            conn = cast(PhoneConnection, await repo.load_section(self.db, "phone_connection"))
            face = conn.lan if now.interface == "lan" else conn.wan
            server = now.server_address or (
                face.public_address or "" if now.interface == "wan" else ""
            )
            port = self.bound_port(now.interface, "TCP") or face.tcp_port or 0
            return server, port, self.live.phone_password

        self.config_server = HttpService(
            "phone",
            create_config_app(source, config_token(self.box), self.certificates.ca_pem),
            share_ports=self.config.share_ports,
        )
        try:
            await self.config_server.listen(
                opts.interface, CONFIG_SERVER, iface.address, opts.http_port, None
            )
        except ListenerError as exc:
            log.error("%s; Mitel phones cannot load startup.cfg", exc)
            await self.config_server.stop()
            self.config_server = None


class ClientService:
    """The client listeners: uaCSTA over SIP on TCP and TLS, CSTA XML over TCP
    and TLS, the JSON API over HTTP and HTTPS."""

    def __init__(
        self,
        config: Config,
        live: LiveSettings,
        certificates: tls.Certificates,
        switching: SwitchingFunction,
        logins: ClientLogins,
    ) -> None:
        self.live = live

        def settings() -> ClientConnection:  # read at each use: it changes live
            return live.client_connection

        self.webhooks = Webhooks(
            switching,
            logins,
            live.db,
            live.box,
            settings,
            functools.partial(json_session, switching, settings),
        )
        self.certificates = certificates
        self.switching = switching
        self.face = SipClientFace(
            switching,
            logins,
            DigestServer(
                config.realm,
                secrets.token_bytes(32),  # as for phones: replay state is per process
                algorithms=("MD5", "SHA-256"),
            ),
            request_timeout=lambda: live.client_connection.request_timeout,
        )
        self.sip = sip_service(
            config, "client", self.face.handle, self.face.connection_lost, self._idle_timeout
        )
        self.csta_face = CstaTcpFace(
            switching, logins, lambda: live.client_connection.max_queued_events
        )
        self.csta = sip_service(
            config,
            "client CSTA",
            _no_sip,
            self.csta_face.connection_lost,
            self._idle_timeout,
            framer=CstaStreamFramer,
            on_frame=self.csta_face.frame,
            ports=lambda iface: cast(ClientInterface, iface).csta_ports(),
        )
        app = create_app(switching, logins, settings, self.webhooks)
        self.api = HttpService("client", app, share_ports=config.share_ports)
        self.since: datetime | None = None

    @staticmethod
    def _idle_timeout(conn: SipConnection) -> float:
        # A client with a dialog keeps its connection as long as it likes
        # (events flow one way for hours); one without is a scanner.
        return 86400.0 if conn.tag else TIMEOUT

    @property
    def running(self) -> bool:
        return self.api.running or self.sip.running or self.csta.running

    @property
    def streams(self) -> tuple[SipService, SipService]:
        """The stream listeners: uaCSTA over SIP, CSTA over TCP."""
        return self.sip, self.csta

    def sweep(self, _now: float = 0.0) -> int:
        """Idle and slow connections of both stream listeners closed."""
        return sum(s.sweep() for s in self.streams if s.running)

    @property
    def listening(self) -> list[Listening]:
        return [*self.sip.listening, *self.csta.listening, *self.api.listening]

    async def start(self) -> None:
        if self.running:
            return
        conn = await self.live.restart_client_connection()
        context = self.certificates.context()
        try:
            await self.sip.start(conn, context)
            await self.csta.start(conn, context)
            for name, iface in (("lan", conn.lan), ("wan", conn.wan)):
                if not iface.enabled:
                    continue
                for kind, port in (("HTTP", iface.http_port), ("HTTPS", iface.https_port)):
                    if port is not None:
                        await self.api.listen(name, kind, iface.address, port, context)
        except BaseException:
            await self.api.stop()
            await self.csta.stop()
            await self.sip.stop()
            raise
        await self.webhooks.start()
        self.since = datetime.now().astimezone()

    async def stop(self) -> None:
        await self.webhooks.stop()
        for client in list(self.switching.clients.values()):
            self.switching.logout(client, "client service stopped")
        await self.face.close()
        await self.csta_face.close()
        await self.sip.stop()
        await self.csta.stop()
        await self.api.stop()
        self.since = None


class AdminWeb:
    """The admin web UI's listener (``admin_listen``, a bootstrap setting)."""

    def __init__(
        self,
        config: Config,
        certificates: tls.Certificates,
        auth: AdminAuth,
        app: object,
        notes: StartupNotes,
        metrics_app: object | None = None,
    ) -> None:
        self.config = config
        self.certificates = certificates
        self.auth = auth
        self.notes = notes
        self.http = HttpService("admin", app) if config.admin_address is not None else None
        self.metrics = (
            HttpService("metrics", metrics_app)
            if config.metrics_address is not None and metrics_app is not None
            else None
        )

    async def start(self) -> None:
        """The admin web UI on ``admin_listen`` (a bootstrap setting: it stays up
        while the SIP services are stopped and started from it).  With no admin
        account yet, one named ``admin`` is made and its password printed once.
        The metrics listener (``metrics_listen``) when one is set."""
        if self.metrics is not None and self.config.metrics_address is not None:
            host, port = self.config.metrics_address
            try:
                await self.metrics.listen("metrics", "HTTP", host, port, None)
            except ListenerError as exc:
                raise ListenerError(
                    f"{exc} (set another address with UACSTA_METRICS_LISTEN, or an empty one)"
                ) from None
        address = self.config.admin_address
        if address is None or self.http is None:
            return
        if await self.auth.has_no_admin():
            password = generate_password()
            await self.auth.set_password("admin", password)
            self.notes.add(
                f"Admin web UI account 'admin', password (shown once; change it with "
                f"'uacsta admin password admin'): {password}"
            )
            log.warning(
                "created the admin account 'admin'; its password is on the console and in %s",
                self.notes.path,
            )
        kind, context = "HTTP", None
        if self.config.admin_tls:
            kind, context = "HTTPS", self.certificates.context()
        try:
            await self.http.listen("web UI", kind, address[0], address[1], context)
            port = self.http.port("web UI", kind)
            self._write_control_file(kind.lower(), address[0], port)
        except ListenerError as exc:
            raise ListenerError(
                f"{exc} (set another address for the admin web UI with UACSTA_ADMIN_LISTEN, "
                "or an empty one to run without it)"
            ) from None

    @property
    def control_file(self) -> Path:
        return self.config.data_dir / CONTROL_FILE

    def _write_control_file(self, scheme: str, host: str, port: int) -> None:
        """Where and how the operator CLI on this host reaches the running
        server (`uacsta status`): readable by the server's user only."""
        host = {"0.0.0.0": "127.0.0.1", "::": "::1"}.get(host, host)
        shown = f"[{host}]" if ":" in host else host
        ca = self.certificates.paths.ca if self.certificates.paths else None
        document = {
            "url": f"{scheme}://{shown}:{port}",
            "token": self.auth.local_token,
            "pid": os.getpid(),
            "ca": str(ca) if ca and scheme == "https" else None,
        }
        fd = os.open(self.control_file, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            json.dump(document, f)

    async def stop(self) -> None:
        self.control_file.unlink(missing_ok=True)
        if self.http is not None:
            await self.http.stop()
        if self.metrics is not None:
            await self.metrics.stop()
