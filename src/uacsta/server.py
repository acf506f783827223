"""The uacsta server process: store, settings, logging, certificates, the phone
registrar and its listeners, and the periodic housekeeping."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import secrets
import string
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import cast

from . import __version__
from .admin.app import create_admin_app
from .admin.auth import AdminAuth
from .clients.api import create_app
from .clients.logins import ClientLogins
from .clients.sip import SipClientFace
from .config import Config
from .core.switching import SwitchingFunction
from .csta.types import SystemStatus
from .logs import LogManager, check_writable
from .net import tls
from .net.connection import SipConnection
from .net.http import HttpService
from .net.service import ListenerError, SipService
from .phones.directory import PhoneDirectory
from .phones.endpoint import PhoneEndpoint
from .phones.lifecycle import Phase
from .phones.registrar import Registrar, RegistrarPolicy
from .phones.session import SessionSettings
from .phones.sessions import SessionManager
from .provisioning.config_server import create_config_app
from .provisioning.jobs import Jobs
from .provisioning.service import CONFIG_SERVER, Provisioner, config_token
from .secrets_box import SecretBox
from .settings import (
    Advanced,
    ClientConnection,
    Diagnostics,
    PhoneConnection,
    ProvisioningOptions,
    TlsSettings,
    default_client_connection,
)
from .sip.digest import DigestServer
from .sip.message import Request, Response
from .sip.transaction import TIMEOUT
from .store import repo
from .store.db import Database, StoreError

log = logging.getLogger("uacsta.server")
SWEEP_INTERVAL = 1.0


def generate_password(length: int = 16) -> str:
    alphabet = string.ascii_letters + string.digits
    return "".join(secrets.choice(alphabet) for _ in range(length))


@dataclass
class StartupNotes:
    """What the server says once at start (and the CLI prints)."""

    lines: list[str] = field(default_factory=list)


def prepare_data_folder(folder: Path) -> None:
    """The data folder, made if need be, readable by the server's user only
    (0700): it holds the database, the key file and the TLS keys."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise StoreError(f"cannot use the data folder {folder}: {exc}") from None


class UacstaServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        self.data_dir = config.data_dir
        # The database is opened here, so its folder must exist first (a fresh
        # machine's first start: ~/.local/share/uacsta is not there yet).
        prepare_data_folder(self.data_dir)
        self.db = Database(config.db_url)
        self.notes = StartupNotes()
        self.logs = LogManager(self.data_dir / "logs", config.console_log_level)
        self.box: SecretBox | None = None
        self.directory = PhoneDirectory(self.db)
        self.registrar: Registrar | None = None
        self.sessions: SessionManager | None = None
        self.phones: SipService | None = None
        self.switching: SwitchingFunction | None = None
        self.logins = ClientLogins(self.db)
        self.client_api: HttpService | None = None
        self.client_sip: SipService | None = None
        self.client_face: SipClientFace | None = None
        self.client_service_since: datetime | None = None
        self.admin_auth = AdminAuth(self.db)
        self.admin_ui: HttpService | None = None
        self.config_server: HttpService | None = None  # startup.cfg for Mitel phones
        self.provisioner: Provisioner | None = None
        self.provisioning_jobs = Jobs()
        self._client_conn: ClientConnection = default_client_connection()
        self.cert_paths: tls.CertificatePaths | None = None
        self.started_at: datetime | None = None
        self.phone_service_since: datetime | None = None
        self._phone_password = ""
        self._tasks: list[asyncio.Task[None]] = []
        self._advanced = Advanced()
        self._generated_password = False
        self.loop_lag = 0.0
        self.telephones_version = 0
        self._telephones_event = asyncio.Event()
        self._gc_phones = 0
        self._gc_at = time.monotonic()

    # -- start and stop ------------------------------------------------------------

    async def start(self) -> None:
        prepare_data_folder(self.data_dir)
        await self.db.migrate()
        self.box = SecretBox(self.data_dir / "secret.key")
        diag = cast(Diagnostics, await repo.load_section(self.db, "diagnostics"))
        problem = check_writable(self.logs.folder_for(diag))
        if problem:
            raise RuntimeError(problem)
        self.logs.apply(diag)
        self._advanced = cast(Advanced, await repo.load_section(self.db, "advanced"))
        password = await repo.get_secret(self.db, self.box, repo.PHONE_PASSWORD)
        if password is None:
            password = generate_password()
            self._generated_password = True
            await repo.set_secret(self.db, self.box, repo.PHONE_PASSWORD, password)
            self.notes.lines.append(
                f"Phone password (set on the phones' uaCSTA identity; change it with "
                f"'uacsta password phone'): {password}"
            )
        self._phone_password = password
        await self.directory.load()
        phone_conn = cast(PhoneConnection, await repo.load_section(self.db, "phone_connection"))
        self.registrar = Registrar(
            realm=self.config.realm,
            digest=DigestServer(
                self.config.realm,
                # A new nonce key at every start: nonce counts live in memory,
                # so a nonce from before a restart must not verify after it
                # (a captured REGISTER cannot be replayed; docs/security.md).
                secrets.token_bytes(32),
                algorithms=tuple(phone_conn.digest_algorithms),
                nonce_lifetime=max(300.0, float(self._advanced.sip_expiration)),
            ),
            directory=self.directory,
            phone_password=lambda: self._phone_password,
            policy=self._policy(),
        )
        self._client_conn = cast(
            ClientConnection, await repo.load_section(self.db, "client_connection")
        )
        self.sessions = SessionManager(
            self.directory,
            lambda: self._phone_password,
            lambda: SessionSettings(
                keepalive=float(self._advanced.keepalive),
                request_timeout=self._client_conn.request_timeout,
            ),
            system_status=self._status_for_phones,
        )
        self.registrar.listeners.append(self.sessions.binding_changed)
        self.registrar.listeners.append(lambda _change, _binding: self.phones_changed())
        self.sessions.listeners.append(lambda _line: self.phones_changed())
        self.switching = SwitchingFunction(
            self.sessions,
            resume_window=lambda: float(self._client_conn.resume_window),
            system_status=self._status_for_clients,
            # a phone away for longer than its registration loses its identities
            takeover_after=lambda: float(self._advanced.sip_expiration),
            request_timeout=lambda: self._client_conn.request_timeout,
        )
        self.sessions.observers.append(self.switching)
        await self.logins.load()
        self.provisioner = Provisioner(
            self.db,
            self.box,
            self._ca_pem,
            on_phones_provided=self.apply_telephone_list,
            bound_port=self._bound_port,
        )
        self.started_at = datetime.now().astimezone()
        await self.start_phone_service()
        await self.start_client_service()
        await self.start_admin_ui()
        self._tasks.append(asyncio.create_task(self._housekeeping(), name="housekeeping"))
        self._tasks.append(asyncio.create_task(self._daily_log_deletion(), name="log-deletion"))
        self._tasks.append(asyncio.create_task(self._watch_loop(), name="loop-watch"))
        log.info(
            "uacsta %s started; data folder %s; database %s",
            __version__,
            self.data_dir,
            self.db.url,
        )
        if self._generated_password:
            # The password itself goes to the console only (StartupNotes), never
            # into a log file that may be sent with a support case.
            log.warning("generated a phone password; set it with 'uacsta password phone'")

    def _status_for_clients(self) -> SystemStatus:
        """RequestSystemStatus from a client: disabled while the phone service
        is stopped, partiallyDisabled while a registered phone's dialog is
        being recovered, else normal."""
        if self.phones is None or not self.phones.running or self.sessions is None:
            return SystemStatus.DISABLED
        if self.sessions.phases()[Phase.RECOVERING.value]:
            return SystemStatus.PARTIALLY_DISABLED
        return SystemStatus.NORMAL

    def _status_for_phones(self) -> SystemStatus:
        """RequestSystemStatus from a phone: whether clients can reach it."""
        running = self.client_api is not None and self.client_api.running
        return SystemStatus.NORMAL if running else SystemStatus.DISABLED

    def _policy(self) -> RegistrarPolicy:
        adv = self._advanced
        return RegistrarPolicy(adv.sip_expiration, adv.min_expiration, adv.auto_enable)

    def _idle_timeout(self, conn: SipConnection) -> float:
        if conn.macs:
            return self.config.idle_timeout or float(self._advanced.sip_expiration + 60)
        # Nobody registered on it yet: a scanner or a half-open connection.
        return TIMEOUT

    def _sip_service(
        self,
        side: str,
        on_message: Callable[[SipConnection, Request | Response], None],
        on_closed: Callable[[SipConnection], None],
        idle_timeout: Callable[[SipConnection], float],
    ) -> SipService:
        return SipService(
            side,
            on_message,
            on_closed,
            max_per_source=self.config.max_connections_per_source,
            tls_handshake_timeout=self.config.tls_handshake_timeout,
            idle_timeout=idle_timeout,
            max_connections=self.config.max_connections,
            max_buffered=self.config.max_buffered_bytes,
            message_deadline=self.config.message_deadline,
        )

    def _client_idle_timeout(self, conn: SipConnection) -> float:
        # A client with a dialog keeps its connection as long as it likes
        # (events flow one way for hours); one without is a scanner.
        return 86400.0 if conn.tag else TIMEOUT

    async def start_phone_service(self) -> None:
        """Open the phone listeners with the settings as stored now (changed
        connection settings take effect here, as the manual says)."""
        if self.phones is not None and self.phones.running:
            return
        assert self.registrar is not None
        phone_conn = cast(PhoneConnection, await repo.load_section(self.db, "phone_connection"))
        # Connection settings take effect here: the digest algorithms too.
        self.registrar.digest.algorithms = tuple(phone_conn.digest_algorithms)
        tls_settings = cast(TlsSettings, await repo.load_section(self.db, "tls"))
        extra = [i.public_address for i in (phone_conn.lan, phone_conn.wan) if i.public_address]
        paths, generated = tls.ensure(
            self.data_dir / "certs",
            self.config.host_name,
            tls_settings.cert_file,
            tls_settings.key_file,
            extra,
        )
        self.cert_paths = paths
        if generated:
            ca_info = tls.info(paths.ca) if paths.ca else None
            log.warning("generated a local CA and TLS certificate: %s", paths.cert)
            self.notes.lines.append(
                f"Generated a local CA and a TLS certificate for {self.config.host_name}: "
                f"{paths.cert} (CA {paths.ca}, SHA-256 fingerprint "
                f"{ca_info.sha256 if ca_info else '?'})"
            )
        context = tls.server_context(paths)
        tls.tune_asyncio_tls_buffers()
        assert self.sessions is not None
        endpoint = PhoneEndpoint(
            self.registrar, self.sessions, lambda: asyncio.get_running_loop().time()
        )
        self.phones = self._sip_service(
            "phone", endpoint.handle, self.registrar.connection_lost, self._idle_timeout
        )
        await self.phones.start(phone_conn, context)
        self.phone_service_since = datetime.now().astimezone()
        await self._start_config_server(phone_conn)

    def _bound_port(self, interface: str, kind: str) -> int | None:
        service = self.config_server if kind == CONFIG_SERVER else self.phones
        with contextlib.suppress(KeyError):
            return service.port(interface, kind) if service is not None else None
        return None

    def _ca_pem(self) -> str:
        ca = self.cert_paths.ca if self.cert_paths is not None else None
        return Path(ca).read_text() if ca else ""

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
            port = self._bound_port(now.interface, "TCP") or face.tcp_port or 0
            return server, port, self._phone_password

        assert self.box is not None
        self.config_server = HttpService(
            "phone", create_config_app(source, config_token(self.box), self._ca_pem)
        )
        try:
            await self.config_server.listen(
                opts.interface, CONFIG_SERVER, iface.address, opts.http_port, None
            )
        except ListenerError as exc:
            log.error("%s; Mitel phones cannot load startup.cfg", exc)
            await self.config_server.stop()
            self.config_server = None

    async def start_client_service(self) -> None:
        """Open the client listeners (uaCSTA over SIP on TCP and TLS, the JSON
        API over HTTP and HTTPS) with the client connection settings as stored
        now."""
        if self.client_api is not None and self.client_api.running:
            return
        assert self.switching is not None and self.cert_paths is not None
        assert self.box is not None
        self._client_conn = cast(
            ClientConnection, await repo.load_section(self.db, "client_connection")
        )
        context = tls.server_context(self.cert_paths)
        self.client_face = SipClientFace(
            self.switching,
            self.logins,
            DigestServer(
                self.config.realm,
                secrets.token_bytes(32),  # as for phones: replay state is per process
                algorithms=("MD5", "SHA-256"),
            ),
            request_timeout=lambda: self._client_conn.request_timeout,
        )
        face = self.client_face
        self.client_sip = self._sip_service(
            "client", face.handle, face.connection_lost, self._client_idle_timeout
        )
        app = create_app(self.switching, self.logins, lambda: self._client_conn)
        self.client_api = HttpService("client", app)
        try:
            await self.client_sip.start(self._client_conn, context)
            for name, iface in (("lan", self._client_conn.lan), ("wan", self._client_conn.wan)):
                if not iface.enabled:
                    continue
                for kind, port in (("HTTP", iface.http_port), ("HTTPS", iface.https_port)):
                    if port is not None:
                        await self.client_api.listen(name, kind, iface.address, port, context)
        except BaseException:
            await self.client_api.stop()
            await self.client_sip.stop()
            raise
        self.client_service_since = datetime.now().astimezone()

    async def start_admin_ui(self) -> None:
        """The admin web UI on ``admin_listen`` (a bootstrap setting: it stays up
        while the SIP services are stopped and started from it).  With no admin
        account yet, one named ``admin`` is made and its password printed once."""
        address = self.config.admin_address
        if address is None:
            return
        if await repo.count_admins(self.db) == 0:
            password = generate_password()
            await self.admin_auth.set_password("admin", password)
            self.notes.lines.append(
                f"Admin web UI account 'admin', password (shown once; change it with "
                f"'uacsta admin password admin'): {password}"
            )
            log.warning("created the admin account 'admin'; its password was shown on the console")
        self.admin_ui = HttpService("admin", create_admin_app(self, self.admin_auth))
        kind, context = "HTTP", None
        if self.config.admin_tls:
            assert self.cert_paths is not None
            kind, context = "HTTPS", tls.server_context(self.cert_paths)
        try:
            await self.admin_ui.listen("web UI", kind, address[0], address[1], context)
        except ListenerError as exc:
            raise ListenerError(
                f"{exc} (set another address for the admin web UI with UACSTA_ADMIN_LISTEN, "
                "or an empty one to run without it)"
            ) from None

    async def stop_client_service(self) -> None:
        if self.switching is not None:
            for client in list(self.switching.clients.values()):
                self.switching.logout(client, "client service stopped")
        if self.client_face is not None:
            await self.client_face.close()
        if self.client_sip is not None:
            await self.client_sip.stop()
        if self.client_api is not None:
            await self.client_api.stop()
            self.client_service_since = None

    async def stop_phone_service(self) -> None:
        if self.switching is not None:
            self.switching.abort_registrations("phone service stopped")
        if self.sessions is not None:
            await self.sessions.close()
        if self.config_server is not None:
            await self.config_server.stop()
            self.config_server = None
        if self.phones is not None:
            await self.phones.stop()
            self.phone_service_since = None
        with contextlib.suppress(Exception):
            await self.directory.flush()

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()
        if self.admin_ui is not None:
            await self.admin_ui.stop()
        await self.provisioning_jobs.close()
        await self.stop_client_service()
        if self.switching is not None:
            await self.switching.close()
        await self.stop_phone_service()
        log.info("uacsta stopped")
        self.logs.stop()
        await self.db.close()

    # -- housekeeping ----------------------------------------------------------------

    async def _housekeeping(self) -> None:
        """Every second: expire registrations, close idle connections, write the
        telephone list behind, and pick up changes other processes stored."""
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                if self.registrar is not None:
                    self.registrar.expire(loop.time())
                if self.sessions is not None:
                    self.sessions.expire(loop.time())
                if self.switching is not None:
                    self.switching.expire(time.monotonic())
                self.logins.lockout.expire(time.monotonic())
                if self.phones is not None:
                    self.phones.sweep()
                if self.client_sip is not None and self.client_sip.running:
                    self.client_sip.sweep()
                self._tune_gc(time.monotonic())
                await self.directory.flush()
                if await self.directory.sync_from_store():
                    self.phones_changed()
                    await self.reload_settings()
                    if self.sessions is not None:
                        self.sessions.enabled_changed()
            except Exception:
                log.exception("housekeeping failed; trying again")

    def _tune_gc(self, now: float) -> None:
        """Keep full garbage collections short.  Sessions, connections and the
        telephone list are long-lived and grow with the phones; a full
        collection that scans them all pauses every phone and client for
        100 ms and more at 1,000 phones.  So after the number of phones has
        changed markedly (or hourly, to collect cycles among frozen objects)
        the server collects once and freezes what survived: later full
        collections scan only what is new."""
        phones = len(self.registrar.bindings) if self.registrar else 0
        changed = abs(phones - self._gc_phones) > max(50, self._gc_phones // 10)
        if not changed and now - self._gc_at < 3600:
            return
        began = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._gc_phones, self._gc_at = phones, now
        log.info(
            "garbage collected and %d objects frozen in %.0f ms (%d phones)",
            gc.get_freeze_count(),
            (time.perf_counter() - began) * 1000,
            phones,
        )

    async def _watch_loop(self) -> None:
        """How late the event loop runs what is due: every phone and client
        waits that long.  The worst of the last minute is in the status."""
        period = 0.05
        worst: list[float] = []
        while True:
            began = time.perf_counter()
            await asyncio.sleep(period)
            lag = time.perf_counter() - began - period
            worst.append(lag)
            if len(worst) > 60 / period:
                del worst[0]
            self.loop_lag = max(worst)
            if lag > 0.1:
                log.warning("the event loop was %.0f ms late", lag * 1000)

    async def apply_telephone_list(self) -> None:
        """The telephone list changed in the store: follow it now."""
        await self.directory.sync_from_store()
        if self.sessions is not None:
            self.sessions.enabled_changed()
        self.phones_changed()

    def phones_changed(self) -> None:
        """Wake whoever shows the telephone list live (the admin UI)."""
        self.telephones_version += 1
        event, self._telephones_event = self._telephones_event, asyncio.Event()
        event.set()

    async def telephones_changed(self, seen: int) -> int:
        """Wait until the telephone list differs from version ``seen``."""
        while self.telephones_version == seen:
            await self._telephones_event.wait()
        return self.telephones_version

    def services(self) -> list[SipService | HttpService]:
        return [s for s in (self.phones, self.client_sip, self.client_api) if s is not None]

    async def reload_settings(self) -> None:
        """Take what is stored now: at each housekeeping round when the store
        changed, and at once after the admin UI stored something."""
        assert self.box is not None and self.registrar is not None
        self._advanced = cast(Advanced, await repo.load_section(self.db, "advanced"))
        self.registrar.policy = self._policy()
        await self.logins.load()
        # Ports and addresses take effect when the client service restarts;
        # windows, bounds and timeouts at once.
        stored = cast(ClientConnection, await repo.load_section(self.db, "client_connection"))
        self._client_conn = self._client_conn.model_copy(
            update={
                "resume_window": stored.resume_window,
                "max_queued_events": stored.max_queued_events,
                "request_timeout": stored.request_timeout,
            }
        )
        password = await repo.get_secret(self.db, self.box, repo.PHONE_PASSWORD)
        if password and password != self._phone_password:
            self._phone_password = password
            log.info("phone password changed")
        diag = cast(Diagnostics, await repo.load_section(self.db, "diagnostics"))
        if check_writable(self.logs.folder_for(diag)) is None:
            self.logs.apply(diag)

    async def _daily_log_deletion(self) -> None:
        while True:
            now = time.time()
            tomorrow = (now // 86400 + 1) * 86400
            await asyncio.sleep(tomorrow - now + 1)
            diag = cast(Diagnostics, await repo.load_section(self.db, "diagnostics"))
            if diag.delete_daily:
                count = self.logs.delete_files()
                log.info("daily deletion of log files: %d removed", count)

    # -- status ------------------------------------------------------------------------

    def status(self) -> dict[str, object]:
        phones = self.phones
        return {
            "version": __version__,
            "started_at": self.started_at.isoformat() if self.started_at else None,
            "phone_service": {
                "running": bool(phones and phones.running),
                "since": self.phone_service_since.isoformat() if self.phone_service_since else None,
                "listening": [vars(item) for item in (phones.listening if phones else [])],
                "connections": len(phones.connections) if phones else 0,
            },
            "phones_known": len(self.directory),
            "phones_registered": len(self.registrar.bindings) if self.registrar else 0,
            "dialogs_up": self.sessions.dialogs_up if self.sessions else 0,
            "loop_lag_ms": round(self.loop_lag * 1000, 1),
            "client_service": {
                "running": bool(self.client_api and self.client_api.running),
                "since": self.client_service_since.isoformat()
                if self.client_service_since
                else None,
                "listening": [
                    vars(i)
                    for service in (self.client_sip, self.client_api)
                    if service is not None
                    for i in service.listening
                ],
                **(self.switching.status() if self.switching else {}),
            },
        }

    @property
    def log_file(self) -> Path:
        return self.logs.folder / "uacsta.log"
