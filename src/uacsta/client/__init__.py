"""A Python client for the uacsta JSON face.

    async with UacstaClient("ws://127.0.0.1:8090/api/v1/ws", "crm", "secret") as client:
        ref = await client.monitor("201")
        await client.make_call("201", "202")
        async for event in client.events():
            print(event)  # 7 DeliveredEvent sip:202@pbx.example call 2 (newCall)
            if event.kind == "DeliveredEvent" and event.device == "sip:202@pbx.example":
                await client.answer_call(ConnectionID(event.call, DeviceID(event.device)))

Requests take and return the typed messages of :mod:`uacsta.csta.model`; a
CSTAErrorCode answer raises :class:`CstaError`.  When the connection drops the
client reconnects and resumes after the last event it has seen, so no event
is lost or repeated; when the server cannot resume (it restarted, or the
resume window passed) :meth:`events` raises :class:`SessionLost`, and the
caller logs in again (``reconnect``) and starts its monitors anew.
"""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
from collections.abc import AsyncIterator
from dataclasses import dataclass
from types import TracebackType
from typing import Any, TypeVar

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed

from ..csta import model as m
from ..csta.callstate import subject_connection
from ..csta.errors import CSTAErrorCode
from ..csta.jsonform import from_json, to_json
from ..csta.types import ConnectionID, DeviceID, EventDevice

__all__ = ["CstaError", "Event", "LoginError", "SessionLost", "UacstaClient"]
R = TypeVar("R", bound=m.CstaMessage)


class CstaError(Exception):
    """The server or the phone answered a request with a CSTAErrorCode."""

    def __init__(self, error: CSTAErrorCode) -> None:
        super().__init__(str(error))
        self.error = error


class LoginError(Exception):
    """The server refused the login (wrong name or password, locked out)."""


class SessionLost(Exception):
    """The connection dropped and the session could not be resumed."""


@dataclass(frozen=True)
class Event:
    """One event of a monitored device: ``seq`` (its number in the session),
    the typed CSTA message in ``csta``, and the facts most code wants without
    walking it: ``kind``, ``device``, ``call`` and ``cause``."""

    seq: int
    csta: m.CstaMessage
    reference: str | None = None  # the server's call reference (one for all phones in the call)

    @property
    def kind(self) -> str:
        """The ECMA-323 name: ``"DeliveredEvent"``."""
        return self.csta.root()

    @property
    def device(self) -> str | None:
        """The device the event is about: its connection's device for a call
        event, the ``device`` of a feature event (DND, forwarding...)."""
        conn = subject_connection(self.csta)
        if conn is not None and conn.deviceID is not None:
            return conn.deviceID.value
        own = getattr(self.csta, "device", None)
        if isinstance(own, DeviceID):
            return own.value
        if isinstance(own, EventDevice) and own.device is not None:
            return own.device.value
        return None

    @property
    def call(self) -> str | None:
        """The callID of the call the event is about (as that phone numbers it)."""
        conn = subject_connection(self.csta)
        return conn.callID if conn is not None else None

    @property
    def cause(self) -> str | None:
        cause = getattr(self.csta, "cause", None)
        return cause.value if cause is not None else None

    def __str__(self) -> str:
        parts = [str(self.seq), self.kind, self.device or "-"]
        if self.call is not None:
            parts.append(f"call {self.call}")
        if self.cause is not None:
            parts.append(f"({self.cause})")
        return " ".join(parts)


class UacstaClient:
    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reconnect_for: float = 30.0,
        request_timeout: float = 30.0,
    ) -> None:
        self.url = url
        self.user = user
        self.password = password
        self.ssl_context = ssl_context
        self.reconnect_for = reconnect_for
        self.request_timeout = request_timeout
        self.session: str | None = None
        self.last_seq = 0
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._events: asyncio.Queue[Event | BaseException] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False

    # -- connection ----------------------------------------------------------------------------

    async def __aenter__(self) -> UacstaClient:
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self, *, resume: bool = False) -> None:
        ws = await connect(self.url, ssl=self.ssl_context, max_size=2**22)
        login: dict[str, Any] = {"op": "login", "user": self.user, "password": self.password}
        if resume and self.session is not None:
            login["resume"] = {"session": self.session, "seq": self.last_seq}
        await ws.send(json.dumps(login))
        welcome = json.loads(await ws.recv())
        if welcome.get("op") != "welcome":
            await ws.close()
            reason = welcome.get("reason", "refused")
            if resume:
                raise SessionLost(reason)
            raise LoginError(reason)
        self.session = welcome["session"]
        if not resume:
            self.last_seq = int(welcome["seq"])
        self._ws = ws
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))

    async def reconnect(self) -> None:
        """A new session after SessionLost (monitors must be started again)."""
        self.session = None
        self._events = asyncio.Queue()
        await self.connect()

    async def close(self) -> None:
        """Log out: the server ends the session and stops its monitors."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps({"op": "logout"}))
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader

    async def drop(self) -> None:
        """Close the connection without logging out (to test resuming)."""
        if self._ws is not None:
            await self._ws.close()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                data = json.loads(raw)
                op = data.get("op")
                if op == "event":
                    csta = from_json(data["csta"])
                    assert isinstance(csta, m.CstaMessage)
                    self._events.put_nowait(Event(int(data["seq"]), csta, data.get("call")))
                elif op in ("response", "error") and data.get("id") in self._waiting:
                    fut = self._waiting.pop(data["id"])
                    if not fut.done():
                        fut.set_result(data)
                elif op == "error":
                    self._events.put_nowait(SessionLost(data.get("reason", "error")))
        except ConnectionClosed:
            pass
        finally:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection to the server lost"))
            self._waiting.clear()
            if not self._closing:
                self._events.put_nowait(ConnectionError("connection lost"))

    async def _resume(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.reconnect_for
        delay = 0.1
        while True:
            try:
                await self.connect(resume=True)
                return
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise SessionLost(f"could not reconnect: {exc}") from exc
                await asyncio.sleep(delay)
                delay = min(delay * 2, 2.0)

    # -- events ----------------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Every event of every monitor, in order; reconnects and resumes by itself."""
        while True:
            item = await self._events.get()
            if isinstance(item, Event):
                if item.seq <= self.last_seq:
                    continue  # already seen before a resume
                self.last_seq = item.seq
                yield item
            elif isinstance(item, ConnectionError) and not self._closing:
                await self._resume()
            elif isinstance(item, ConnectionError):
                return
            else:
                raise item

    async def next_event(self) -> Event:
        """The next event (wrap in ``asyncio.timeout`` to bound the wait)."""
        async for event in self.events():
            return event
        raise SessionLost("closed")

    # -- requests --------------------------------------------------------------------------------

    async def request(self, msg: m.CstaMessage) -> m.CstaMessage:
        return (await self.request_call(msg))[0]

    async def request_call(self, msg: m.CstaMessage) -> tuple[m.CstaMessage, str | None]:
        """The answer and the server's reference of the call it names (MakeCall...)."""
        if self._ws is None:
            raise ConnectionError("not connected")
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self._ws.send(json.dumps({"op": "request", "id": rid, "csta": to_json(msg)}))
        data = await asyncio.wait_for(fut, self.request_timeout)
        if data.get("op") == "error":
            raise ValueError(data.get("reason"))
        answer = from_json(data["csta"])
        if isinstance(answer, CSTAErrorCode):
            raise CstaError(answer)
        return answer, data.get("call")

    async def _typed(self, msg: m.CstaMessage, answer: type[R]) -> R:
        result = await self.request(msg)
        if not isinstance(result, answer):
            raise TypeError(f"expected {answer.__name__}, got {result.root()}")
        return result

    async def monitor(self, device: str) -> str:
        """MonitorStart; returns the monitorCrossRefID (BackInService follows)."""
        start = m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID(device)))
        return (await self._typed(start, m.MonitorStartResponse)).monitorCrossRefID

    async def monitor_stop(self, xref: str) -> None:
        await self._typed(m.MonitorStop(monitorCrossRefID=xref), m.MonitorStopResponse)

    async def make_call(self, device: str, to: str) -> ConnectionID:
        call = m.MakeCall(callingDevice=DeviceID(device), calledDirectoryNumber=DeviceID(to))
        return (await self._typed(call, m.MakeCallResponse)).callingDevice

    async def answer_call(self, conn: ConnectionID) -> None:
        await self._typed(m.AnswerCall(callToBeAnswered=conn), m.AnswerCallResponse)

    async def clear_connection(self, conn: ConnectionID) -> None:
        await self._typed(m.ClearConnection(connectionToBeCleared=conn), m.ClearConnectionResponse)

    async def hold(self, conn: ConnectionID) -> None:
        await self._typed(m.HoldCall(callToBeHeld=conn), m.HoldCallResponse)

    async def retrieve(self, conn: ConnectionID) -> None:
        await self._typed(m.RetrieveCall(callToBeRetrieved=conn), m.RetrieveCallResponse)

    async def alternate(self, held: ConnectionID, active: ConnectionID) -> None:
        call = m.AlternateCall(heldCall=held, activeCall=active)
        await self._typed(call, m.AlternateCallResponse)

    async def consult(self, existing: ConnectionID, to: str) -> ConnectionID | None:
        call = m.ConsultationCall(existingCall=existing, consultedDevice=DeviceID(to))
        return (await self._typed(call, m.ConsultationCallResponse)).initiatedCall

    async def transfer(self, held: ConnectionID, active: ConnectionID) -> None:
        await self._typed(m.TransferCall(heldCall=held, activeCall=active), m.TransferCallResponse)

    async def conference(self, held: ConnectionID, active: ConnectionID) -> None:
        call = m.ConferenceCall(heldCall=held, activeCall=active)
        await self._typed(call, m.ConferenceCallResponse)

    async def set_dnd(self, device: str, on: bool) -> None:
        req = m.SetDoNotDisturb(device=DeviceID(device), doNotDisturbOn=on)
        await self._typed(req, m.SetDoNotDisturbResponse)

    async def get_dnd(self, device: str) -> bool:
        req = m.GetDoNotDisturb(device=DeviceID(device))
        return (await self._typed(req, m.GetDoNotDisturbResponse)).doNotDisturbOn

    async def snapshot(self, device: str) -> m.SnapshotDeviceResponse:
        return await self._typed(
            m.SnapshotDevice(snapshotObject=DeviceID(device)), m.SnapshotDeviceResponse
        )
