"""Provisioning as the administrator runs it (manual 3.5.1): find telephones,
provide the selected ones with the uaCSTA account, delete provisioning.

The asyncio shell around the sans-IO parts: UDP sockets for the OPTIONS probe
and the plug-and-play listener, httpx for the phones' web interfaces, the
store for what was written.  Every phone is worked on in its own task and
ends with its own :class:`Outcome`: one phone failing never stops the others.
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import ipaddress
import logging
import ssl
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar, cast

import httpx

from .. import vendors
from ..logs import log_tag
from ..secrets_box import SecretBox
from ..settings import PhoneConnection, ProvisioningOptions, host_port
from ..sip.datagram import SIP_MCAST, SIP_PORT
from ..store import repo
from ..store.db import Database
from ..vendors import DIALECTS
from ..vendors.accounts import Account, ProvisioningError, undo
from ..vendors.web import Dialect, Identity, LoginRefused, WebError
from .config_server import CA_PATH, config_folder
from .discovery import Sighting, options_request, read_datagram
from .network import (
    Datagrams,
    local_interfaces,
    pnp_socket,
    probe_socket,
    route_to,
    sip_probe,
)

log = logging.getLogger("uacsta.provisioning")
WEB_TIMEOUT = 5.0
SEALED = "sealed:"
T = TypeVar("T", str, str | None)


def vendor_password_key(vendor: str) -> str:
    return f"{repo.PHONE_WEB_PASSWORD}:{vendor}"


@dataclass(frozen=True, slots=True)
class WebLogins:
    """The phones' web user and password: one for all, or a vendor's own."""

    common: tuple[str, str]
    vendors: dict[str, tuple[str, str]]

    def of(self, vendor: str) -> tuple[str, str]:
        return self.vendors.get(vendor, self.common)


def is_secret(key: str) -> bool:
    """Settings whose values are passwords or certificates."""
    return any(word in key.lower() for word in ("pass", "cert"))


CONFIG_SERVER = "HTTP (configuration server)"


@dataclass(frozen=True, slots=True)
class Target:
    """A telephone to provide: its IP and what discovery learnt about it."""

    ip: str
    vendor: str = ""
    mac: str = ""
    web_port: int = 80


@dataclass(frozen=True, slots=True)
class Outcome:
    ip: str
    vendor: str
    mac: str
    state: str  # done, needs restart, failed
    detail: str
    slot: str = ""

    @property
    def ok(self) -> bool:
        return self.state != "failed"


# Options for one run (the CLI's flags), not stored: ProvisioningOptions
# fields and "web_password".
Overrides = dict[str, object]
Seen = dict[str, str]  # vendor and MAC as far as known, for a failure's result
# ("progress", text) / ("found", Sighting) / ("result", Outcome)
Report = Callable[[str, object], None]


def _quiet(kind: str, payload: object) -> None:
    pass


def _describe(exc: BaseException, ip: str) -> str:
    if isinstance(exc, httpx.ConnectTimeout | httpx.ReadTimeout | httpx.PoolTimeout):
        return f"no answer from the web interface at {ip} within {WEB_TIMEOUT:g} s"
    if isinstance(exc, httpx.ConnectError):
        return f"cannot reach the web interface at {ip} ({exc or 'connection failed'})"
    if isinstance(exc, httpx.HTTPError):
        return f"web interface at {ip}: {exc}"
    return str(exc) or type(exc).__name__


class Provisioner:
    def __init__(
        self,
        db: Database,
        box: SecretBox,
        ca_pem: Callable[[], str] = lambda: "",
        on_phones_provided: Callable[[], Awaitable[None]] | None = None,
        bound_port: Callable[[str, str], int | None] = lambda _iface, _kind: None,
    ) -> None:
        self.db = db
        self.box = box
        self.ca_pem = ca_pem
        self.on_phones_provided = on_phones_provided
        # The port a running server listens on for (interface, kind), where the
        # settings say 0 (any free port) or the server is not in this process.
        self.bound_port = bound_port

    async def options(self) -> ProvisioningOptions:
        return cast(ProvisioningOptions, await repo.load_section(self.db, "provisioning"))

    async def web_logins(self) -> WebLogins:
        """The phones' web logins: the common one, and each vendor's own where set."""
        opts = await self.options()
        password = await repo.get_secret(self.db, self.box, repo.PHONE_WEB_PASSWORD)
        vendors: dict[str, tuple[str, str]] = {}
        for vendor, user in opts.vendor_web_users.items():
            secret = await repo.get_secret(self.db, self.box, vendor_password_key(vendor))
            vendors[vendor] = (user, secret or "")
        return WebLogins((opts.web_user, password or ""), vendors)

    # -- the web interface ------------------------------------------------------------

    def _client(
        self, target: Target, dialect: Dialect, user: str, password: str
    ) -> httpx.AsyncClient:
        async def request_hook(request: httpx.Request) -> None:
            log.debug(
                "%s %s",
                request.method,
                request.url.copy_with(query=None),
                extra={"tag": target.mac},
            )

        async def response_hook(response: httpx.Response) -> None:
            log.debug(
                "%s %s: HTTP %d",
                response.request.method,
                response.request.url.copy_with(query=None),
                response.status_code,
                extra={"tag": target.mac},
            )

        host = f"[{target.ip}]" if ":" in target.ip else target.ip
        return httpx.AsyncClient(
            base_url=f"http://{host}:{target.web_port}",
            auth=dialect.auth(user, password),
            timeout=WEB_TIMEOUT,
            event_hooks={"request": [request_hook], "response": [response_hook]},
            trust_env=False,
            verify=_tls_context(),  # one for all: building one costs ~20 ms
        )

    async def _logged_in(
        self, target: Target, vendor: str, logins: WebLogins
    ) -> tuple[httpx.AsyncClient, Identity]:
        """A client logged in to the phone's web interface the way ``vendor``'s
        is, and what the phone says it is; closed again when either fails."""
        dialect = DIALECTS[vendor]
        user, password = logins.of(vendor)
        http = self._client(target, dialect, user, password)
        try:
            await dialect.login(http, user, password)
            return http, await dialect.identify(http)
        except BaseException:
            await http.aclose()
            raise

    async def _connect(
        self, target: Target, logins: WebLogins, need_mac: bool
    ) -> tuple[Dialect, httpx.AsyncClient, Identity]:
        """The target's vendor, else each vendor in turn, until the web
        interface lets us in (and, with ``need_mac``, names its MAC)."""
        vendors = [target.vendor] if target.vendor in DIALECTS else list(DIALECTS)
        errors: list[BaseException] = []
        for vendor in vendors:
            try:
                http, who = await self._logged_in(target, vendor, logins)
            except (WebError, httpx.HTTPError, ValueError) as exc:
                errors.append(exc)
                if isinstance(exc, httpx.ConnectError | httpx.TimeoutException):
                    break  # nothing listens there: no other vendor will answer either
                continue
            if who.mac or not need_mac:
                return DIALECTS[vendor], http, who
            await http.aclose()
        # A refused login says more than the pages other vendors would have had.
        refused = [e for e in errors if isinstance(e, LoginRefused)]
        if errors:
            raise WebError(_describe((refused or errors)[-1], target.ip))
        raise WebError(f"the web interface at {target.ip} did not say which phone it is")

    async def identify(self, target: Target, logins: WebLogins) -> Sighting:
        """The phone as its web interface describes it; the vendor is tried
        from the sighting, else each vendor in turn."""
        dialect, http, who = await self._connect(target, logins, need_mac=True)
        await http.aclose()
        return Sighting(
            target.ip, dialect.vendor, who.model, who.firmware, who.mac, "web interface"
        )

    # -- find telephones -------------------------------------------------------------

    async def find(
        self,
        local_ip: str | None,
        addresses: list[str],
        duration: float = 3.0,
        report: Report = _quiet,
    ) -> list[Sighting]:
        """OPTIONS to the interface's broadcast address, sip.mcast.net and each
        given address; PnP SUBSCRIBEs heard meanwhile; then each phone's web
        interface for its MAC, model and firmware."""
        loop = asyncio.get_running_loop()
        queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
        found: dict[str, Sighting] = {}
        transports: list[asyncio.DatagramTransport] = []
        logins = await self.web_logins()
        iface = next((i for i in local_interfaces() if i.ip == local_ip), None)
        try:
            probe = probe_socket(local_ip)
            transport, _ = await loop.create_datagram_endpoint(lambda: Datagrams(queue), sock=probe)
            transports.append(transport)
            pnp = pnp_socket(local_ip)
            if pnp is None:
                report(
                    "progress",
                    "not listening for plug-and-play SUBSCRIBEs: UDP port 5060 is in use",
                )
            else:
                transport, _ = await loop.create_datagram_endpoint(
                    lambda: Datagrams(queue), sock=pnp
                )
                transports.append(transport)
            sent_from = probe.getsockname()
            destinations = list(addresses)
            if local_ip and iface is not None:
                destinations += [iface.broadcast, SIP_MCAST]
            report(
                "progress",
                f"searching from {local_ip or 'all interfaces'}: OPTIONS to "
                f"{len(destinations)} destinations, listening {duration:g} s",
            )
            log.debug("discovery: OPTIONS to %s", ", ".join(destinations[:20]))
            for _ in range(2):  # UDP may lose one
                for dest in destinations:
                    data = options_request(local_ip or sent_from[0], sent_from[1], dest)
                    with contextlib.suppress(OSError):
                        transports[0].sendto(data, (dest, SIP_PORT))
                await asyncio.sleep(0.2)
            fingerprints: set[asyncio.Task[None]] = set()
            limit = asyncio.Semaphore((await self.options()).concurrency)

            async def fingerprint(seen: Sighting) -> None:
                try:
                    async with limit:
                        web = await self.identify(Target(seen.ip, seen.vendor, seen.mac), logins)
                    if not seen.mac or web.mac == seen.mac:
                        # the web interface knows the model best; the source says both
                        seen = replace(web.merged(seen), source=f"{seen.source}, {web.source}")
                except WebError as exc:
                    seen = replace(seen, source=f"{seen.source} (web interface: {exc})")
                found[seen.ip] = seen
                report("found", seen)

            wanted = set(addresses)
            deadline = loop.time() + duration
            while (left := deadline - loop.time()) > 0:
                try:
                    data, ip = await asyncio.wait_for(queue.get(), left)
                except TimeoutError:
                    break
                seen = read_datagram(data, ip)
                if seen is None or ip == local_ip:
                    continue
                if iface is not None and not iface.reaches(ip) and ip not in wanted:
                    continue  # another network's phone: not reachable from this interface
                log.debug(
                    "discovery: received from %s:\n%s",
                    ip,
                    data.decode("utf-8", "replace"),
                    extra={"tag": seen.mac},
                )
                if ip in found:
                    found[ip] = found[ip].merged(seen)
                    continue
                found[ip] = seen
                report("progress", f"{ip} answered ({seen.source}); asking its web interface")
                task = loop.create_task(fingerprint(seen))
                fingerprints.add(task)
            # Addresses given by hand that said nothing over SIP: their web interface may.
            for ip in addresses:
                if ip not in found:
                    found[ip] = Sighting(ip, source="manual")
                    fingerprints.add(loop.create_task(fingerprint(found[ip])))
            if fingerprints:
                await asyncio.gather(*fingerprints)
        finally:
            for t in transports:
                t.close()
        report("progress", f"search finished: {len(found)} telephones")
        return sorted(found.values(), key=lambda s: ipaddress.ip_address(s.ip))

    # -- provide and delete ----------------------------------------------------------

    async def _account(self, target: Target, mac: str, opts: ProvisioningOptions) -> Account:
        conn = cast(PhoneConnection, await repo.load_section(self.db, "phone_connection"))
        iface = conn.lan if opts.interface == "lan" else conn.wan
        label = opts.interface.upper()
        if not iface.enabled:
            raise ProvisioningError(f"the phone connection's {label} interface is off")
        port = self.bound_port(opts.interface, opts.transport) or (
            iface.tcp_port if opts.transport == "TCP" else iface.tls_port
        )
        if not port:
            raise ProvisioningError(
                f"the phone connection's {label} interface has no {opts.transport} port"
            )
        server = opts.server_address or (iface.public_address if opts.interface == "wan" else None)
        if not server:
            server = (
                iface.address if iface.address not in ("0.0.0.0", "::") else route_to(target.ip)
            )
        password = await repo.get_secret(self.db, self.box, repo.PHONE_PASSWORD) or ""
        config_port = self.bound_port(opts.interface, CONFIG_SERVER) or opts.http_port or 0
        host = f"[{server}]" if ":" in server else server
        second, second_port = host_port(opts.second_server) if opts.second_server else ("", None)
        return Account(
            mac=mac,
            password=password,
            server=server,
            port=port,
            transport=opts.transport,
            expiry=opts.expiry,
            ca_pem=self.ca_pem() if opts.transport == "TLS" else "",
            config_port=config_port,
            config_path=config_folder(config_token(self.box)),
            ca_url=f"http://{host}:{config_port}/{CA_PATH}" if config_port else "",
            second_server=second,
            second_port=second_port or port,
        )

    async def push(
        self, targets: list[Target], report: Report = _quiet, overrides: Overrides | None = None
    ) -> list[Outcome]:
        return await self._each(targets, self._push_one, report, overrides)

    async def delete(
        self, targets: list[Target], report: Report = _quiet, overrides: Overrides | None = None
    ) -> list[Outcome]:
        return await self._each(targets, self._delete_one, report, overrides)

    async def restart(self, targets: list[Target], report: Report = _quiet) -> list[Outcome]:
        """Restart phones through their web interface, as *Restart phone* does
        after a push (the telephone list's bulk restart)."""
        return await self._each(targets, self._restart_one, report, None)

    async def _each(
        self,
        targets: list[Target],
        work: Callable[[Target, ProvisioningOptions, WebLogins, Seen], Awaitable[Outcome]],
        report: Report,
        overrides: Overrides | None,
    ) -> list[Outcome]:
        opts = await self.options()
        login = await self.web_logins()
        if overrides:
            changes = {k: v for k, v in overrides.items() if k != "web_password"}
            opts = ProvisioningOptions.model_validate({**opts.model_dump(), **changes})
            if "web_user" in overrides or "web_password" in overrides:
                # given for this run: one login for every phone
                password = str(overrides.get("web_password", login.common[1]))
                login = WebLogins((opts.web_user, password), {})
        limit = asyncio.Semaphore(opts.concurrency)

        async def one(target: Target) -> Outcome:
            async with limit:
                log_tag.set(target.mac)
                seen: Seen = {"vendor": target.vendor, "mac": target.mac}
                try:
                    outcome = await work(target, opts, login, seen)
                except (WebError, ProvisioningError, httpx.HTTPError, OSError, ValueError) as exc:
                    outcome = Outcome(
                        target.ip, seen["vendor"], seen["mac"], "failed", _describe(exc, target.ip)
                    )
                except Exception as exc:  # a bug here must not cost the other phones theirs
                    log.exception("provisioning %s failed unexpectedly", target.ip)
                    outcome = Outcome(
                        target.ip, seen["vendor"], seen["mac"], "failed", f"internal error: {exc!r}"
                    )
                level = logging.INFO if outcome.ok else logging.WARNING
                log.log(
                    level,
                    "telephone %s (%s %s): %s%s",
                    outcome.ip,
                    outcome.vendor or "?",
                    outcome.mac or "?",
                    outcome.state,
                    f": {outcome.detail}" if outcome.detail else "",
                    extra={"tag": outcome.mac},
                )
                report("result", outcome)
                return outcome

        return list(await asyncio.gather(*(one(t) for t in targets)))

    async def _open(
        self, target: Target, logins: WebLogins, seen: Seen
    ) -> tuple[Dialect, httpx.AsyncClient, Identity]:
        if target.vendor not in DIALECTS:
            # One SIP OPTIONS says the vendor; else each vendor's pages are tried.
            answer = await sip_probe(target.ip)
            if answer is not None and answer.vendor in DIALECTS:
                target = replace(target, vendor=answer.vendor)
        seen["vendor"] = target.vendor
        dialect, http, who = await self._connect(
            target, logins, need_mac=target.vendor not in DIALECTS
        )
        seen["vendor"] = dialect.vendor
        if target.mac and who.mac and who.mac != target.mac:
            await http.aclose()
            raise WebError(
                f"the phone at {target.ip} is now {who.mac}, not {target.mac}; search again"
            )
        seen["mac"] = who.mac or target.mac
        log_tag.set(seen["mac"])
        return dialect, http, who

    async def _push_one(
        self, target: Target, opts: ProvisioningOptions, logins: WebLogins, seen: Seen
    ) -> Outcome:
        dialect, http, who = await self._open(target, logins, seen)
        async with contextlib.aclosing(http):
            mac = who.mac or target.mac
            account = await self._account(target, mac, opts)
            keys = vendors.profile(dialect.vendor).account_keys()
            current = await dialect.read(http, keys)
            plan = vendors.plan(dialect.vendor, current, account)
            previous = {k: current.get(k) for k in plan.writes}
            log.debug("writing %s to %s", ", ".join(sorted(plan.writes)), plan.slot)
            await dialect.write(http, plan.writes)
            await repo.save_provisioned(
                self.db,
                mac,
                dialect.vendor,
                target.ip,
                plan.slot,
                self._sealed(plan.writes),
                self._sealed(previous),
                target.web_port,
            )
            users = [
                r.user
                for r in vendors.registrations(dialect.vendor, {**current, **plan.writes}, mac)
            ]
            await repo.put_in_operation(self.db, users or [mac], dialect.vendor, target.ip)
            if self.on_phones_provided is not None:
                await self.on_phones_provided()
            where = f"{account.server}:{account.port} over {account.transport}"
            detail = f"{plan.slot}: registers with {where}"
            return await self._finish(dialect, http, target.ip, mac, opts, detail, plan.slot)

    async def _delete_one(
        self, target: Target, opts: ProvisioningOptions, logins: WebLogins, seen: Seen
    ) -> Outcome:
        dialect, http, who = await self._open(target, logins, seen)
        async with contextlib.aclosing(http):
            mac = who.mac or target.mac
            keys = vendors.profile(dialect.vendor).account_keys()
            record = await repo.get_provisioned(self.db, mac)
            if record is not None:
                written, previous = self._opened(record.written), self._opened(record.previous)
                keys = sorted(set(keys) | set(written))
                current = await dialect.read(http, keys)
                writes, changed = undo(written, previous, current)
                slot = record.slot
            else:
                # Provided by another server or by hand: find our account by its user name.
                current = await dialect.read(http, keys)
                account = await self._account(target, mac, opts)
                plan = vendors.plan(dialect.vendor, current, account)
                ours = vendors.registrations(dialect.vendor, current, mac)
                if not ours and dialect.vendor != "mitel":  # Mitel's are in its files
                    raise ProvisioningError("no uaCSTA account found on the phone")
                writes, changed, slot = {k: "" for k in plan.writes}, [], plan.slot
            await dialect.write(http, writes)
            await repo.remove_provisioned(self.db, mac)
            detail = f"{slot} removed"
            if changed:
                detail += f"; left as changed since: {', '.join(sorted(changed))}"
            return await self._finish(dialect, http, target.ip, mac, opts, detail, slot)

    async def _restart_one(
        self, target: Target, opts: ProvisioningOptions, logins: WebLogins, seen: Seen
    ) -> Outcome:
        dialect, http, who = await self._open(target, logins, seen)
        async with contextlib.aclosing(http):
            await dialect.restart(http)
        return Outcome(target.ip, dialect.vendor, who.mac or target.mac, "done", "restarting")

    # Passwords and certificates in the records are encrypted like the phone
    # password itself: the database holds no secret in the clear.
    def _sealed(self, values: dict[str, T]) -> dict[str, T | str]:
        return {
            k: SEALED + self.box.encrypt(v) if is_secret(k) and isinstance(v, str) and v else v
            for k, v in values.items()
        }

    def _opened(self, values: dict[str, T]) -> dict[str, T | str]:
        return {
            k: self.box.decrypt(v[len(SEALED) :])
            if isinstance(v, str) and v.startswith(SEALED)
            else v
            for k, v in values.items()
        }

    @staticmethod
    async def _finish(
        dialect: Dialect,
        http: httpx.AsyncClient,
        ip: str,
        mac: str,
        opts: ProvisioningOptions,
        detail: str,
        slot: str,
    ) -> Outcome:
        """Restart the phone if the options say so; the change takes effect then."""
        if not opts.restart:
            return Outcome(ip, dialect.vendor, mac, "needs restart", detail, slot)
        await dialect.restart(http)
        return Outcome(ip, dialect.vendor, mac, "done", detail + "; restarting", slot)


def config_token(box: SecretBox) -> str:
    """The secret folder of the configuration server, stable for this data folder."""
    return box.raw_secret("mitel-configuration-folder").hex()[:32]


@functools.cache
def _tls_context() -> ssl.SSLContext:
    return ssl.create_default_context()
