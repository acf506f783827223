"""The composition root: builds the server's parts and wires them, nothing
more.  What each part does is in its own module: the store, the runtime,
the phones, the switching function (``core``), the faces, the cluster,
provisioning and the admin UI."""

from __future__ import annotations

import logging
import secrets
import time
from datetime import datetime
from pathlib import Path

from . import __version__
from .admin.app import create_admin_app, create_metrics_app
from .admin.auth import AdminAuth
from .admin.service import AdminParts, AdminService
from .cluster.node import cluster_node
from .config import Config
from .core.switching import SwitchingFunction
from .faces.logins import ClientLogins
from .logs import LogManager
from .net import tls
from .phones.changes import TelephoneListChanges
from .phones.directory import PhoneDirectory
from .phones.registrar import Registrar
from .phones.session_manager import SessionManager
from .provisioning.jobs import Jobs
from .provisioning.provisioner import Provisioner
from .runtime.housekeeping import GcTuner, Housekeeping, LoopWatch, delete_logs_if_asked
from .runtime.live import LiveSettings
from .runtime.metrics import Observability
from .runtime.services import AdminWeb, ClientService, PhoneParts, PhoneService, StartupNotes
from .runtime.status import StatusReport
from .secrets_box import SecretBox
from .sip.digest import DigestServer
from .store.db import Database, prepare_data_folder

log = logging.getLogger("uacsta.server")


class UacstaServer:
    def __init__(self, config: Config) -> None:
        self.config = config
        # The database and the key file live in the data folder, so it must
        # exist first (a fresh machine's first start).
        prepare_data_folder(config.data_dir)
        clock = time.monotonic  # the one clock of the domain's sweeps and deadlines
        self.notes = StartupNotes(config.data_dir)
        self.db = db = Database(config.db_url)
        self.box = box = SecretBox(config.data_dir / "secret.key")
        logs = config.data_dir / "logs"
        self.logs = LogManager(logs, config.console_log_level, config.log_file_name)
        self.live = live = LiveSettings(db, box, self.logs)
        self.certificates = tls.Certificates(config.data_dir / "certs", config.host_name)
        self.directory = PhoneDirectory(db)
        self.logins = ClientLogins(db)
        self.admin_auth = AdminAuth(db)
        self.changes = TelephoneListChanges()
        self.watch = LoopWatch()
        self.registrar = Registrar(
            realm=config.realm,
            # A new nonce key at every start: nonce counts live in memory, so a
            # nonce from before a restart must not verify (docs/security.md).
            digest=DigestServer(config.realm, secrets.token_bytes(32)),
            directory=self.directory,
            phone_password=lambda: live.phone_password,
            policy=live.policy(),
        )
        self.sessions = SessionManager(
            self.directory,
            lambda: live.phone_password,
            live.session_settings,
            system_status=lambda: self.status_report.for_phones(),
            clock=clock,
        )
        # In a cluster the node stands between the switching function and the phones.
        self.cluster = cluster_node(config, self.sessions, clock)
        self.switching = SwitchingFunction(
            self.cluster or self.sessions,
            resume_window=lambda: float(live.client_connection.resume_window),
            system_status=lambda: self.status_report.for_clients(),
            # a phone away for longer than its registration loses its identities
            takeover_after=lambda: float(live.advanced.sip_expiration),
            request_timeout=lambda: live.client_connection.request_timeout,
            clock=clock,
        )
        # The phones' changes flow to the switching function and the telephone list.
        self.registrar.listeners.append(self.sessions.binding_changed)
        self.registrar.listeners.append(lambda _change, _binding: self.changes.changed())
        self.sessions.listeners.append(lambda _line: self.changes.changed())
        self.sessions.observers.append(self.switching)
        if self.cluster is not None:
            self.cluster.attach(self.switching)
        live.listeners.append(self._follow_settings)
        parts = PhoneParts(self.registrar, self.sessions, self.switching, self.directory)
        self.phone_service = PhoneService(
            config, db, box, live, self.certificates, parts, clock, self.notes
        )
        self.client_service = ClientService(
            config, live, self.certificates, self.switching, self.logins
        )
        self.phones = self.phone_service.sip
        self.client_sip = self.client_service.sip
        self.client_api = self.client_service.api
        self.provisioner = Provisioner(
            db,
            box,
            self.certificates.ca_pem,
            on_phones_provided=self.apply_telephone_list,
            bound_port=self.phone_service.bound_port,
        )
        self.provisioning_jobs = Jobs()
        self.started_at = datetime.now().astimezone()
        self.status_report = StatusReport(
            self.started_at,
            self.phone_service,
            self.client_service,
            self.directory,
            self.registrar,
            self.sessions,
            self.switching,
            self.watch,
            cluster=self.cluster,
        )
        self.observe = Observability(self.status_report, self.logins, self.logs, db)
        self.admin = AdminService(
            AdminParts(
                db,
                box,
                config.realm,
                self.logs,
                self.certificates,
                self.directory,
                self.provisioner,
                self.provisioning_jobs,
                {"phone": self.phone_service, "client": self.client_service},
                self.changes,
                settings_changed=live.reload,
                telephones_changed=self.apply_telephone_list,
                status=self.status_report.report,
                phone=lambda mac: self.status_report.phone(mac, clock()),
                started_at=self.started_at,
                observe=self.observe,
                node_of=self.cluster.node_of if self.cluster is not None else None,
            )
        )
        self.admin_web = AdminWeb(
            config,
            self.certificates,
            self.admin_auth,
            create_admin_app(self.admin, self.admin_auth),
            self.notes,
            metrics_app=create_metrics_app(self.admin),
        )
        self.admin_ui = self.admin_web.http
        self.housekeeping = Housekeeping(
            sweeps=[
                self.registrar.expire,
                self.sessions.expire,
                self.switching.expire,
                self.logins.lockout.expire,
                lambda _now: self.phones.running and self.phones.sweep(),
                self.client_service.sweep,
                GcTuner(lambda: len(self.registrar.bindings), clock()),
                self.status_report.sample,
                self.observe.sample,
            ],
            rounds=[self._flush, self._pick_up_stored_changes],
            daily=[lambda: delete_logs_if_asked(db, self.logs)],
            watch=self.watch,
        )

    async def start(self) -> None:
        prepare_data_folder(self.config.data_dir)
        await self.db.migrate()
        await self.admin.first_start_settings(self.config.initial_settings)
        generated = await self.live.load()
        if generated:
            self.notes.add(
                f"Phone password (set on the phones' uaCSTA identity; change it with "
                f"'uacsta password phone'): {generated}"
            )
        await self._follow_settings()
        await self.directory.load()
        if self.cluster is not None:
            await self.cluster.start()
        await self.phone_service.start()
        await self.client_service.start()
        await self.admin_web.start()
        self.housekeeping.start()
        log.info(
            "uacsta %s started; data folder %s; database %s",
            __version__,
            self.config.data_dir,
            self.db.url,
        )
        if generated:
            # The password itself goes to the console only (StartupNotes), never
            # into a log file that may be sent with a support case.
            log.warning("generated a phone password; set it with 'uacsta password phone'")

    async def _follow_settings(self) -> None:
        self.registrar.policy = self.live.policy()
        self.registrar.digest.nonce_lifetime = max(300.0, float(self.live.advanced.sip_expiration))
        await self.logins.load()

    async def stop(self) -> None:
        await self.housekeeping.stop()
        await self.admin_web.stop()
        await self.provisioning_jobs.close()
        await self.client_service.stop()
        await self.switching.close()
        await self.phone_service.stop()
        if self.cluster is not None:
            await self.cluster.stop()
        log.info("uacsta stopped")
        self.logs.stop()
        await self.db.close()

    # What the administrator and other processes changed in the store.

    async def _flush(self) -> None:
        await self.directory.flush()

    async def _pick_up_stored_changes(self) -> None:
        if await self.directory.sync_from_store():
            self.changes.changed()
            await self.live.reload()
            self.sessions.enabled_changed()

    async def apply_telephone_list(self) -> None:
        """The telephone list changed in the store: follow it now."""
        await self.directory.sync_from_store()
        self.sessions.enabled_changed()
        self.changes.changed()

    # Shorthands for the CLI and the tests.
    async def start_phone_service(self) -> None:
        await self.phone_service.start()

    async def stop_phone_service(self) -> None:
        await self.phone_service.stop()

    def status(self) -> dict[str, object]:
        return self.status_report.report()

    @property
    def log_file(self) -> Path:
        return self.logs.path
