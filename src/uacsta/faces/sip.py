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
from collections.abc import Callable, Coroutine
from typing import Any

from ..core.client_session import ClientClosed, ClientSession, FaceKind
from ..core.switching import SwitchingFunction
from ..csta import model as m
from ..csta.codec import CSTA_TYPE, decode, encode
from ..dialog import (
    DIALOG_ALLOW,
    DialogEvent,
    DialogTimers,
    Ended,
    PeerRequest,
    UacstaDialog,
)
from ..logs import log_tag
from ..net.connection import SipConnection
from ..net.dialog_shell import DialogShell
from ..sip.digest import DigestServer, Verdict, parse_credentials
from ..sip.errors import SipParseError
from ..sip.message import Request, Response, build_response
from ..sip.uas import UasPolicy, precheck_request
from .logins import ClientLogins

log = logging.getLogger("uacsta.faces")
SERVER_HEADER = ("Server", "uacsta")
POLICY = UasPolicy(allow=tuple(DIALOG_ALLOW.split(", ")))


class SipClientDialog(DialogShell):
    """One client's uaCSTA dialog: the sans-IO core's client role, its events
    written as INFOs with flow control, its requests answered by the
    switching function."""

    def __init__(
        self, face: SipClientFace, conn: SipConnection, core: UacstaDialog, client: ClientSession
    ) -> None:
        super().__init__(core, conn, client.tag)
        self.face = face
        self.client = client
        self.writer: asyncio.Task[None] | None = None

    async def write_events(self) -> None:
        try:
            async for item in self.client.events():
                if self.conn.closed:
                    return
                payload = item.payload if isinstance(item.payload, bytes) else item.payload.encode()
                if not self.core.send_event(payload, self.now()):
                    self.client.close(f"too slow: {self.core.unanswered} event INFOs unanswered")
                    continue
                self.pump()
        except ClientClosed as exc:
            # Too slow or logged out elsewhere: end the dialog as a phone would.
            self.core.close(self.now(), str(exc))
            self.pump()

    def dispatch(self, event: DialogEvent) -> None:
        if isinstance(event, PeerRequest):
            self.face.spawn(self._answer(event.ref, event.message))
        elif isinstance(event, Ended):
            self.face.end(self.core.call_id, event.reason)

    async def _answer(self, ref: int, msg: m.CstaMessage) -> None:
        try:
            result = await self.face.sf.request(self.client, msg)
            self.core.respond(ref, result)
            self.pump()
        finally:
            self.client.release()


class SipClientFace:
    def __init__(
        self,
        sf: SwitchingFunction,
        logins: ClientLogins,
        digest: DigestServer,
        request_timeout: Callable[[], float] = lambda: 5.0,
    ) -> None:
        self.sf = sf
        self.request_timeout = request_timeout
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
                if own is not None:
                    own.receive(msg)
                return
            answer = self._request(conn, msg)
            if answer is not None:
                conn.send(answer)
        finally:
            log_tag.reset(token)

    def connection_lost(self, conn: SipConnection) -> None:
        for own in list(self.dialogs.values()):
            if own.conn is conn:
                own.core.connection_lost()
                own.pump()

    # -- requests ----------------------------------------------------------------------------

    def _request(self, conn: SipConnection, req: Request) -> Response | None:
        own = self.dialogs.get(req.call_id)
        if req.to.tag is not None:
            if own is None:
                if req.method == "ACK":
                    return None
                return build_response(req, 481, extra=[SERVER_HEADER])
            own.receive(req)  # the core answers it (481 for another dialog)
            return None
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
                extra=[("Allow", DIALOG_ALLOW), ("Accept", CSTA_TYPE), SERVER_HEADER],
            )
        if req.method == "ACK":
            return None
        if req.method in ("INFO", "BYE", "CANCEL"):
            return build_response(req, 481, to_tag=to_tag, extra=[SERVER_HEADER])
        return build_response(
            req, 405, to_tag=to_tag, extra=[("Allow", DIALOG_ALLOW), SERVER_HEADER]
        )

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
            self.digest.verify(creds, req.method, ha1, time.time(), request_uri=req.uri)
            if ha1 is not None
            else Verdict.BAD_RESPONSE
        )
        if verdict is Verdict.STALE:
            return self._challenge(req, to_tag, stale=True)
        if verdict is not Verdict.OK or login is None:
            if verdict is Verdict.BAD_RESPONSE:
                self.logins.failed(name, conn.peer_ip, "sip")
            return self._challenge(req, to_tag)
        self.logins.lockout.succeeded(conn.peer_ip, name, time.monotonic())
        request = decode(req.body) if req.body else m.RequestSystemStatus()
        if not isinstance(request, m.RequestSystemStatus):
            return build_response(
                req, 488, "The uaCSTA INVITE carries RequestSystemStatus", to_tag=to_tag
            )
        host, port = conn.local_address()
        core = UacstaDialog.towards_client(
            local=f"{host}:{port}",
            transport=conn.transport_name,
            name=name,
            timers=DialogTimers(request=self.request_timeout()),
            system_status=self.sf.system_status,
        )
        try:
            answer = core.accept(req, to_tag, asyncio.get_running_loop().time())
        except SipParseError as exc:
            return build_response(req, 400, exc.reason, to_tag=to_tag)
        answer.headers.add(*SERVER_HEADER)
        client = self.sf.attach(
            name,
            FaceKind.SIP,
            login.rights,
            peer=f"{conn.peer_ip}:{conn.peer_port}",
            encode=lambda event: encode(event, core.edition),
        )
        conn.tag = client.tag
        own = SipClientDialog(self, conn, core, client)
        self.dialogs[req.call_id] = own
        own.writer = asyncio.get_running_loop().create_task(own.write_events())
        return answer

    def spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # asyncio keeps only weak references to tasks: hold each until done
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    def end(self, call_id: str, reason: str) -> None:
        own = self.dialogs.pop(call_id, None)
        if own is None:
            return
        if own.writer is not None:
            own.writer.cancel()
        self.sf.logout(own.client, reason)

    async def close(self) -> None:
        for call_id, own in list(self.dialogs.items()):
            own.core.close(own.now(), "client service stopped")  # BYE
            own.pump()
            self.end(call_id, "client service stopped")
        for task in list(self._tasks):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
