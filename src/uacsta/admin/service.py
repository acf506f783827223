"""What the administrator can do, once for the web UI and the REST API alike:
read and change settings (with the settings models' validation, and a check
that new ports are free), the telephone list, client logins, the phone
password, the certificate, the SIP services, and the log files."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import json
import logging
import re
import tomllib
from collections.abc import AsyncGenerator, AsyncIterator, Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol, cast

from pydantic import BaseModel, ValidationError

from ..csta.codec import CSTA_TYPE, DecodeError, decode
from ..csta.errors import CSTAErrorCode
from ..csta.jsonform import to_json
from ..logs import LogManager, check_writable
from ..net import tls
from ..net.sip_service import ListenerError, Listening, bind
from ..phones.changes import TelephoneListChanges
from ..phones.directory import PhoneDirectory
from ..provisioning.discovery import expand_targets
from ..provisioning.jobs import Job, Jobs
from ..provisioning.network import local_interfaces
from ..provisioning.provisioner import Provisioner, Target, is_secret, vendor_password_key
from ..secrets_box import SecretBox
from ..settings import (
    SECTIONS,
    ConnectionSettings,
    Diagnostics,
    ProvisioningOptions,
    TlsSettings,
    client_password_problem,
    phone_password_problem,
)
from ..store import repo
from ..store.db import Database
from ..store.models import Phone
from ..store.repo import SettingsError
from ..trace import MAX_MESSAGES as MAX_TRACE_MESSAGES
from ..trace import MAX_SECONDS as MAX_TRACE_SECONDS
from ..trace import TRACER
from ..vendors import DIALECTS, normalise_user, typed_user
from ..vendors.identity import HANDSET_RE

log = logging.getLogger("uacsta.admin")


class AdminError(Exception):
    """A change refused, with what an administrator needs to fix it."""

    def __init__(self, message: str, status: int = 422) -> None:
        super().__init__(message)
        self.status = status


OFF = "off"  # a setting that is off (no port), in formats without null


def _nulls_as(mark: str, value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _nulls_as(mark, v) for k, v in value.items()}
    return mark if value is None else value


def _off_as_null(value: Any) -> Any:
    if isinstance(value, dict):
        return {k: _off_as_null(v) for k, v in value.items()}
    return None if value == OFF else value


PAGE_SIZE = 100  # telephones per page of the list
# What each sortable column sorts by, as text (as the page shows it).
SORTABLE: dict[str, Callable[[Phone], str]] = {
    "vendor": lambda p: p.vendor or "",
    "model": lambda p: p.model or "",
    "firmware": lambda p: p.firmware or "",
    "mac": lambda p: p.mac,
    "number": lambda p: _number(p.last_identity),
    "last_ip": lambda p: p.last_ip or "",
    "last_identity": lambda p: p.last_identity or "",
    "last_login": lambda p: p.last_login.isoformat() if p.last_login else "",
    "status": lambda p: p.status or "",
    "enabled": lambda p: str(p.enabled),
}


def _row(phone: Phone) -> dict[str, Any]:
    """A telephone as the list, the API and the CLI show it."""
    return {
        "number": _number(phone.last_identity),
        "base": _gigaset_base(phone.mac),
        "mac": phone.mac,
        "vendor": phone.vendor,
        "model": phone.model,
        "firmware": phone.firmware,
        "last_ip": phone.last_ip,
        "last_identity": phone.last_identity,
        "last_login": phone.last_login.isoformat() if phone.last_login else None,
        "status": phone.status,
        "note": phone.note,
        "enabled": phone.enabled,
    }


def _haystack(phone: Phone) -> str:
    """What the filter looks in: every column's text, lower case."""
    return " ".join(str(v) for v in _row(phone).values()).lower()


def _decoded(entry: dict[str, Any]) -> dict[str, Any]:
    """A SIP entry with the CSTA XML in its body decoded beside it."""
    if entry["kind"] != "sip":
        return entry
    head, _, body = str(entry["text"]).partition("\r\n\r\n")
    if not body.strip() or CSTA_TYPE not in head.lower():
        return entry
    msg = decode(body)
    if isinstance(msg, DecodeError):
        entry["csta_error"] = str(msg)
        return entry
    name = "CSTAErrorCode" if isinstance(msg, CSTAErrorCode) else msg.root()
    entry["name"] = f"{entry['name']} ({name})"
    entry["csta"] = to_json(msg)
    return entry


def _number(identity: str) -> str:
    """The extension in an identity: 201 of sip:201@pbx.example."""
    return identity.split(":", 1)[-1].split("@", 1)[0] if identity else ""


def _gigaset_base(mac: str) -> str:
    """A Gigaset handset's base station, as its ID shows it (…XXXX), else ''."""
    return f"…{mac[6:10]}" if HANDSET_RE.match(mac) else ""


def _read_text(path: str) -> str:
    return Path(path).expanduser().read_text()


def _masked(key: str, value: str) -> str:
    return "(set)" if is_secret(key) and value else value


class ServiceControl(Protocol):
    """A service the administrator starts and stops (the phone service, the
    client service)."""

    @property
    def running(self) -> bool: ...

    @property
    def listening(self) -> list[Listening]: ...

    async def start(self) -> None: ...

    async def stop(self) -> None: ...


async def _nothing() -> None:
    return None


class Observe(Protocol):
    """The server's health as the admin layer sees it (runtime.metrics)."""

    def metrics(self) -> bytes: ...
    async def ready(self) -> dict[str, object]: ...
    def series(self, name: str) -> dict[str, object]: ...
    async def next_point(self) -> None: ...
    def resolve(self, target: str) -> str | None: ...


@dataclass
class AdminParts:
    """What the administrator's actions reach, and no more.  The running
    server fills in all of it; the CLI (no server running) the store, the
    telephone list and the certificates, with no services to control: the
    running server picks the stored changes up at its next housekeeping round."""

    db: Database
    box: SecretBox
    realm: str
    logs: LogManager
    certificates: tls.Certificates
    directory: PhoneDirectory
    provisioner: Provisioner | None = None
    jobs: Jobs = field(default_factory=Jobs)
    services: Mapping[str, ServiceControl] = field(default_factory=dict)
    changes: TelephoneListChanges = field(default_factory=TelephoneListChanges)
    # after a stored change: the live settings reloaded, the telephone list followed
    settings_changed: Callable[[], Awaitable[None]] = _nothing
    telephones_changed: Callable[[], Awaitable[None]] = _nothing
    status: Callable[[], dict[str, Any]] = dict
    # one phone in detail (lifecycle, registration, identities, monitors)
    phone: Callable[[str], dict[str, Any] | None] = lambda _mac: None
    started_at: datetime | None = None
    observe: Observe | None = None
    # in a cluster: the node a phone is on ('' when offline everywhere)
    node_of: Callable[[str], str] | None = None


class AdminService:
    def __init__(self, parts: AdminParts) -> None:
        self.parts = parts
        self.db = parts.db

    # -- settings --------------------------------------------------------------------

    async def settings(self, section: str) -> BaseModel:
        if section not in SECTIONS:
            raise AdminError(f"no settings section {section!r}", 404)
        return await repo.load_section(self.db, section)

    async def update(self, section: str, changes: dict[str, Any]) -> BaseModel:
        """Change some settings of a section; nothing changes when any is wrong."""
        return await self._store(section, await self._candidate(section, changes))

    async def _candidate(self, section: str, changes: dict[str, Any]) -> BaseModel:
        """The section as it would be after ``changes``, checked in full."""
        current = (await self.settings(section)).model_dump(mode="json")
        model, _ = SECTIONS[section]
        try:
            candidate = model.model_validate(repo.merge(current, changes))
        except ValidationError as exc:
            raise AdminError(repo.format_validation_error(exc)) from None
        if isinstance(candidate, ConnectionSettings):
            self._check_ports_free(section, candidate, current)
        if isinstance(candidate, Diagnostics):
            problem = check_writable(self.parts.logs.folder_for(candidate))
            if problem:
                raise AdminError(problem)
        if isinstance(candidate, TlsSettings) and candidate.cert_file:
            try:
                tls.check_pair(Path(candidate.cert_file), Path(candidate.key_file))
            except tls.CertificateError as exc:
                raise AdminError(str(exc)) from None
        return candidate

    async def _store(self, section: str, candidate: BaseModel) -> BaseModel:
        try:
            saved = await repo.save_section(self.db, section, candidate)
        except SettingsError as exc:
            raise AdminError(str(exc)) from None
        log.info("settings %s changed by the administrator", section)
        await self.parts.settings_changed()
        return saved

    async def set_paths(self, pairs: list[tuple[str, str]]) -> dict[str, BaseModel]:
        """Settings by name, ``advanced.sip_expiration`` = ``600`` (the CLI),
        checked as a change from the web UI or the API is: all of them first,
        so that nothing is stored when any is wrong."""
        changes: dict[str, dict[str, Any]] = {}
        for path, raw in pairs:
            section, _, rest = path.partition(".")
            if section not in SECTIONS:
                raise AdminError(f"unknown settings section {section!r}", 404)
            if not rest:
                raise AdminError("give a setting as SECTION.NAME, e.g. advanced.sip_expiration")
            current = (await self.settings(section)).model_dump(mode="json")
            try:
                change = repo.setting_change(current, rest, raw)
            except SettingsError:
                raise AdminError(f"unknown setting {path!r}") from None
            changes[section] = repo.merge(changes.get(section, {}), change)
        return await self._apply(
            changes, lambda section: ", ".join(p for p, _ in pairs if p.startswith(section + "."))
        )

    async def _apply(
        self, changes: dict[str, dict[str, Any]], named: Callable[[str], str]
    ) -> dict[str, BaseModel]:
        """Every section checked first, then all stored: nothing is stored when
        any is wrong; the error names what was wrong with ``named(section)``."""
        candidates = {}
        for section, change in changes.items():
            try:
                candidates[section] = await self._candidate(section, change)
            except AdminError as exc:
                raise AdminError(f"{named(section)}: {exc}", exc.status) from None
        return {s: await self._store(s, c) for s, c in candidates.items()}

    async def export_settings(self) -> dict[str, Any]:
        """Every settings section as plain values (no passwords: those are not
        settings), a setting that is off written ``"off"``: TOML has no null."""
        return {
            name: _nulls_as(OFF, (await self.settings(name)).model_dump(mode="json"))
            for name in SECTIONS
        }

    async def first_start_settings(self, path: str) -> None:
        """The bootstrap ``initial_settings`` file, into a database that holds
        no settings yet (its first start); later starts leave the stored ones."""
        if not path or await repo.revision(self.db) != 0:
            return
        try:
            document = tomllib.loads(await asyncio.to_thread(_read_text, path))
            await self.import_settings(document)
        except (OSError, tomllib.TOMLDecodeError, AdminError) as exc:
            raise SettingsError(f"initial settings {path}: {exc}") from None
        log.info("first start: settings taken from %s", path)

    async def import_settings(self, document: dict[str, Any]) -> dict[str, BaseModel]:
        """Sections as :meth:`export_settings` writes them, each complete or in
        part; checked all together, stored together or not at all."""
        unknown = sorted(set(document) - set(SECTIONS))
        if unknown:
            raise AdminError(
                f"unknown settings section {', '.join(map(repr, unknown))}; "
                f"known: {', '.join(SECTIONS)}"
            )
        changes = {}
        for name, values in document.items():
            if not isinstance(values, dict):
                raise AdminError(f"[{name}] must be a table of settings")
            changes[name] = _off_as_null(values)
        return await self._apply(changes, lambda section: f"[{section}]")

    def _check_ports_free(
        self, section: str, settings: ConnectionSettings, stored: dict[str, Any]
    ) -> None:
        """A new port must be free now, or the service would not start with it.
        Ports the server holds, and those stored already (a running server's,
        when the CLI asks), are not new."""
        held = {
            (item.host, item.port)
            for service in self.parts.services.values()
            for item in service.listening
        }
        for name in ("lan", "wan"):
            iface = stored.get(name) or {}
            for key, port in iface.items():
                if key.endswith("_port") and port:
                    held.add((str(iface.get("address")), int(port)))
        for name, iface in (("LAN", settings.lan), ("WAN", settings.wan)):
            if not iface.enabled:
                continue
            for kind, port in iface.ports():
                if not port or (iface.address, port) in held:
                    continue
                try:
                    bind(f"{section.replace('_', ' ')} {name} {kind}", iface.address, port).close()
                except ListenerError as exc:
                    raise AdminError(str(exc), 409) from None

    async def set_phone_password(self, password: str) -> None:
        problem = phone_password_problem(password)
        if problem:
            raise AdminError(problem)
        await repo.set_secret(self.db, self.parts.box, repo.PHONE_PASSWORD, password)
        await self.parts.settings_changed()

    # -- provisioning (Manage telephones) ------------------------------------------------

    async def set_web_password(self, password: str) -> None:
        """The phones' web interface password, kept encrypted: provisioning logs in with it."""
        if len(password) > 256:
            raise AdminError("the web password is too long")
        await repo.set_secret(self.db, self.parts.box, repo.PHONE_WEB_PASSWORD, password)

    async def set_vendor_login(self, vendor: str, user: str, password: str) -> None:
        """A vendor's own web login; an empty user removes it (the common one applies)."""
        if vendor not in DIALECTS:
            raise AdminError(f"no vendor {vendor!r}; known: {', '.join(sorted(DIALECTS))}", 404)
        if len(user) > 64 or len(password) > 256:
            raise AdminError("the web user or password is too long")
        current = await self.settings("provisioning")
        opts = cast(ProvisioningOptions, current)
        users: dict[str, str] = {str(k): v for k, v in opts.vendor_web_users.items()}
        if user:
            users[vendor] = user
            await repo.set_secret(self.db, self.parts.box, vendor_password_key(vendor), password)
        else:
            users.pop(vendor, None)
        # the whole map, not merged into the stored one: removing must remove
        changed = ProvisioningOptions.model_validate(
            {**opts.model_dump(), "vendor_web_users": users}
        )
        await self._store("provisioning", changed)

    def interfaces(self) -> list[dict[str, str]]:
        return [dataclasses.asdict(i) for i in local_interfaces()]

    def _provisioner(self) -> Provisioner:
        if self.parts.provisioner is None:
            raise AdminError("provisioning runs in the server only", 503)
        return self.parts.provisioner

    def find(self, interface: str, addresses: str, duration: float) -> Job:
        prov = self._provisioner()
        known = {i.ip for i in local_interfaces()}
        if interface and interface not in known:
            raise AdminError(f"{interface} is not an address of this host")
        if not interface and not addresses.strip():
            raise AdminError("choose an interface to search from, or give addresses")
        if not 0.5 <= duration <= 120:
            raise AdminError("search for 0.5 to 120 seconds")
        try:
            targets = expand_targets(addresses)
        except ValueError as exc:
            raise AdminError(str(exc)) from None
        log.info("telephone search from %s, %d addresses", interface or "-", len(targets))
        return self.parts.jobs.start(
            "find", 0, lambda report: prov.find(interface or None, targets, duration, report)
        )

    def provide(self, action: str, targets: list[Target]) -> Job:
        prov = self._provisioner()
        if not targets:
            raise AdminError("select at least one telephone")
        for t in targets:
            try:
                ipaddress.ip_address(t.ip)
            except ValueError:
                raise AdminError(f"{t.ip!r} is not an IP address") from None
        work = prov.push if action == "push" else prov.delete
        log.info("provisioning %s for %d telephones", action, len(targets))
        return self.parts.jobs.start(action, len(targets), lambda report: work(targets, report))

    def job(self, job_id: str) -> Job:
        job = self.parts.jobs.get(job_id)
        if job is None:
            raise AdminError(
                f"no provisioning run {job_id!r} (finished runs are kept a while)", 404
            )
        return job

    async def provisioned(self) -> list[dict[str, Any]]:
        """What provisioning wrote to each phone; passwords and keys shown as set, not shown."""
        out = []
        for row in await repo.list_provisioned(self.db):
            out.append(
                {
                    "mac": row.mac,
                    "vendor": row.vendor,
                    "ip": row.ip,
                    "slot": row.slot,
                    "at": row.at.isoformat(),
                    "written": {k: _masked(k, v) for k, v in row.written.items()},
                }
            )
        return out

    # -- telephones --------------------------------------------------------------------

    def phones(self) -> list[dict[str, Any]]:
        self.parts.directory.shown()
        return [_row(phone) for phone in self.parts.directory.all()]

    def phone(self, mac: str) -> dict[str, Any]:
        user = typed_user(mac)
        found = self.parts.phone(user) if user is not None else None
        if found is None:
            raise AdminError(f"no telephone {mac!r}", 404)
        return found

    def phone_page(
        self, q: str = "", sort: str = "mac", page: int = 1, size: int = PAGE_SIZE
    ) -> dict[str, Any]:
        """One page of the telephone list, filtered and sorted on the server
        (10,000 phones are never sent to a browser at once).  Gigaset handsets
        sort under their base: their IDs share its prefix."""
        self.parts.directory.shown()
        phones = self.parts.directory.unordered()  # sorted below, once
        if q:
            needle = q.lower()
            phones = [p for p in phones if needle in _haystack(p)]
        key = sort.lstrip("-")
        if key not in SORTABLE:
            key, sort = "mac", "mac"
        value = SORTABLE[key]
        # Only the page shown becomes rows: with 10,000 phones, sorting the
        # records is cheap, making 10,000 dicts for each refresh is not.
        phones.sort(key=lambda p: (value(p), p.mac), reverse=sort.startswith("-"))
        size = max(1, min(size, 1000))
        pages = max(1, -(-len(phones) // size))
        page = max(1, min(page, pages))
        first = (page - 1) * size
        rows = [_row(p) for p in phones[first : first + size]]
        node_of = self.parts.node_of
        if node_of is not None:
            for row in rows:
                row["node"] = node_of(row["mac"])
        return {
            "phones": rows,
            "clustered": node_of is not None,
            "total": len(phones),
            "first": first + 1 if phones else 0,
            "last": min(first + size, len(phones)),
            "page": page,
            "pages": pages,
            "sort": sort,
            "q": q,
        }

    async def bulk(self, action: str, macs: list[str]) -> str:
        """Enable, disable or remove several phones; what was done, in words."""
        if action not in ("enable", "disable", "remove"):
            raise AdminError(f"no such action for telephones: {action}", 404)
        users = await self._change_phones(action, macs)
        return f"{len(users)} telephone{'s' if len(users) != 1 else ''} {action}d"

    async def restart_phones(self, macs: list[str]) -> Job:
        """Restart the selected phones through their web interfaces, each at
        the address it last registered from (a Gigaset base once for all its
        handsets), on the web port it was provided on."""
        prov = self._provisioner()
        selected = self._selected(macs)
        provided = {r.ip: r for r in await repo.list_provisioned(self.db)}
        targets: dict[str, Target] = {}
        for user, phone in selected:
            if not phone.last_ip:
                raise AdminError(f"telephone {user} never registered: its address is not known")
            record = provided.get(phone.last_ip)
            if record is not None:
                target = Target(record.ip, record.vendor, record.mac, record.web_port)
            else:  # provided by hand: the vendor's pages on port 80
                target = Target(phone.last_ip, phone.vendor, "" if _gigaset_base(user) else user)
            targets.setdefault(target.ip, target)
        chosen = list(targets.values())
        log.info("restarting %d telephones for the administrator", len(chosen))
        return self.parts.jobs.start(
            "restart", len(chosen), lambda report: prov.restart(chosen, report)
        )

    async def set_enabled(self, mac: str, enabled: bool) -> None:
        await self._change_phones("enable" if enabled else "disable", [mac])

    async def remove_phone(self, mac: str) -> None:
        await self._change_phones("remove", [mac])

    def _selected(self, macs: list[str]) -> list[tuple[str, Phone]]:
        """The phones of a selection, each in the telephone list, or why not."""
        if not macs:
            raise AdminError("select at least one telephone")
        if len(macs) > 10_000:
            raise AdminError("at most 10,000 telephones at once")
        out = []
        for mac in macs:
            user = normalise_user(mac)
            phone = self.parts.directory.get(user) if user is not None else None
            if user is None or phone is None:
                raise AdminError(f"no telephone {mac!r}", 404)
            out.append((user, phone))
        return out

    async def _change_phones(self, action: str, macs: list[str]) -> list[str]:
        """One write and one follow-up for one phone or a whole selection;
        nothing changes when any is not in the telephone list."""
        users = [user for user, _phone in self._selected(macs)]
        await self.parts.directory.flush()
        if action == "remove":
            await repo.remove_phone(self.db, users)
        else:
            await repo.set_enabled(self.db, users, action == "enable")
        await self.parts.telephones_changed()
        if len(users) == 1:
            log.info(
                "telephone %s %sd by the administrator", users[0], action, extra={"tag": users[0]}
            )
        else:
            log.info("%d telephones %sd by the administrator", len(users), action)
        return users

    # -- client logins ------------------------------------------------------------------

    async def clients(self) -> list[dict[str, Any]]:
        return [
            {"name": c.name, "allowed_devices": list(c.allowed_devices)}
            for c in await repo.list_client_logins(self.db)
        ]

    async def set_client(self, name: str, password: str | None, allowed: list[str] | None) -> None:
        existing = await repo.get_client_login(self.db, name)
        if existing is None and not password:
            raise AdminError("a new client login needs a password")
        problem = client_password_problem(password) if password is not None else None
        if problem:
            raise AdminError(problem)
        try:
            if password:
                await repo.set_client_login(self.db, name, password, self.parts.realm, allowed)
            else:
                assert existing is not None
                await repo.set_client_allowed(self.db, name, allowed or [])
        except SettingsError as exc:
            raise AdminError(str(exc)) from None
        await self.parts.settings_changed()

    async def remove_client(self, name: str) -> None:
        if not await repo.remove_client_login(self.db, name):
            raise AdminError(f"no client login {name!r}", 404)
        await self.parts.settings_changed()

    # -- certificate -----------------------------------------------------------------------

    def certificate(self) -> dict[str, Any]:
        paths = self.parts.certificates.paths
        if paths is None:
            return {}
        out: dict[str, Any] = {"certificate": _info(paths.cert), "generated": paths.ca is not None}
        if paths.ca is not None:
            out["ca"] = _info(paths.ca)
        return out

    async def regenerate_certificate(self) -> tls.CertificatePaths:
        paths = self.parts.certificates.regenerate()
        await self.update("tls", {"cert_file": "", "key_file": ""})
        log.info("new local CA and certificate generated: %s", paths.cert)
        return paths

    async def upload_certificate(self, cert_pem: bytes, key_pem: bytes) -> None:
        folder = self.parts.certificates.folder / "uploaded"
        folder.mkdir(parents=True, exist_ok=True)
        cert, key = folder / "server.pem", folder / "server.key"
        trial_cert, trial_key = folder / "trial.pem", folder / "trial.key"
        trial_cert.write_bytes(cert_pem)
        trial_key.write_bytes(key_pem)
        trial_key.chmod(0o600)
        try:
            tls.check_pair(trial_cert, trial_key)
        except tls.CertificateError as exc:
            trial_cert.unlink()
            trial_key.unlink()
            raise AdminError(str(exc)) from None
        trial_cert.replace(cert)
        trial_key.replace(key)
        await self.update("tls", {"cert_file": str(cert), "key_file": str(key)})

    # -- services ---------------------------------------------------------------------------

    def status(self) -> dict[str, Any]:
        return self.parts.status()

    def telephones_version(self) -> int:
        return self.parts.changes.version

    async def telephones_after(self, seen: int) -> int:
        """Wait until the telephone list differs from version ``seen``."""
        return await self.parts.changes.after(seen)

    async def web_password_set(self) -> bool:
        return bool(await repo.get_secret(self.db, self.parts.box, repo.PHONE_WEB_PASSWORD))

    def ca_pem(self) -> str:
        return self.parts.certificates.ca_pem()

    async def service(self, which: str, action: str) -> None:
        control = self.parts.services.get(which)
        if control is None or action not in ("start", "stop", "restart"):
            raise AdminError(f"no such service action: {which} {action}", 404)
        if action in ("stop", "restart"):
            await control.stop()
        if action in ("start", "restart"):
            try:
                await control.start()
            except (ListenerError, tls.CertificateError, SettingsError) as exc:
                raise AdminError(str(exc), 409) from None
        log.info("%s service: %s by the administrator", which, action)

    # -- logs -------------------------------------------------------------------------------------

    def log_files(self) -> list[dict[str, Any]]:
        folder = self.parts.logs.folder
        files = sorted(
            folder.glob(self.parts.logs.name + "*"), key=lambda p: p.stat().st_mtime, reverse=True
        )
        return [{"name": p.name, "size": p.stat().st_size} for p in files]

    def log_path(self, name: str) -> Path:
        if "/" in name or not name.startswith(self.parts.logs.name):
            raise AdminError(f"no log file {name!r}", 404)
        path = self.parts.logs.folder / name
        if not path.is_file():
            raise AdminError(f"no log file {name!r}", 404)
        return path

    def log_since_start(self, limit: int = 500) -> list[dict[str, Any]]:
        """The current log's records since the server started (newest last)."""
        started = self.parts.started_at
        since = started.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S") if started else ""
        records = _read_records(self.parts.logs.path)
        return _collapsed([r for r in records if r.get("ts", "") >= since])[-limit:]

    # -- health, metrics, dashboard, trace ---------------------------------------------

    def _observe(self) -> Observe:
        if self.parts.observe is None:
            raise AdminError("metrics and traces come from the running server only", 503)
        return self.parts.observe

    def metrics(self) -> bytes:
        return self._observe().metrics()

    async def ready(self) -> dict[str, object]:
        return await self._observe().ready()

    def dashboard(self, name: str) -> dict[str, object]:
        if name not in ("hour", "day"):
            raise AdminError(f"no dashboard range {name!r} (hour or day)", 404)
        return self._observe().series(name)

    async def next_point(self) -> None:
        await self._observe().next_point()

    def trace(
        self, target: str, seconds: float, messages: int
    ) -> tuple[str, AsyncGenerator[dict[str, Any], None]]:
        """Start following one phone's messages: its MAC and the entries, each
        SIP message with the CSTA it carries decoded beside it.  The trace
        ends by itself after ``seconds`` or ``messages``."""
        observe = self._observe()
        if not target.strip() or len(target) > 256:
            raise AdminError("name a phone (MAC address) or a device to trace")
        mac = observe.resolve(target.strip())
        if mac is None:
            raise AdminError(f"no phone or device {target!r} known to the server", 404)
        if not 1 <= seconds <= MAX_TRACE_SECONDS:
            raise AdminError(f"trace for 1 to {MAX_TRACE_SECONDS:.0f} seconds")
        if not 1 <= messages <= MAX_TRACE_MESSAGES:
            raise AdminError(f"trace 1 to {MAX_TRACE_MESSAGES} messages")
        watch = TRACER.start(frozenset({mac}), seconds, messages)
        log.info("trace of %s started for %.0f s or %d messages", mac, seconds, messages)

        async def entries() -> AsyncGenerator[dict[str, Any], None]:
            try:
                async for entry in TRACER.entries(watch):
                    yield _decoded(entry.as_json())
                yield {"end": watch.ended, "dropped": watch.dropped}
            finally:
                TRACER.stop(watch)  # the watcher went away: nothing recorded for it

        return mac, entries()

    def tail(self, macs: frozenset[str]) -> AsyncIterator[dict[str, Any]]:
        """New log records as they are written from now on (the position is
        taken at the call, not at the first read), only those of these MACs
        (all when empty)."""
        path = self.parts.logs.path
        position = path.stat().st_size if path.exists() else 0
        return self._follow(position, macs)

    async def _follow(self, position: int, macs: frozenset[str]) -> AsyncIterator[dict[str, Any]]:
        path = self.parts.logs.path
        while True:
            await asyncio.sleep(0.3)
            if not path.exists():
                continue
            size = path.stat().st_size
            if size < position:  # rotated or emptied
                position = 0
            if size == position:
                continue
            with path.open("rb") as f:
                f.seek(position)
                chunk = f.read(size - position)
            complete = chunk.rfind(b"\n") + 1
            position += complete
            for line in chunk[:complete].splitlines():
                with contextlib.suppress(ValueError):
                    record = json.loads(line)
                    if not macs or record.get("tag") in macs:
                        yield cast(dict[str, Any], record)


def _collapsed(records: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The same message over and over (1,000 phones refused alike) once, with
    how often and when last: what differs is only numbers and addresses."""
    out: list[dict[str, Any]] = []
    seen: dict[tuple[str, str], dict[str, Any]] = {}
    for record in records:
        key = (
            str(record.get("level", "")),
            re.sub(r"[0-9A-Fa-f]*\d[0-9A-Fa-f.:]*", "#", str(record.get("msg", ""))),
        )
        kept = seen.get(key)
        if kept is None:
            kept = seen[key] = {**record, "count": 1}
            out.append(kept)
        else:
            kept["count"] += 1
            kept["last_ts"] = record.get("ts", "")
    return out


TAIL_BYTES = 4 << 20  # the end of the log the status page reads (never the whole file)


def _read_records(path: Path) -> list[dict[str, Any]]:
    if not path.exists():
        return []
    with path.open("rb") as f:
        size = f.seek(0, 2)
        f.seek(max(0, size - TAIL_BYTES))
        data = f.read()
    lines = data.splitlines()
    if size > TAIL_BYTES:
        lines = lines[1:]  # the first one is cut
    out = []
    for line in lines[-20000:]:
        with contextlib.suppress(ValueError):
            out.append(json.loads(line))
    return out


def _info(path: Path) -> dict[str, Any]:
    info = tls.info(path)
    return {
        "subject": info.subject,
        "issuer": info.issuer,
        "not_before": info.not_before.isoformat(),
        "not_after": info.not_after.isoformat(),
        "sha256": info.sha256,
        "names": info.names,
    }
