"""CSTA XML over TCP for clients (ECMA-323 Annex J framing, ECMA-354
application sessions), as CTI servers such as OpenScape Voice offer it.

On each connection a client first starts an application session with its
client login; then its CSTA requests go in frames carrying an invokeID, each
answered in a frame with the same invokeID, and the events of its monitors
come in frames with invokeID 9999, in the ECMA-323 edition the session
agreed.  The switching function, rights and event order are those of every
other face.  The session ends with StopApplicationSession, when its timer
runs out (ApplicationSessionTerminated), or with the connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable, Coroutine
from typing import Any

from ..core.client_session import ClientClosed, ClientSession, FaceKind
from ..core.switching import SwitchingFunction
from ..csta import model as m
from ..csta.appsession import (
    APPL_SESSION_NS,
    TCP_ROOTS,
    ApplicationSession,
    Durations,
    Phase,
    ResetApplicationSessionTimer,
    StartApplicationSession,
    StopApplicationSession,
    is_session_message,
    login_of,
)
from ..csta.codec import DecodeError, EncodeError, decode, encode
from ..csta.errors import CSTAErrorCode, ErrorCategory
from ..csta.framing import EVENT_INVOKE_ID, FORMAT_XML, Frame, FramingError, encode_frame
from ..logs import log_tag
from ..net.connection import SipConnection
from .logins import ClientLogins

log = logging.getLogger("uacsta.faces")
MAX_IN_FLIGHT = 64  # requests of one connection being answered at once


class CstaConversation:
    """One connection: its application session, its client once logged in,
    the requests being answered and the writer of its events."""

    def __init__(self, face: CstaTcpFace, conn: SipConnection) -> None:
        self.face = face
        self.conn = conn
        self.session = ApplicationSession(face.durations)
        self.client: ClientSession | None = None
        self.in_flight: set[int] = set()
        self.tasks: set[asyncio.Task[None]] = set()
        self.timer: asyncio.TimerHandle | None = None

    @property
    def tag(self) -> str:
        return self.client.tag if self.client is not None else f"{self.conn.peer_ip}"

    # -- frames in ------------------------------------------------------------------------

    def receive(self, frame: Frame) -> None:
        if frame.format != FORMAT_XML:
            self.send(CSTAErrorCode.operation("invalidParameterValue"), frame.invoke_id)
            return
        msg = decode(frame.payload, TCP_ROOTS)
        if isinstance(msg, StartApplicationSession):
            log.debug("received StartApplicationSession (login not shown) from %s", self.tag)
        elif log.isEnabledFor(logging.DEBUG):
            log.debug(
                "received from %s (invokeID %d):\n%s",
                self.tag,
                frame.invoke_id,
                frame.payload.decode("utf-8", "replace"),
                extra={"tag": self.tag},
            )
        if isinstance(msg, DecodeError):
            log.info("unreadable frame from %s: %s", self.tag, msg, extra={"tag": self.tag})
            known = msg.root is None or msg.root in TCP_ROOTS
            value = "invalidParameterValue" if known else "serviceNotSupported"
            self.send(CSTAErrorCode.operation(value), frame.invoke_id)
            return
        if isinstance(msg, CSTAErrorCode) or msg.KIND is not m.Kind.REQUEST:
            self.send(CSTAErrorCode.operation("invalidParameterValue"), frame.invoke_id)
            return
        if not self.session.accepts(msg):
            self._refuse(msg, frame.invoke_id)
            return
        if isinstance(msg, StartApplicationSession):
            self._start(msg, frame.invoke_id)
        elif isinstance(msg, ResetApplicationSessionTimer):
            self.send(self.session.reset(msg, self.face.now()), frame.invoke_id)
            self._arm()
        elif isinstance(msg, StopApplicationSession):
            self.send(self.session.stop(msg), frame.invoke_id)
            self.end("application session stopped")
        else:
            self._request(msg, frame.invoke_id)

    def _refuse(self, msg: m.CstaMessage, invoke_id: int) -> None:
        if self.session.phase is Phase.AWAITING_START:
            # ECMA-354: nothing but StartApplicationSession before a session.
            log.info("%s from %s before its application session", msg.root(), self.tag)
            self.send(CSTAErrorCode.of(ErrorCategory.SECURITY, "unspecified"), invoke_id)
        else:
            self.send(CSTAErrorCode.operation("invalidParameterValue"), invoke_id)

    def _start(self, msg: StartApplicationSession, invoke_id: int) -> None:
        login = login_of(msg.applicationInfo)
        rights = (
            self.face.logins.check_password(login[0], login[1], self.conn.peer_ip, "csta")
            if login is not None
            else None
        )
        if login is None:
            log.info("StartApplicationSession from %s without a login", self.tag)
        session_id = ""
        if rights is not None and login is not None:
            client = self.client = self.face.sf.attach(
                login[0],
                FaceKind.CSTA,
                rights,
                peer=f"{self.conn.peer_ip}:{self.conn.peer_port}",
                max_queue=self.face.max_queue(),
                encode=lambda event: encode(event, self.session.edition),
            )
            session_id = client.id
        answer = self.session.start(msg, session_id, rights is not None, self.face.now())
        self.send(answer, invoke_id)
        if self.client is None or self.session.phase is not Phase.ACTIVE:
            if self.client is not None:
                self.face.sf.logout(self.client, "application session refused")
                self.client = None
            self.conn.close()
            return
        self.conn.tag = self.client.tag
        log.info(
            "application session %s of %s: ECMA-323 ed%d, %d s",
            self.client.id,
            self.client.tag,
            self.session.edition,
            self.session.duration,
            extra={"tag": self.client.tag},
        )
        self._spawn(self._write_events(self.client))
        self._arm()

    def _request(self, msg: m.CstaMessage, invoke_id: int) -> None:
        if invoke_id in self.in_flight:  # the client's invokeIDs must differ while in use
            self.send(CSTAErrorCode.operation("invalidParameterValue"), invoke_id)
            return
        if len(self.in_flight) >= MAX_IN_FLIGHT:
            self.send(CSTAErrorCode.resource("resourceBusy"), invoke_id)
            return
        self.in_flight.add(invoke_id)
        self._spawn(self._answer(msg, invoke_id))

    async def _answer(self, msg: m.CstaMessage, invoke_id: int) -> None:
        client = self.client
        assert client is not None
        try:
            answer = await self.face.sf.request(client, msg)
            self.send(answer, invoke_id)
        finally:
            self.in_flight.discard(invoke_id)
            client.release()

    # -- frames out -----------------------------------------------------------------------

    def send(self, msg: m.CstaMessage | CSTAErrorCode, invoke_id: int) -> None:
        namespace = APPL_SESSION_NS if is_session_message(msg) else None
        try:
            body = encode(msg, self.session.edition, namespace=namespace)
            data = encode_frame(body, invoke_id)
        except (EncodeError, FramingError) as exc:
            log.warning("cannot send %s to %s: %s", type(msg).__name__, self.tag, exc)
            body = encode(CSTAErrorCode.operation("generic"), self.session.edition)
            data = encode_frame(body, invoke_id)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "sent to %s (invokeID %d):\n%s",
                self.tag,
                invoke_id,
                body.decode("utf-8", "replace"),
                extra={"tag": self.tag},
            )
        self.conn.send_raw(data)

    async def _write_events(self, client: ClientSession) -> None:
        try:
            async for item in client.events():
                if self.conn.closed:
                    return
                payload = item.payload if isinstance(item.payload, bytes) else item.payload.encode()
                try:
                    self.conn.send_raw(encode_frame(payload, EVENT_INVOKE_ID))
                except FramingError as exc:
                    log.warning("event to %s not sent: %s", client.tag, exc)
        except ClientClosed as exc:
            self.end(str(exc), terminate=True)

    # -- the session timer and the end -------------------------------------------------------

    def _arm(self) -> None:
        if self.timer is not None:
            self.timer.cancel()
        deadline = self.session.deadline()
        if deadline is not None:
            self.timer = asyncio.get_running_loop().call_at(deadline, self._expire)

    def _expire(self) -> None:
        self.timer = None
        event = self.session.expire(self.face.now())
        if event is None:
            self._arm()  # reset meanwhile
            return
        log.info("application session of %s expired", self.tag, extra={"tag": self.tag})
        self.send(event, EVENT_INVOKE_ID)
        self.end("application session timer expired")

    def end(self, reason: str, *, terminate: bool = False) -> None:
        """End the session (and the connection), once."""
        if terminate:
            event = self.session.terminate(reason)
            if event is not None:
                self.send(event, EVENT_INVOKE_ID)
        self.session.phase = Phase.ENDED
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        client, self.client = self.client, None
        if client is not None:
            self.face.sf.logout(client, reason)
        self.conn.close()

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # asyncio keeps only weak references to tasks: hold each until done
        task = asyncio.get_running_loop().create_task(work)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)


class CstaTcpFace:
    """The client face of CSTA over TCP: one conversation per connection."""

    def __init__(
        self,
        sf: SwitchingFunction,
        logins: ClientLogins,
        max_queue: Callable[[], int] = lambda: 10_000,
        durations: Durations | None = None,
    ) -> None:
        self.sf = sf
        self.logins = logins
        self.max_queue = max_queue
        self.durations = durations or Durations()
        self.conversations: dict[SipConnection, CstaConversation] = {}

    @staticmethod
    def now() -> float:
        return asyncio.get_running_loop().time()

    def frame(self, conn: SipConnection, frame: Frame) -> None:
        token = log_tag.set(conn.log_tag)
        try:
            own = self.conversations.get(conn)
            if own is None:
                own = self.conversations[conn] = CstaConversation(self, conn)
            if own.session.phase is Phase.ENDED:
                return  # the connection is closing
            own.receive(frame)
        finally:
            log_tag.reset(token)

    def connection_lost(self, conn: SipConnection) -> None:
        own = self.conversations.pop(conn, None)
        if own is not None:
            own.end("connection closed")
            for task in own.tasks:
                task.cancel()

    async def close(self) -> None:
        tasks = [t for own in self.conversations.values() for t in own.tasks]
        for conn, own in list(self.conversations.items()):
            own.end("client service stopped", terminate=True)
            self.connection_lost(conn)
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
