"""One simulated uaCSTA desk phone.

It registers with digest (user name = MAC), refreshes its registration, sends
RFC 5626 keep-alives, accepts the server's uaCSTA INVITE over its own
connection, answers CSTA requests in the 200 OK of each INFO according to its
vendor's table (the simulator's own, ``uacsta.sim.vendors``), and sends its identities
(SwitchingFunctionDevices) after GetSwitchingFunctionDevices, as real phones do.
Calls are the simulated switch's (``switch.py``); the phone also acts by hand
(dial, answer, hang up, DND and forwarding keys) as a person would.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import logging
import secrets
import ssl
import time
from collections.abc import Coroutine
from dataclasses import dataclass, field
from typing import Any

from ..csta.codec import CSTA_HEADERS, YEALINK_NAMESPACE, DecodeError, decode, encode
from ..csta.errors import CSTAErrorCode, ErrorCategory
from ..csta.model import (
    CstaMessage,
    DoNotDisturbEvent,
    ForwardingEvent,
    ForwardListItem,
    GetDoNotDisturb,
    GetDoNotDisturbResponse,
    GetForwarding,
    GetForwardingResponse,
    GetMessageWaitingIndicator,
    GetMessageWaitingIndicatorResponse,
    GetSwitchingFunctionDevices,
    GetSwitchingFunctionDevicesResponse,
    MakeCall,
    MakeCallResponse,
    MessageWaitingEvent,
    MonitorStart,
    MonitorStartResponse,
    MonitorStop,
    MonitorStopResponse,
    RequestSystemStatus,
    RequestSystemStatusResponse,
    SetDoNotDisturb,
    SetDoNotDisturbResponse,
    SetForwarding,
    SetForwardingResponse,
    SetMessageWaitingIndicator,
    SetMessageWaitingIndicatorResponse,
    SnapshotDevice,
    SnapshotDeviceData,
    SnapshotDeviceResponse,
    SwFunctionDevicesChanged,
    SwitchingFunctionDevice,
    SwitchingFunctionDevices,
    SystemRegister,
    SystemRegisterAbort,
    SystemRegisterCancel,
    SystemRegisterCancelResponse,
    SystemRegisterResponse,
)
from ..csta.types import DeviceCategory, DeviceID, EventDevice, ForwardingType, SystemStatus
from ..sip.dialog import Dialog, new_tag
from ..sip.digest import DigestServer, Verdict, answer_challenge, compute_ha1, parse_credentials
from ..sip.errors import SipParseError
from ..sip.framer import MessageReceived, StreamFramer
from ..sip.grammar import is_digits
from ..sip.headers import Headers
from ..sip.message import Request, Response, build_response
from ..sip.transaction import new_branch
from .switch import Leg, SimSwitch
from .vendors import refuses

log = logging.getLogger("uacsta.sim")

USER_AGENTS = {
    "snom": "snomD785/10.1.54.13",
    "yealink": "Yealink SIP-T54W 96.85.0.5",
    "mitel": "Mitel 6869i/5.1.0.1024",
    "poly": "PolycomVVX-VVX_411-UA/6.1.0.6189",
    "auerswald": "Auerswald COMfortel 2600 IP/2.8A",
    "gigaset": "Gigaset N870 IP PRO/83.V2.39.0+build.a546b31",
}
# The namespaces a vendor answers in (protocol notes, section 4): snom writes ed5
# whatever it is asked in; Yealink misspells the ed5 namespace in these
# messages and writes GetDoNotDisturbResponse in ed3.
YEALINK_MISSPELLED = frozenset(
    {
        "GetSwitchingFunctionDevicesResponse",
        "SwitchingFunctionDevices",
        "SwFunctionDevicesChanged",
        "SnapshotDeviceResponse",
        "SystemRegisterResponse",
        "MonitorStartResponse",
        "MonitorStopResponse",
        "GetForwardingResponse",
        "GetMessageWaitingIndicatorResponse",
    }
)
# Fixed values real phones use (docs: protocol notes, section 4).
SYS_STAT_REGISTER_IDS = {"snom": "43", "yealink": "2"}
SERVICE_CROSS_REF_IDS = {"yealink": "C2527445F5CC4848A7E80CBF0F76A11E"}


def granted_expiry(response: Response, asked: int) -> int:
    """The expiry a REGISTER's 200 OK grants: the Contact's expires parameter,
    else the Expires header, else what was asked (RFC 3261 10.2.4)."""
    try:
        contacts = response.contacts
    except SipParseError:
        contacts = []
    for contact in contacts:
        value = contact.params.get("expires")
        if value is not None and is_digits(value):
            return int(value)
    header = response.headers.get("Expires")
    if header is not None and is_digits(header.strip()):
        return int(header.strip())
    return asked


@dataclass
class SimPhoneConfig:
    vendor: str
    mac: str
    identities: list[str]
    password: str
    server_host: str
    server_port: int
    tls: ssl.SSLContext | None = None
    expires: int = 300
    # snom csta_challenge: 0 none, 1 the INVITE, 2 every uaCSTA request
    csta_challenge: int = 0
    answer_requests: bool = True  # False: a phone that never answers
    # As real phones do: refresh the registration before it expires, and
    # connect and register again when the connection drops (server restart).
    stay_registered: bool = True
    keepalive: float = 30.0  # RFC 5626 CRLFCRLF ping interval on the connection (0: none)
    local_address: str | None = None  # the phone's own IP (a device on a test network)
    # A fault: services this phone refuses though its vendor has them.
    refuse: frozenset[str] = frozenset()
    # The phone writes the events a request causes before the request's 200 OK
    # (INFO transactions are independent: RFC 6086 orders nothing across them).
    events_first: bool = False
    # The registrar failover list real phones have (snom's and Yealink's second
    # server, Poly's reg.1.server.2, Gigaset's secondary): (host, port) tried in
    # turn after the server above when a connection fails or cannot be made.
    backup_servers: tuple[tuple[str, int], ...] = ()


@dataclass
class SimPhone:
    config: SimPhoneConfig
    dialog: Dialog | None = None
    registered: bool = False
    dnd: bool = False
    message_waiting: bool = False
    # forwarding type -> (destination, ring count for no-answer forwarding)
    forwarding: dict[ForwardingType, tuple[str, int | None]] = field(default_factory=dict)
    monitors: dict[str, str] = field(default_factory=dict)  # crossRefID -> device
    received: list[CstaMessage | CSTAErrorCode | DecodeError] = field(default_factory=list)
    _reader: asyncio.StreamReader | None = None
    _writer: asyncio.StreamWriter | None = None
    _task: asyncio.Task[None] | None = None
    _life: asyncio.Task[None] | None = None
    _waiting: dict[str, asyncio.Future[Response]] = field(default_factory=dict)
    _cseq: int = 0
    _call_id: str = field(default_factory=lambda: f"{secrets.token_hex(8)}@sim")
    _from_tag: str = field(default_factory=new_tag)
    _digest: DigestServer | None = None
    _challenged_invite: bool = False
    _local: tuple[str, int] = ("127.0.0.1", 0)
    switch: SimSwitch | None = None
    events_sent: list[CstaMessage] = field(default_factory=list)  # kept when waited for
    events_count: int = 0  # every event INFO sent
    pings: int = 0  # RFC 5626 keep-alives sent
    pongs: int = 0  # and answered
    byes: int = 0  # the server ended the dialog
    granted: int | None = None  # the expiry the server granted last
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    server_index: int = 0  # which of the servers (the first, then the backups) is in use

    @property
    def servers(self) -> list[tuple[str, int]]:
        return [(self.config.server_host, self.config.server_port), *self.config.backup_servers]

    @property
    def mac(self) -> str:
        return self.config.mac

    # -- connection and registration -----------------------------------------------

    async def start(self) -> Response:
        response = await self._connect()
        if self.config.stay_registered:
            self._life = asyncio.get_running_loop().create_task(self._stay_registered())
        return response

    async def _stay_registered(self) -> None:
        """Refresh at 80 % of the granted time, ping the connection (RFC 5626
        CRLFCRLF) every ``keepalive`` seconds; after a lost connection,
        reconnect with a growing pause (0.2 s to 5 s) until registered."""
        loop = asyncio.get_running_loop()
        refresh_at = loop.time() + self.refresh_after()
        while True:
            assert self._task is not None
            wait = refresh_at - loop.time()
            if self.config.keepalive > 0:
                wait = min(wait, self.config.keepalive)
            done, _ = await asyncio.wait({self._task}, timeout=max(wait, 0.0))
            if not done:
                if loop.time() >= refresh_at:
                    with contextlib.suppress(TimeoutError, ConnectionError):
                        await self.register()
                    refresh_at = loop.time() + self.refresh_after()
                elif self._writer is not None and not self._writer.is_closing():
                    self._writer.write(b"\r\n\r\n")
                    self.pings += 1
                continue
            log.info("%s: connection to the server lost; registering again", self.mac)
            self.registered = False
            self.dialog = None
            self.monitors.clear()
            delay = 0.2
            while True:
                try:
                    if (await self._connect()).status == 200:
                        break
                except (OSError, TimeoutError, ssl.SSLError):
                    # the next server of the failover list, if there is one
                    self.server_index = (self.server_index + 1) % len(self.servers)
                await asyncio.sleep(delay)
                delay = min(delay * 2, 5.0)
            refresh_at = loop.time() + self.refresh_after()

    def refresh_after(self) -> float:
        """Refresh at 80 % of what the server granted, as real phones do."""
        return (self.granted or self.config.expires) * 0.8

    async def _connect(self) -> Response:
        cfg = self.config
        if self._writer is not None:
            self._writer.close()
        host, port = self.servers[self.server_index]
        self._reader, self._writer = await asyncio.open_connection(
            host,
            port,
            ssl=cfg.tls,
            server_hostname=cfg.server_host if cfg.tls else None,
            local_addr=(cfg.local_address, 0) if cfg.local_address else None,
        )
        self._local = self._writer.get_extra_info("sockname")[:2]
        self._task = asyncio.get_running_loop().create_task(self._read_loop())
        if cfg.csta_challenge:
            self._digest = DigestServer(f"snom-{cfg.mac}", secrets.token_bytes(16))
        return await self.register()

    async def register(self, expires: int | None = None) -> Response:
        expires = self.config.expires if expires is None else expires
        first = await self._transact(self._register_request(expires, None))
        if first.status != 401:
            return first
        auth = answer_challenge(
            first.headers.get("WWW-Authenticate", ""),
            method="REGISTER",
            uri=f"sip:{self.config.server_host}",
            username=self.mac,
            password=self.config.password,
        )
        final = await self._transact(self._register_request(expires, auth))
        self.registered = final.status == 200 and expires > 0
        if self.registered:
            self.granted = granted_expiry(final, expires)
        return final

    def _transport(self) -> str:
        return "TLS" if self.config.tls else "TCP"

    def _register_request(self, expires: int, auth: str | None) -> Request:
        self._cseq += 1
        host, port = self._local
        aor = f"sip:{self.mac}@{self.config.server_host}"
        h = Headers()
        h.add("Via", f"SIP/2.0/{self._transport()} {host}:{port};branch={new_branch()};rport")
        h.add("Max-Forwards", "70")
        h.add("From", f"<{aor}>;tag={self._from_tag}")
        h.add("To", f"<{aor}>")
        h.add("Call-ID", self._call_id)
        h.add("CSeq", f"{self._cseq} REGISTER")
        h.add("Contact", f"<sip:{self.mac}@{host}:{port};transport={self._transport().lower()}>")
        h.add("Expires", str(expires))
        h.add("User-Agent", USER_AGENTS.get(self.config.vendor, "uacsta-sim"))
        if auth:
            h.add("Authorization", auth)
        return Request(headers=h, method="REGISTER", uri=f"sip:{self.config.server_host}")

    async def _transact(self, req: Request, wait: float = 10.0) -> Response:
        key = f"{req.cseq.number} {req.method} {req.call_id}"
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting[key] = fut
        self._send(req)
        try:
            return await asyncio.wait_for(fut, wait)
        finally:
            self._waiting.pop(key, None)

    def _send(self, msg: Request | Response) -> None:
        if self._writer is not None and not self._writer.is_closing():
            self._writer.write(msg.to_bytes())

    async def stop(self, bye: bool = False) -> None:
        if self._life is not None:
            self._life.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._life
            self._life = None
        if bye and self.dialog is not None:
            await self._transact(self._dialog_request("BYE", b""))
            self.dialog = None
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await self._writer.wait_closed()
        for task in [self._task, *self._background]:
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task

    # -- what the server sends ---------------------------------------------------------------

    async def _read_loop(self) -> None:
        assert self._reader is not None
        framer = StreamFramer()
        while True:
            try:
                data = await self._reader.read(65536)
            except (ConnectionError, ssl.SSLError):
                return
            if not data:
                return
            if not data.strip(b"\r\n"):  # the server's pong(s) to our pings
                self.pongs += len(data) // 2
                continue
            for event in framer.feed(data):
                if not isinstance(event, MessageReceived):
                    continue
                msg = event.message
                if isinstance(msg, Response):
                    key = f"{msg.cseq.number} {msg.cseq.method} {msg.call_id}"
                    fut = self._waiting.get(key)
                    if fut is not None and not fut.done() and msg.status >= 200:
                        fut.set_result(msg)
                else:
                    self._request(msg)

    def _request(self, req: Request) -> None:
        if req.method == "ACK":
            return
        if not self.config.answer_requests and req.method in ("INFO", "INVITE"):
            return
        if req.method == "INVITE":
            self._send(self._invite(req))
        elif req.method == "INFO":
            answer = self._info(req)
            if answer is not None:
                self._send(answer)
        elif req.method == "BYE":
            if self.dialog is None or req.call_id != self.dialog.call_id:
                self._send(build_response(req, 481))  # a dialog it no longer has
            else:
                self.dialog = None
                self.byes += 1
                self._send(build_response(req, 200))
        elif req.method == "OPTIONS":
            self._send(build_response(req, 200))
        else:
            self._send(build_response(req, 405))

    def _challenge(self, req: Request) -> Response | None:
        """snom's csta_challenge: the phone asks the server to authenticate."""
        assert self._digest is not None
        value = req.headers.get("Authorization")
        if value:
            try:
                creds = parse_credentials(value)
                ha1 = compute_ha1(creds.username, self._digest.realm, self.config.password)
                if self._digest.verify(creds, req.method, ha1, time.time()) is Verdict.OK:
                    return None
            except SipParseError:
                pass
        (challenge,) = self._digest.challenges(time.time())
        return build_response(
            req, 401, to_tag=new_tag(), extra=[("WWW-Authenticate", challenge.header_value())]
        )

    def _invite(self, req: Request) -> Response:
        if self._digest is not None:
            refusal = self._challenge(req)
            if refusal is not None:
                return refusal
        tag = new_tag()
        self.dialog = Dialog.from_uas(req, tag)
        host, port = self._local
        body = self._encode(RequestSystemStatusResponse(systemStatus=SystemStatus.NORMAL))
        return build_response(
            req,
            200,
            to_tag=tag,
            body=body,
            extra=[
                (
                    "Contact",
                    f"<sip:{self.mac}@{host}:{port};transport={self._transport().lower()}>",
                ),
                *CSTA_HEADERS,
            ],
        )

    def _info(self, req: Request) -> Response | None:
        if self.dialog is None or req.to.tag != self.dialog.local_tag:
            return build_response(req, 481)
        if self._digest is not None and self.config.csta_challenge >= 2:
            refusal = self._challenge(req)
            if refusal is not None:
                return refusal
        msg = decode(req.body)
        self.received.append(msg)
        if isinstance(msg, MakeCall) and self._silent_make_call():
            log.info("%s: MakeCall while a call rings, not answered (as Yealink)", self.mac)
            return None
        answer = self._answer(msg)
        response = build_response(req, 200, extra=CSTA_HEADERS, body=self._encode(answer))
        if self.config.events_first:
            self._spawn(self._answer_after_events(response))
            return None
        return response

    async def _answer_after_events(self, response: Response) -> None:
        # The event INFOs were spawned first and are written as they start.
        await asyncio.sleep(0)
        self._send(response)

    def _silent_make_call(self) -> bool:
        """Yealink leaves a MakeCall unanswered while another call rings at it
        (protocol notes, Yealink quirks)."""
        return (
            self.config.vendor == "yealink"
            and self.switch is not None
            and self.switch.rings_at(self)
        )

    def _encode(self, msg: CstaMessage | CSTAErrorCode) -> bytes:
        # snom and Yealink answer in ed5 whatever they are asked in.
        if self.config.vendor == "yealink" and isinstance(msg, CstaMessage):
            if msg.root() in YEALINK_MISSPELLED:
                return encode(msg, 5, namespace=YEALINK_NAMESPACE)
            if isinstance(msg, GetDoNotDisturbResponse):
                return encode(msg, 3)
        return encode(msg, 5)

    # -- CSTA -------------------------------------------------------------------------------------

    def _answer(
        self, msg: CstaMessage | CSTAErrorCode | DecodeError
    ) -> CstaMessage | CSTAErrorCode:
        if isinstance(msg, DecodeError | CSTAErrorCode):
            return CSTAErrorCode.of(ErrorCategory.UNSPECIFIED)
        name = msg.root()
        if refuses(self.config.vendor, name):
            return CSTAErrorCode.operation("serviceNotSupported")
        if name in self.config.refuse:
            return CSTAErrorCode.operation("serviceNotSupported")
        if isinstance(msg, RequestSystemStatus):
            return RequestSystemStatusResponse(systemStatus=SystemStatus.NORMAL)
        if isinstance(msg, SystemRegister):
            reg_id = SYS_STAT_REGISTER_IDS.get(self.config.vendor, "1")
            return SystemRegisterResponse(sysStatRegisterID=reg_id)
        if isinstance(msg, SystemRegisterCancel):
            return SystemRegisterCancelResponse()
        if isinstance(msg, GetSwitchingFunctionDevices):
            ref = SERVICE_CROSS_REF_IDS.get(self.config.vendor, secrets.token_hex(16).upper())
            self._spawn(self._send_devices(ref))
            return GetSwitchingFunctionDevicesResponse(serviceCrossRefID=ref)
        if isinstance(msg, MonitorStart):
            device = msg.monitorObject.deviceObject
            if device is None or not self.owns(device):
                return CSTAErrorCode.operation("invalidMonitorObject")
            ref = str(self.config.identities.index(self.identity_of(device)))
            self.monitors[ref] = device.value
            return MonitorStartResponse(monitorCrossRefID=ref, monitorExistingCalls=True)
        if isinstance(msg, MonitorStop):
            if self.monitors.pop(msg.monitorCrossRefID, None) is None:
                return CSTAErrorCode.operation("invalidMonitorCrossReferenceID")
            return MonitorStopResponse()
        if isinstance(msg, GetDoNotDisturb):
            return GetDoNotDisturbResponse(doNotDisturbOn=self.dnd)
        if isinstance(msg, SetDoNotDisturb):
            self.set_dnd(msg.doNotDisturbOn)
            return SetDoNotDisturbResponse()
        if isinstance(msg, GetForwarding):
            return GetForwardingResponse(
                forwardingList=[
                    ForwardListItem(
                        forwardingType=kind,
                        forwardStatus=True,
                        forwardDN=DeviceID(dn),
                        ringCount=rings,
                    )
                    for kind, (dn, rings) in self.forwarding.items()
                ]
            )
        if isinstance(msg, SetForwarding):
            kind = msg.forwardingType or ForwardingType.FORWARD_IMMEDIATE
            if msg.activateForward and msg.forwardDN is None:
                return CSTAErrorCode.operation("invalidForwardingDestination")
            self.set_forwarding(
                kind,
                msg.forwardDN.value if msg.forwardDN and msg.activateForward else None,
                msg.ringCount,
            )
            return SetForwardingResponse()
        if isinstance(msg, GetMessageWaitingIndicator):
            return GetMessageWaitingIndicatorResponse(messageWaitingOn=self.message_waiting)
        if isinstance(msg, SetMessageWaitingIndicator):
            self.set_message_waiting(msg.messageWaitingOn)
            return SetMessageWaitingIndicatorResponse()
        if isinstance(msg, SnapshotDevice) and self.switch is None:
            return SnapshotDeviceResponse(crossRefIDorSnapshotData=SnapshotDeviceData())
        if self.switch is not None:
            answer = self.switch.handle(self, msg)
            if answer is not None:
                return answer
        # Beyond the manual's tables (ReconnectCall, SingleStepConferenceCall…):
        # answered as a phone without the service answers.
        log.info("%s: %s is not simulated; answered serviceNotSupported", self.mac, name)
        return CSTAErrorCode.operation("serviceNotSupported")

    # -- by hand: what a person does at the phone -------------------------------------------

    def set_dnd(self, on: bool) -> None:
        """DND key: the phone's monitors hear of it (DoNotDisturb event)."""
        self.dnd = on
        for line in self.config.identities:
            self.event(
                DoNotDisturbEvent(
                    monitorCrossRefID="", device=EventDevice.of(line), doNotDisturbOn=on
                ),
                line,
            )

    def set_forwarding(
        self, kind: ForwardingType, destination: str | None, rings: int | None = None
    ) -> None:
        """Forwarding set (destination) or cleared (None) in the phone's menu."""
        if destination:
            self.forwarding[kind] = (destination, rings)
        else:
            self.forwarding.pop(kind, None)
        for line in self.config.identities:
            self.event(
                ForwardingEvent(
                    monitorCrossRefID="",
                    device=EventDevice.of(line),
                    forwardingType=kind,
                    forwardStatus=destination is not None,
                    forwardTo=DeviceID(destination) if destination else None,
                    ringCount=rings,
                ),
                line,
            )

    def calls(self) -> list[tuple[str, str]]:
        """This phone's calls: (callID, state)."""
        if self.switch is None:
            return []
        return [(leg.call_id, leg.state.value) for leg in self.switch.legs_of(self)]

    def _pick(self, *states: str, call_id: str | None = None) -> Leg | None:
        if self.switch is None:
            return None
        for leg in self.switch.legs_of(self):
            if (call_id is None or leg.call_id == call_id) and leg.state.value in states:
                return leg
        return None

    def dial(self, number: str, line: str | None = None) -> str | None:
        """Lift the handset and dial: the callID, or None when it failed."""
        if self.switch is None:
            return None
        answer = self.switch.make_call(
            self, line or self.config.identities[0], number, by_hand=True
        )
        return answer.callingDevice.callID if isinstance(answer, MakeCallResponse) else None

    def answer(self, call_id: str | None = None) -> bool:
        leg = self._pick("alerting", call_id=call_id)
        if leg is None or self.switch is None:
            return False
        self.switch.answer(leg)
        return True

    def hang_up(self, call_id: str | None = None) -> bool:
        leg = self._pick("connected", "initiated", "alerting", "fail", call_id=call_id)
        if leg is None or self.switch is None:
            return False
        self.switch.clear(leg)
        return True

    def hold(self, call_id: str | None = None) -> bool:
        leg = self._pick("connected", call_id=call_id)
        if leg is None or self.switch is None:
            return False
        self.switch.hold(leg)
        return True

    def retrieve(self, call_id: str | None = None) -> bool:
        leg = self._pick("hold", call_id=call_id)
        if leg is None or self.switch is None:
            return False
        self.switch.retrieve(leg)
        return True

    def transfer(self) -> bool:
        """Transfer key with one call held and one active: the two are joined."""
        held, active = self._pick("hold"), self._pick("connected")
        if held is None or active is None or self.switch is None:
            return False
        self.switch.transfer(held, active)
        return True

    def set_identities(self, identities: list[str]) -> None:
        """An identity (line) was added or removed on the phone: it tells the
        server with SwFunctionDevicesChanged, as Yealink does on account
        login/logout; the server asks for the list again.  Monitors on a line
        that is gone end in the phone."""
        gone = {DeviceID(i).key for i in self.config.identities} - {
            DeviceID(i).key for i in identities
        }
        self.config.identities = list(identities)
        self.monitors = {
            ref: dev for ref, dev in self.monitors.items() if DeviceID(dev).key not in gone
        }
        if self.switch is not None:
            self.switch.attach(self)
        if self.dialog is not None:
            reg_id = SYS_STAT_REGISTER_IDS.get(self.config.vendor)
            body = self._encode(SwFunctionDevicesChanged(sysStatRegisterID=reg_id))
            self._spawn(self._quietly(self._dialog_request("INFO", body)))

    def end_monitor(self, xref: str) -> None:
        """The phone ends a monitor itself (its line was reconfigured): it
        sends MonitorStop to the server, as ECMA-269 lets the switching
        function do."""
        if self.monitors.pop(xref, None) is not None and self.dialog is not None:
            body = self._encode(MonitorStop(monitorCrossRefID=xref))
            self._spawn(self._quietly(self._dialog_request("INFO", body)))

    def abort_registration(self) -> None:
        """The phone drops the server's SystemRegister (SystemRegisterAbort)."""
        reg_id = SYS_STAT_REGISTER_IDS.get(self.config.vendor, "1")
        if self.dialog is not None:
            body = self._encode(SystemRegisterAbort(sysStatRegisterID=reg_id))
            self._spawn(self._quietly(self._dialog_request("INFO", body)))

    def set_message_waiting(self, on: bool) -> None:
        """The lamp goes on or off (a voicemail system or a client set it);
        every line's monitors hear of it."""
        self.message_waiting = on
        for line in self.config.identities:
            self.event(
                MessageWaitingEvent(
                    monitorCrossRefID="",
                    targetDevice=EventDevice.of(line),
                    messageWaitingOn=on,
                ),
                line,
            )

    def identity_of(self, device: DeviceID) -> str:
        for identity in self.config.identities:
            if DeviceID(identity).key == device.key:
                return identity
        raise KeyError(device.value)

    def owns(self, device: DeviceID) -> bool:
        return any(DeviceID(i).key == device.key for i in self.config.identities)

    def event(self, event: CstaMessage, line: str, *, wait: bool = True) -> None:
        """Send an event to every monitor the server started on ``line`` (none:
        the phone keeps it to itself, as real phones do).  ``wait=False``
        (load generation): the INFO is written and its 200 OK not awaited,
        nor the event kept in ``events_sent``."""
        for ref, monitored in self.monitors.items():
            if DeviceID(monitored).key == DeviceID(line).key:
                stamped = dataclasses.replace(event, monitorCrossRefID=ref)  # type: ignore[call-arg]
                if self.dialog is None:
                    continue
                request = self._dialog_request("INFO", self._encode(stamped))
                self.events_count += 1
                if wait:
                    self.events_sent.append(stamped)
                    self._spawn(self._quietly(request))
                else:
                    self._send(request)

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # asyncio keeps only weak references to tasks: hold each until done
        task = asyncio.get_running_loop().create_task(work)
        self._background.add(task)
        task.add_done_callback(self._background.discard)

    async def _quietly(self, request: Request) -> None:
        with contextlib.suppress(TimeoutError, ConnectionError):
            await self._transact(request)

    async def _send_devices(self, ref: str) -> None:
        """After the response, the phone INFOs its identities (Yealink does at once)."""
        await asyncio.sleep(0)
        devices = [
            SwitchingFunctionDevice(deviceID=DeviceID(i), deviceCategory=DeviceCategory.STATION)
            for i in self.config.identities
        ]
        body = self._encode(
            SwitchingFunctionDevices(serviceCrossRefID=ref, lastSegment=True, deviceList=devices)
        )
        with contextlib.suppress(TimeoutError):
            await self._transact(self._dialog_request("INFO", body))

    def _dialog_request(self, method: str, body: bytes) -> Request:
        assert self.dialog is not None
        host, port = self._local
        extra = CSTA_HEADERS if body else []
        return self.dialog.create_request(
            method,
            via_host=f"{host}:{port}",
            transport=self._transport(),
            contact=f"<sip:{self.mac}@{host}:{port}>",
            extra=extra,
            body=body,
        )
