"""uaCSTA over SIP for clients (the manual's client connection, as the ECSTA
driver, TR/87 and Microsoft RCC clients use it).

A client INVITEs the server with RequestSystemStatus in the body, answering
our digest challenge with its client login; the 200 OK carries the
RequestSystemStatusResponse and opens the dialog.  Then, exactly as with
phones: the client's CSTA requests travel in INFO and the answers in their
200 OK; events go to the client as INFO requests in the dialog, in the
edition the client writes in.  BYE or a lost connection ends the client's
session and its monitors.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import secrets
import time

from ..core.clients import ClientClosed, ClientSession, FaceKind
from ..core.switching import SwitchingFunction
from ..csta import model as m
from ..csta.codec import DecodeError, decode, encode, sniff_edition
from ..csta.errors import CSTAErrorCode
from ..csta.types import SystemStatus
from ..logs import log_tag
from ..net.connection import SipConnection
from ..sip.dialog import Dialog
from ..sip.digest import DigestServer, Verdict, parse_credentials
from ..sip.errors import SipParseError
from ..sip.message import Request, Response, build_response
from ..sip.uas import UasPolicy, precheck_request
from .logins import ClientLogins

log = logging.getLogger("uacsta.clients")
CSTA_HEADERS = [
    ("Content-Type", "application/csta+xml"),
    ("Content-Disposition", "signal;handling=required"),
]
ALLOW = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"
SERVER_HEADER = ("Server", "uacsta")
POLICY = UasPolicy(allow=tuple(ALLOW.split(", ")))
# INFOs with events the client has not answered yet; beyond this it is too
# slow (or no longer there) and its session ends.
MAX_UNANSWERED = 1000


class SipClientDialog:
    """One client's uaCSTA dialog."""

    def __init__(
        self, conn: SipConnection, dialog: Dialog, client: ClientSession, edition: int
    ) -> None:
        self.conn = conn
        self.dialog = dialog
        self.client = client
        self.edition = edition
        self.unanswered = 0
        self.writer: asyncio.Task[None] | None = None

    def _local(self) -> str:
        host, port = self.conn.local_address()
        return f"{host}:{port}"

    def contact(self) -> str:
        return f"<sip:uacsta@{self._local()};transport={self.conn.transport_name.lower()}>"

    async def write_events(self) -> None:
        try:
            async for item in self.client.events():
                if self.conn.closed:
                    return
                if self.unanswered >= MAX_UNANSWERED:
                    self.client.close(f"too slow: {self.unanswered} event INFOs unanswered")
                    continue
                info = self.dialog.create_request(
                    "INFO",
                    via_host=self._local(),
                    transport=self.conn.transport_name,
                    contact=self.contact(),
                    extra=CSTA_HEADERS,
                    body=item.payload if isinstance(item.payload, bytes) else item.payload.encode(),
                )
                self.unanswered += 1
                self.conn.send(info)
        except ClientClosed:
            # Too slow or logged out elsewhere: end the dialog as a phone would.
            bye = self.dialog.create_request(
                "BYE", via_host=self._local(), transport=self.conn.transport_name
            )
            self.conn.send(bye)


class SipClientFace:
    def __init__(self, sf: SwitchingFunction, logins: ClientLogins, digest: DigestServer) -> None:
        self.sf = sf
        self.logins = logins
        self.digest = digest
        self.dialogs: dict[str, SipClientDialog] = {}  # by Call-ID
        self._tasks: set[asyncio.Task[None]] = set()

    # -- the SipService callbacks ------------------------------------------------------

    def handle(self, conn: SipConnection, msg: Request | Response) -> None:
        token = log_tag.set(conn.log_tag)
        try:
            if log.isEnabledFor(logging.DEBUG):
                log.debug(
                    "received from client %s:%d:\n%s",
                    conn.peer_ip,
                    conn.peer_port,
                    msg.to_bytes().decode("utf-8", "replace"),
                    extra={"tag": conn.log_tag},
                )
            if isinstance(msg, Response):
                own = self.dialogs.get(msg.call_id)
                if own is not None and msg.cseq.method == "INFO" and own.unanswered > 0:
                    own.unanswered -= 1
                return
            answer = self._request(conn, msg)
            if answer is not None:
                conn.send(answer)
        finally:
            log_tag.reset(token)

    def connection_lost(self, conn: SipConnection) -> None:
        for call_id, own in list(self.dialogs.items()):
            if own.conn is conn:
                self._end(call_id, "connection closed")

    # -- requests ----------------------------------------------------------------------------

    def _request(self, conn: SipConnection, req: Request) -> Response | None:
        own = self.dialogs.get(req.call_id)
        if req.to.tag is not None:
            if own is None or not own.dialog.matches(req, incoming_request=True):
                if req.method == "ACK":
                    return None
                return build_response(req, 481, extra=[SERVER_HEADER])
            return self._in_dialog(own, req)
        to_tag = secrets.token_hex(6)
        refusal = precheck_request(req, POLICY, to_tag)
        if refusal is not None:
            return refusal
        if req.method == "INVITE":
            return self._invite(conn, req, to_tag)
        if req.method == "OPTIONS":
            return build_response(
                req,
                200,
                to_tag=to_tag,
                extra=[("Allow", ALLOW), ("Accept", "application/csta+xml"), SERVER_HEADER],
            )
        if req.method == "ACK":
            return None
        if req.method in ("INFO", "BYE", "CANCEL"):
            return build_response(req, 481, to_tag=to_tag, extra=[SERVER_HEADER])
        return build_response(req, 405, to_tag=to_tag, extra=[("Allow", ALLOW), SERVER_HEADER])

    def _challenge(self, req: Request, to_tag: str, stale: bool = False) -> Response:
        extra = [
            ("WWW-Authenticate", c.header_value())
            for c in self.digest.challenges(time.time(), stale=stale)
        ]
        return build_response(req, 401, to_tag=to_tag, extra=[*extra, SERVER_HEADER])

    def _invite(self, conn: SipConnection, req: Request, to_tag: str) -> Response:
        value = next(
            (v for v in req.headers.get_all("Authorization") if v.lower().startswith("digest")),
            None,
        )
        if value is None:
            return self._challenge(req, to_tag)
        try:
            creds = parse_credentials(value)
        except SipParseError as exc:
            return build_response(req, 400, f"Bad Authorization: {exc.reason}", to_tag=to_tag)
        name = creds.username
        if self.logins.locked(name, conn.peer_ip):
            return build_response(req, 403, "Too many failed attempts", to_tag=to_tag)
        login = self.logins.get(name)
        algorithm = creds.algorithm.removesuffix("-sess")
        ha1 = login.ha1.get(algorithm) if login is not None else None
        verdict = (
            self.digest.verify(creds, req.method, ha1, time.time())
            if ha1 is not None
            else Verdict.BAD_RESPONSE
        )
        if verdict is Verdict.STALE:
            return self._challenge(req, to_tag, stale=True)
        if verdict is not Verdict.OK or login is None:
            if verdict is Verdict.BAD_RESPONSE:
                self.logins.failed(name, conn.peer_ip)
            return self._challenge(req, to_tag)
        self.logins.lockout.succeeded(conn.peer_ip, name)
        request = decode(req.body) if req.body else m.RequestSystemStatus()
        if not isinstance(request, m.RequestSystemStatus):
            return build_response(
                req, 488, "The uaCSTA INVITE carries RequestSystemStatus", to_tag=to_tag
            )
        try:
            dialog = Dialog.from_uas(req, to_tag)
        except SipParseError as exc:
            return build_response(req, 400, exc.reason, to_tag=to_tag)
        edition = sniff_edition(req.body) if req.body else 5
        client = self.sf.attach(
            name,
            FaceKind.SIP,
            login.rights,
            peer=f"{conn.peer_ip}:{conn.peer_port}",
            encode=lambda event: encode(event, edition),
        )
        conn.tag = client.tag
        own = SipClientDialog(conn, dialog, client, edition)
        self.dialogs[req.call_id] = own
        own.writer = asyncio.get_running_loop().create_task(own.write_events())
        body = encode(m.RequestSystemStatusResponse(systemStatus=SystemStatus.NORMAL), edition)
        return build_response(
            req,
            200,
            to_tag=to_tag,
            extra=[("Contact", own.contact()), ("Allow", ALLOW), *CSTA_HEADERS, SERVER_HEADER],
            body=body,
        )

    def _in_dialog(self, own: SipClientDialog, req: Request) -> Response | None:
        if req.method == "ACK":
            return None
        if not own.dialog.accept_remote_cseq(req):
            return build_response(req, 500, "CSeq out of order")
        if req.method == "BYE":
            self._end(req.call_id, "the client ended the dialog (BYE)")
            return build_response(req, 200)
        if req.method != "INFO":
            return build_response(req, 405, extra=[("Allow", ALLOW)])
        msg = decode(req.body)
        if isinstance(msg, DecodeError):
            log.info(
                "bad CSTA from client %s: %s", own.client.tag, msg, extra={"tag": own.client.tag}
            )
            return build_response(req, 400, f"Bad CSTA body: {msg}"[:100])
        if isinstance(msg, CSTAErrorCode) or msg.KIND is not m.Kind.REQUEST:
            return build_response(req, 200)  # a client's answer to our INFO
        task = asyncio.get_running_loop().create_task(self._answer(own, req, msg))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return None

    async def _answer(self, own: SipClientDialog, req: Request, msg: m.CstaMessage) -> None:
        result = await self.sf.request(own.client, msg)
        body = encode(result, own.edition)
        own.conn.send(build_response(req, 200, extra=CSTA_HEADERS, body=body))
        own.client.release()

    def _end(self, call_id: str, reason: str) -> None:
        own = self.dialogs.pop(call_id, None)
        if own is None:
            return
        if own.writer is not None:
            own.writer.cancel()
        self.sf.logout(own.client, reason)

    async def close(self) -> None:
        for call_id in list(self.dialogs):
            self._end(call_id, "client service stopped")
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
