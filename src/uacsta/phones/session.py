"""The permanent uaCSTA dialog with one phone (the manual's 4.1.1).

After the phone registered, the server INVITEs it over the phone's own
connection with RequestSystemStatus, ACKs the 200 OK, subscribes to
configuration changes (SystemRegister, where the vendor has it), learns the
phone's identities (GetSwitchingFunctionDevices, then the phone's
SwitchingFunctionDevices segments) and keeps the dialog alive with
RequestSystemStatus every *keep connection alive time*.  CSTA requests travel in
INFO, their answers in the 200 OK; the phone's events arrive as INFO.
"""

from __future__ import annotations

import asyncio
import enum
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..csta.codec import DecodeError, decode, encode
from ..csta.errors import CSTAErrorCode
from ..csta.model import (
    CstaMessage,
    GetSwitchingFunctionDevices,
    GetSwitchingFunctionDevicesResponse,
    Kind,
    RequestSystemStatus,
    RequestSystemStatusResponse,
    RequestTypes,
    SwFunctionDevicesChanged,
    SwitchingFunctionDevices,
    SwitchingFunctionDevicesResponse,
    SystemRegister,
    SystemRegisterResponse,
)
from ..csta.types import DeviceID
from ..net.connection import SipConnection
from ..sip.dialog import Dialog, new_call_id, new_tag
from ..sip.digest import answer_challenge
from ..sip.headers import Headers
from ..sip.message import Request, Response, build_response
from ..sip.transaction import TransactionTable, new_branch
from .registrar import Binding
from .vendors import VendorProfile

log = logging.getLogger("uacsta.session")
CSTA_TYPE = "application/csta+xml"
CSTA_HEADERS = [("Content-Type", CSTA_TYPE), ("Content-Disposition", "signal;handling=required")]
ALLOW = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"

CstaAnswer = CstaMessage | CSTAErrorCode | DecodeError


class SessionError(Exception):
    """The phone did not answer, refused, or the dialog is gone."""


class SessionState(enum.Enum):
    INVITING = "inviting"
    ESTABLISHING = "establishing"
    UP = "up"
    ENDED = "ended"


@dataclass
class SessionSettings:
    keepalive: float = 60.0
    request_timeout: float = 5.0
    identity_timeout: float = 3.0  # wait for SwitchingFunctionDevices segments


@dataclass
class PhoneSession:
    binding: Binding
    profile: VendorProfile
    transactions: TransactionTable
    password: Callable[[], str]
    settings: SessionSettings = field(default_factory=SessionSettings)
    on_change: Callable[[PhoneSession], None] = lambda session: None
    # The phone's events (monitor events, in the order it sent them).
    on_event: Callable[[PhoneSession, CstaMessage], None] = lambda session, event: None
    state: SessionState = SessionState.INVITING
    dialog: Dialog | None = None
    identities: list[DeviceID] = field(default_factory=list)
    sys_stat_register_id: str | None = None
    ended_because: str = ""
    _pending: dict[tuple[str, ...], asyncio.Future[Response]] = field(default_factory=dict)
    _background: set[asyncio.Task[None]] = field(default_factory=set)
    _segments: list[DeviceID] = field(default_factory=list)
    _identities_done: asyncio.Event = field(default_factory=asyncio.Event)
    # The phone's digest challenge (snom csta_challenge), answered on every request.
    _auth_header: str = "Authorization"
    _challenge: str | None = None
    _nc: int = 0

    @property
    def mac(self) -> str:
        return self.binding.mac

    @property
    def conn(self) -> SipConnection:
        conn = self.binding.connection
        assert isinstance(conn, SipConnection)
        return conn

    # -- addressing ------------------------------------------------------------------

    def _local(self) -> str:
        host, port = self.conn.local_address()
        return f"{host}:{port}"

    def _contact(self) -> str:
        return f"<sip:uacsta@{self._local()};transport={self.conn.transport_name.lower()}>"

    # -- life ---------------------------------------------------------------------------

    async def run(self) -> None:
        try:
            await self._invite()
            self._set(SessionState.ESTABLISHING)
            await self._register_for_changes()
            await self._learn_identities()
            self._set(SessionState.UP)
            log.info(
                "uaCSTA dialog with %s up; identities %s",
                self.mac,
                ", ".join(d.value for d in self.identities) or "none",
                extra={"tag": self.mac},
            )
            while True:
                # Spread over the last tenth of the interval: phones that came
                # up together (a server start, a mass reboot) would otherwise
                # be asked all at once, every interval.
                await asyncio.sleep(self.settings.keepalive * random.uniform(0.9, 1.0))
                answer = await self.request(RequestSystemStatus())
                if not isinstance(answer, RequestSystemStatusResponse):
                    log.warning(
                        "keep-alive of %s answered %s", self.mac, answer, extra={"tag": self.mac}
                    )
        except SessionError as exc:
            self.end(str(exc))
        except asyncio.CancelledError:
            self.end(self.ended_because or "stopped")
            raise

    def end(self, why: str) -> None:
        if self.state is SessionState.ENDED:
            return
        self.ended_because = why
        for fut in self._pending.values():
            if not fut.done():
                fut.set_exception(SessionError(f"dialog ended: {why}"))
        self._pending.clear()
        log.info("uaCSTA dialog with %s ended: %s", self.mac, why, extra={"tag": self.mac})
        self._set(SessionState.ENDED)

    def _set(self, state: SessionState) -> None:
        self.state = state
        self.on_change(self)

    # -- the INVITE -------------------------------------------------------------------------

    async def _invite(self) -> None:
        call_id = new_call_id(self.conn.local_address()[0])
        from_tag = new_tag()
        body = encode(RequestSystemStatus(), self.profile.edition)
        cseq = 1
        response: Response | None = None
        for _ in range(2):  # once more after a digest challenge
            invite = self._build_invite(call_id, from_tag, cseq, body)
            response = await self._send(invite)
            if response.status in (401, 407) and self._challenge is None:
                self._answer_challenge(response)
                cseq += 1
                continue
            break
        assert response is not None
        if response.status >= 300:
            raise SessionError(f"INVITE refused: {response.status} {response.reason}")
        self.dialog = Dialog.from_uac(invite, response)
        ack = self.dialog.create_request(
            "ACK", via_host=self._local(), transport=self.conn.transport_name, cseq=cseq
        )
        self._authorize(ack)
        self.conn.send(ack)
        answer = decode(response.body) if response.body else None
        if not isinstance(answer, RequestSystemStatusResponse):
            # a 200 OK without a status: ask again in the dialog
            answer = await self.request(RequestSystemStatus())
        if isinstance(answer, RequestSystemStatusResponse):
            log.info(
                "phone %s system status %s", self.mac, answer.systemStatus, extra={"tag": self.mac}
            )

    def _build_invite(self, call_id: str, from_tag: str, cseq: int, body: bytes) -> Request:
        h = Headers()
        h.add(
            "Via", f"SIP/2.0/{self.conn.transport_name} {self._local()};branch={new_branch()};rport"
        )
        h.add("Max-Forwards", "70")
        h.add("From", f"<sip:uacsta@{self._local()}>;tag={from_tag}")
        h.add("To", f"<{self.binding.aor}>")
        h.add("Call-ID", call_id)
        h.add("CSeq", f"{cseq} INVITE")
        h.add("Contact", self._contact())
        h.add("Allow", ALLOW)
        h.add("Accept", CSTA_TYPE)
        for name, value in CSTA_HEADERS:
            h.add(name, value)
        req = Request(headers=h, body=body, method="INVITE", uri=self.binding.contact)
        self._authorize(req)
        return req

    def _answer_challenge(self, response: Response) -> None:
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        challenge = response.headers.get(name)
        if not challenge:
            raise SessionError(f"{response.status} without {name}")
        self._auth_header = "Authorization" if response.status == 401 else "Proxy-Authorization"
        self._challenge = challenge
        self._nc = 0

    def _authorize(self, req: Request) -> None:
        """Answer the phone's digest challenge (snom csta_challenge) on every
        request of the dialog, with a growing nonce count."""
        if self._challenge is None:
            return
        self._nc += 1
        req.headers.set(
            self._auth_header,
            answer_challenge(
                self._challenge,
                method=req.method,
                uri=req.uri,
                username=self.mac,
                password=self.password(),
                nc=self._nc,
            ),
        )

    # -- requests in the dialog -------------------------------------------------------------

    async def request(self, msg: CstaMessage) -> CstaAnswer:
        """Send a CSTA request and return the phone's answer (its 200 OK body)."""
        if self.dialog is None or self.state is SessionState.ENDED:
            raise SessionError("no uaCSTA dialog with the phone")
        body = encode(msg, self.profile.edition)
        for attempt in range(2):
            info = self.dialog.create_request(
                "INFO",
                via_host=self._local(),
                transport=self.conn.transport_name,
                contact=self._contact(),
                extra=CSTA_HEADERS,
                body=body,
            )
            self._authorize(info)
            response = await self._send(info)
            if response.status in (401, 407) and attempt == 0:
                self._answer_challenge(response)
                continue
            break
        if response.status == 481:
            self.end("the phone no longer knows the dialog (481)")
            raise SessionError("dialog gone (481)")
        if response.status >= 300:
            raise SessionError(f"{msg.root()} refused: {response.status} {response.reason}")
        if not response.body:
            raise SessionError(f"{msg.root()}: 200 OK without a CSTA answer")
        return decode(response.body)

    async def _send(self, req: Request) -> Response:
        if self.conn.closed:
            raise SessionError("the phone's connection is closed")
        loop = asyncio.get_running_loop()
        tx = self.transactions.new_client(req, loop.time())
        tx.connection_id = self.conn
        fut: asyncio.Future[Response] = loop.create_future()
        self._pending[tx.key] = fut
        self.conn.send(req)
        try:
            return await asyncio.wait_for(fut, self.settings.request_timeout)
        except TimeoutError:
            raise SessionError(
                f"no answer to {req.method} within {self.settings.request_timeout:g} s"
            ) from None
        finally:
            self._pending.pop(tx.key, None)

    def complete(self, key: tuple[str, ...], response: Response) -> bool:
        """The final response to one of our requests; False if not ours."""
        fut = self._pending.get(key)
        if fut is None:
            return False
        if not fut.done():
            fut.set_result(response)
        return True

    # -- requests from the phone ------------------------------------------------------------

    def request_received(self, req: Request) -> Response | None:
        assert self.dialog is not None
        if req.method == "ACK":
            return None
        if not self.dialog.accept_remote_cseq(req):
            return build_response(req, 500, "CSeq out of order")
        if req.method == "BYE":
            self.end("the phone ended the dialog (BYE)")
            return build_response(req, 200)
        if req.method != "INFO":
            return build_response(req, 405, extra=[("Allow", ALLOW)])
        msg = decode(req.body)
        if isinstance(msg, DecodeError):
            log.info("bad CSTA from %s: %s", self.mac, msg, extra={"tag": self.mac})
            return build_response(req, 400, f"Bad CSTA body: {msg}"[:100])
        if isinstance(msg, SwitchingFunctionDevices):
            self._segments.extend(d.deviceID for d in msg.deviceList)
            if msg.lastSegment is not False:
                self.identities, self._segments = self._segments, []
                self._identities_done.set()
                self.on_change(self)
            body = encode(SwitchingFunctionDevicesResponse(), self.profile.edition)
            return build_response(req, 200, extra=CSTA_HEADERS, body=body)
        if isinstance(msg, SwFunctionDevicesChanged):
            if self.state is SessionState.UP:
                task = asyncio.get_running_loop().create_task(self._reload_identities())
                # asyncio keeps only weak references to tasks: hold it until done
                self._background.add(task)
                task.add_done_callback(self._background.discard)
        elif isinstance(msg, CstaMessage) and msg.KIND is Kind.EVENT:
            self.on_event(self, msg)
        return build_response(req, 200)

    # -- capability exchange --------------------------------------------------------------------

    async def _register_for_changes(self) -> None:
        if not self.profile.supports("SystemRegister"):
            return
        answer = await self.request(
            SystemRegister(requestTypes=RequestTypes(switchingFunctionDevicesChanged=True))
        )
        if isinstance(answer, SystemRegisterResponse):
            self.sys_stat_register_id = answer.sysStatRegisterID
        else:
            log.info("SystemRegister at %s: %s", self.mac, answer, extra={"tag": self.mac})

    async def _learn_identities(self) -> None:
        self._identities_done.clear()
        answer = await self.request(GetSwitchingFunctionDevices())
        if not isinstance(answer, GetSwitchingFunctionDevicesResponse):
            log.info(
                "GetSwitchingFunctionDevices at %s: %s", self.mac, answer, extra={"tag": self.mac}
            )
        try:
            await asyncio.wait_for(self._identities_done.wait(), self.settings.identity_timeout)
        except TimeoutError:
            # Not every phone sends the list: its registered identity stands for it.
            self.identities = [DeviceID(self.binding.aor)]

    async def _reload_identities(self) -> None:
        try:
            await self._learn_identities()
            log.info(
                "identities of %s now %s",
                self.mac,
                ", ".join(d.value for d in self.identities),
                extra={"tag": self.mac},
            )
        except SessionError as exc:
            self.end(str(exc))
