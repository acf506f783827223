"""The phone registrar (RFC 3261 section 10.3): digest against the phone password,
user name = MAC, expiry negotiation, bindings tied to the phone's connection."""

from __future__ import annotations

import enum
import heapq
import logging
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Protocol

from ..lockout import Lockout
from ..sip.digest import DigestServer, Verdict, compute_ha1, parse_credentials
from ..sip.errors import SipParseError
from ..sip.grammar import is_digits
from ..sip.message import Request, Response, build_response
from ..sip.uri import SipUri
from ..vendors import normalise_user, parse_user_agent
from .directory import PhoneDirectory

log = logging.getLogger("uacsta.registrar")
SERVER_HEADER = ("Server", "uacsta")


class Connection(Protocol):
    """What the registrar needs to know of a phone's connection."""

    peer_ip: str
    peer_port: int
    transport_name: str
    interface: str
    macs: set[str]

    def close(self) -> None: ...


@dataclass(slots=True)
class Binding:
    mac: str
    aor: str
    contact: str
    expires_at: float
    call_id: str
    cseq: int
    connection: Connection


class BindingChange(enum.Enum):
    ADDED = "added"
    REFRESHED = "refreshed"
    REMOVED = "removed"  # unregistered, expired, connection lost, replaced


@dataclass(slots=True)
class RegistrarPolicy:
    sip_expiration: int = 300
    min_expiration: int = 60
    auto_enable: bool = True


@dataclass
class Registrar:
    realm: str
    digest: DigestServer
    directory: PhoneDirectory
    phone_password: Callable[[], str]
    policy: RegistrarPolicy = field(default_factory=RegistrarPolicy)
    bindings: dict[str, Binding] = field(default_factory=dict)
    listeners: list[Callable[[BindingChange, Binding], None]] = field(default_factory=list)
    lockout: Lockout = field(default_factory=Lockout)
    _ha1_cache: dict[tuple[str, str, str], str] = field(default_factory=dict)
    # (expires_at, mac) of every expiry set, the stale ones (refreshed or removed
    # bindings) dropped as they come up: expire() looks at what is due, not at
    # every phone each second.
    _expiries: list[tuple[float, str]] = field(default_factory=list)
    # REGISTERs handled, and those refused by why (Prometheus reads them)
    registers: int = 0
    refusals: Counter[str] = field(default_factory=Counter)

    # -- REGISTER -------------------------------------------------------------

    def handle_register(
        self, req: Request, conn: Connection, now: float, wall: float, to_tag: str
    ) -> Response:
        self.registers += 1
        to_uri = req.to.uri
        if not isinstance(to_uri, SipUri) or to_uri.user is None:
            return build_response(req, 400, "To must be a SIP URI with a user part", to_tag=to_tag)
        mac = normalise_user(to_uri.user)
        if mac is None:
            self.refusals["not a MAC"] += 1
            log.warning(
                "REGISTER refused: user %r from %s is not a MAC address or handset ID",
                to_uri.user,
                conn.peer_ip,
            )
            return build_response(
                req, 403, "User name must be the phone's MAC address", to_tag=to_tag
            )
        key = (conn.peer_ip, mac)
        if self.lockout.locked(conn.peer_ip, mac, now):
            self.refusals["locked out"] += 1
            return build_response(req, 403, "Too many failed attempts", to_tag=to_tag)
        auth = self._authenticate(req, mac, key, now, wall, to_tag)
        if auth is not None:
            return auth
        self.lockout.succeeded(conn.peer_ip, mac, now)
        return self._update_bindings(req, conn, mac, now, to_tag)

    def _challenge(self, req: Request, wall: float, to_tag: str, stale: bool = False) -> Response:
        extra = [
            ("WWW-Authenticate", c.header_value())
            for c in self.digest.challenges(wall, stale=stale)
        ]
        return build_response(req, 401, to_tag=to_tag, extra=[*extra, SERVER_HEADER])

    def _authenticate(
        self, req: Request, mac: str, key: tuple[str, str], now: float, wall: float, to_tag: str
    ) -> Response | None:
        creds = None
        for value in req.headers.get_all("Authorization"):
            if not value.lower().startswith("digest"):
                continue
            try:
                candidate = parse_credentials(value)
            except SipParseError as exc:
                return build_response(req, 400, f"Bad Authorization: {exc.reason}", to_tag=to_tag)
            if candidate.realm == self.realm:
                creds = candidate
                break
        if creds is None:
            return self._challenge(req, wall, to_tag)
        if normalise_user(creds.username) != mac:
            log.warning(
                "REGISTER refused: digest user %r is not the To user %s", creds.username, mac
            )
            return build_response(req, 403, "Digest user name must be the MAC", to_tag=to_tag)
        ha1 = self._ha1(creds.username, creds.algorithm.removesuffix("-sess"))
        verdict = self.digest.verify(creds, req.method, ha1, wall, request_uri=req.uri)
        if verdict is Verdict.OK:
            return None
        if verdict is Verdict.STALE:
            return self._challenge(req, wall, to_tag, stale=True)
        if verdict is Verdict.BAD_RESPONSE:
            count = self.lockout.failed(key[0], key[1], now)
            self.refusals["wrong password"] += 1
            log.warning("REGISTER from %s: wrong password (attempt %d)", key[0], count)
        elif verdict is Verdict.REPLAY:
            log.warning("REGISTER from %s: replayed nonce count %s refused", key[0], creds.nc)
        else:
            log.info("REGISTER from %s: %s, challenging again", key[0], verdict.value)
        return self._challenge(req, wall, to_tag)

    def _ha1(self, username: str, algorithm: str) -> str:
        password = self.phone_password()
        cache_key = (username, algorithm, password)
        ha1 = self._ha1_cache.get(cache_key)
        if ha1 is None:
            if len(self._ha1_cache) > 50_000:
                self._ha1_cache.clear()
            ha1 = compute_ha1(username, self.realm, password, algorithm)
            self._ha1_cache[cache_key] = ha1
        return ha1

    def _update_bindings(
        self, req: Request, conn: Connection, mac: str, now: float, to_tag: str
    ) -> Response:
        contacts_raw = req.headers.get_all("Contact")
        expires_header = req.headers.get("Expires")
        current = self.bindings.get(mac)
        if any(v.strip() == "*" for v in contacts_raw):
            if len(contacts_raw) != 1 or expires_header != "0":
                return build_response(req, 400, "Contact * needs Expires: 0 alone", to_tag=to_tag)
            if current is not None:
                self._remove(current, "unregistered")
            return build_response(req, 200, to_tag=to_tag, extra=[SERVER_HEADER])
        contacts = req.contacts
        if not contacts:
            # A query: the current binding, if any.
            extra = [SERVER_HEADER]
            if current is not None:
                left = max(0, int(current.expires_at - now))
                extra.append(("Contact", f"<{current.contact}>;expires={left}"))
            return build_response(req, 200, to_tag=to_tag, extra=extra)
        contact = contacts[0]
        raw_expires = contact.params.get("expires", expires_header)
        if raw_expires is None:
            expires = self.policy.sip_expiration
        elif is_digits(raw_expires) and len(raw_expires) <= 10:
            expires = int(raw_expires)
        else:
            return build_response(req, 400, "Bad expires value", to_tag=to_tag)
        if (
            current is not None
            and current.call_id == req.call_id
            and req.cseq.number <= current.cseq
        ):
            return build_response(req, 500, "Out of order REGISTER", to_tag=to_tag)
        if expires == 0:
            if current is not None:
                self._remove(current, "unregistered")
            return build_response(req, 200, to_tag=to_tag, extra=[SERVER_HEADER])
        if expires < self.policy.min_expiration:
            return build_response(
                req,
                423,
                to_tag=to_tag,
                extra=[("Min-Expires", str(self.policy.min_expiration)), SERVER_HEADER],
            )
        expires = min(expires, self.policy.sip_expiration)
        contact_uri = str(contact.uri)
        if current is not None and current.connection is not conn:
            # The phone came back on a new connection (reboot, new IP): the
            # old binding and its connection are done.
            self._remove(current, "replaced by a registration on a new connection")
            current = None
        ua = req.headers.get("User-Agent") or ""
        identity = str(req.to.uri.aor)
        known = self.directory.unchanged(mac, ua, identity) if current is not None else None
        if known is not None:
            # A refresh on the same connection that changes nothing: nothing
            # to parse, nothing to write (the telephone list keeps the login).
            phone, new = known, False
        else:
            phone, new = self.directory.registered(
                mac,
                device=parse_user_agent(ua, mac),
                user_agent=ua,
                ip=conn.peer_ip,
                port=conn.peer_port,
                transport=conn.transport_name,
                identity=identity,
                when=datetime.now(UTC),
                auto_enable=self.policy.auto_enable,
            )
        if current is None:
            binding = Binding(
                mac, req.to.uri.aor, contact_uri, now + expires, req.call_id, req.cseq.number, conn
            )
            self.bindings[mac] = binding
            heapq.heappush(self._expiries, (binding.expires_at, mac))
            conn.macs.add(mac)
            log.info(
                "phone %s registered from %s:%d over %s (%s %s %s)%s%s",
                mac,
                conn.peer_ip,
                conn.peer_port,
                conn.transport_name,
                phone.vendor,
                phone.model,
                phone.firmware,
                ", new" if new else "",
                "" if phone.enabled else ", disabled",
            )
            self._notify(BindingChange.ADDED, binding)
        else:
            current.contact, current.expires_at = contact_uri, now + expires
            heapq.heappush(self._expiries, (current.expires_at, mac))
            current.call_id, current.cseq = req.call_id, req.cseq.number
            self._notify(BindingChange.REFRESHED, current)
        return build_response(
            req,
            200,
            to_tag=to_tag,
            extra=[("Contact", f"<{contact_uri}>;expires={expires}"), SERVER_HEADER],
        )

    # -- bindings ending --------------------------------------------------------

    def _remove(self, binding: Binding, why: str) -> None:
        if self.bindings.get(binding.mac) is binding:
            del self.bindings[binding.mac]
        binding.connection.macs.discard(binding.mac)
        log.info("phone %s offline: %s", binding.mac, why, extra={"tag": binding.mac})
        self._notify(BindingChange.REMOVED, binding)

    def connection_lost(self, conn: Connection) -> None:
        for mac in list(conn.macs):
            binding = self.bindings.get(mac)
            if binding is not None and binding.connection is conn:
                self._remove(binding, "connection closed")

    def expire(self, now: float) -> int:
        heap = self._expiries
        gone = 0
        while heap and heap[0][0] <= now:
            at, mac = heapq.heappop(heap)
            binding = self.bindings.get(mac)
            if binding is not None and binding.expires_at == at:
                self._remove(binding, "registration expired")
                gone += 1
        if len(heap) > 2 * len(self.bindings) + 1000:  # refreshes leave stale entries
            self._expiries = [(b.expires_at, b.mac) for b in self.bindings.values()]
            heapq.heapify(self._expiries)
        self.lockout.expire(now)
        return gone

    def _notify(self, change: BindingChange, binding: Binding) -> None:
        for listener in self.listeners:
            try:
                listener(change, binding)
            except Exception:
                log.exception("binding listener failed")
