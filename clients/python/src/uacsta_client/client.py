"""The client: CSTA services by name over the WebSocket face, async
(:class:`Client`) or blocking (:class:`SyncClient`).

A call is named by what you have: a :class:`Call` a response gave, the
server's call reference from an event (``event.call``), or a phone's callID.
The server turns a reference into the callID of the device asked.
"""

from __future__ import annotations

import asyncio
import contextlib
import queue
import threading
from collections.abc import AsyncIterator, Coroutine, Iterator
from types import TracebackType
from typing import Any, TypeVar

from .events import Call, CstaError, Event, SessionLost
from .session import Linked

T = TypeVar("T")
CallLike = Call | str


def connection(device: str, call: CallLike) -> dict[str, str]:
    """A ConnectionID: the call (reference or callID) at the device."""
    return {"callID": str(call), "deviceID": device}


class Client(Linked):
    """``async with Client(url, user, password) as client:`` then
    ``await client.monitor("201")`` and ``async for event in client.events()``."""

    # -- events --------------------------------------------------------------------------

    async def events(self) -> AsyncIterator[Event]:
        """Every event of every monitor, in order, each once, across reconnects."""
        async for frame in self.link.frames():
            yield Event.from_frame(frame)

    async def next_event(self) -> Event:
        """The next event (wrap in ``asyncio.timeout`` to bound the wait)."""
        async for event in self.events():
            return event
        raise SessionLost("closed")

    # -- requests ------------------------------------------------------------------------

    async def request(self, csta: dict[str, Any]) -> dict[str, Any]:
        """Any CSTA request as JSON; its positive answer, or CstaError."""
        return (await self._request(csta))[0]

    async def _request(self, csta: dict[str, Any]) -> tuple[dict[str, Any], str | None]:
        frame = await self.link.request(csta)
        answer = dict(frame["csta"])
        if answer.get("type") == "CSTAErrorCode":
            raise CstaError(answer)
        call = frame.get("call")
        return answer, call if isinstance(call, str) else None

    async def monitor(self, device: str) -> str:
        """Start a monitor; its monitorCrossRefID (a BackInServiceEvent follows)."""
        answer = await self.request(
            {"type": "MonitorStart", "monitorObject": {"deviceObject": device}}
        )
        return str(answer["monitorCrossRefID"])

    async def monitor_stop(self, xref: str) -> None:
        await self.request({"type": "MonitorStop", "monitorCrossRefID": xref})

    async def make_call(self, device: str, to: str) -> Call:
        answer, reference = await self._request(
            {"type": "MakeCall", "callingDevice": device, "calledDirectoryNumber": to}
        )
        conn = answer.get("callingDevice") or {}
        return Call(reference, conn.get("callID"), conn.get("deviceID") or device)

    async def answer(self, device: str, call: CallLike) -> None:
        await self.request({"type": "AnswerCall", "callToBeAnswered": connection(device, call)})

    async def clear(self, device: str, call: CallLike) -> None:
        """Take the device out of the call (ClearConnection)."""
        conn = connection(device, call)
        await self.request({"type": "ClearConnection", "connectionToBeCleared": conn})

    async def hold(self, device: str, call: CallLike) -> None:
        await self.request({"type": "HoldCall", "callToBeHeld": connection(device, call)})

    async def retrieve(self, device: str, call: CallLike) -> None:
        await self.request({"type": "RetrieveCall", "callToBeRetrieved": connection(device, call)})

    async def deflect(self, device: str, call: CallLike, to: str) -> None:
        """Send a ringing call on to another number."""
        conn = connection(device, call)
        await self.request({"type": "DeflectCall", "callToBeDiverted": conn, "newDestination": to})

    async def blind_transfer(self, device: str, call: CallLike, to: str) -> None:
        """SingleStepTransferCall: the call goes to ``to``, the device leaves."""
        conn = connection(device, call)
        await self.request(
            {"type": "SingleStepTransferCall", "activeCall": conn, "transferredTo": to}
        )

    async def consult(self, device: str, call: CallLike, to: str) -> Call:
        """Hold the call and call ``to`` (ConsultationCall): the new call."""
        answer, reference = await self._request(
            {
                "type": "ConsultationCall",
                "existingCall": connection(device, call),
                "consultedDevice": to,
            }
        )
        conn = answer.get("initiatedCall") or {}
        return Call(reference, conn.get("callID"), conn.get("deviceID") or device)

    async def transfer(self, device: str, held: CallLike, active: CallLike) -> None:
        """Join the held and the active call and leave (attended transfer)."""
        await self.request(
            {
                "type": "TransferCall",
                "heldCall": connection(device, held),
                "activeCall": connection(device, active),
            }
        )

    async def conference(self, device: str, held: CallLike, active: CallLike) -> None:
        await self.request(
            {
                "type": "ConferenceCall",
                "heldCall": connection(device, held),
                "activeCall": connection(device, active),
            }
        )

    async def set_dnd(self, device: str, on: bool) -> None:
        await self.request({"type": "SetDoNotDisturb", "device": device, "doNotDisturbOn": on})

    async def get_dnd(self, device: str) -> bool:
        answer = await self.request({"type": "GetDoNotDisturb", "device": device})
        return bool(answer["doNotDisturbOn"])

    async def snapshot(self, device: str) -> dict[str, Any]:
        """SnapshotDevice: the device's calls and their states."""
        return await self.request({"type": "SnapshotDevice", "snapshotObject": device})


class SyncClient:
    """The same client for code without asyncio: each method blocks until
    the server has answered; ``events()`` yields as events come.  An event
    loop runs in a background thread of its own."""

    def __init__(self, url: str, user: str, password: str, **kw: Any) -> None:
        self._loop = asyncio.new_event_loop()
        self._thread = threading.Thread(target=self._loop.run_forever, daemon=True)
        self._thread.start()
        self._client = self._run(self._make(url, user, password, kw))
        self._events: queue.Queue[Event | BaseException] = queue.Queue()
        self._pump: Any = None

    @staticmethod
    async def _make(url: str, user: str, password: str, kw: dict[str, Any]) -> Client:
        return Client(url, user, password, **kw)  # its queues belong to the thread's loop

    def _run(self, work: Coroutine[Any, Any, T]) -> T:
        return asyncio.run_coroutine_threadsafe(work, self._loop).result()

    def __enter__(self) -> SyncClient:
        self.connect()
        return self

    def __exit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    def connect(self) -> None:
        self._run(self._client.connect())
        self._pump = asyncio.run_coroutine_threadsafe(self._forward(), self._loop)

    async def _forward(self) -> None:
        try:
            async for event in self._client.events():
                self._events.put(event)
        except BaseException as exc:
            self._events.put(exc)
            raise

    def close(self) -> None:
        try:
            self._run(self._client.close())
            if self._pump is not None:
                with contextlib.suppress(Exception):
                    self._pump.result(5)  # the event stream ends with the session
        finally:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(5)

    def events(self, timeout: float | None = None) -> Iterator[Event]:
        """Events as they come; stops after ``timeout`` seconds without one."""
        while True:
            try:
                item = self._events.get(timeout=timeout)
            except queue.Empty:
                return
            if isinstance(item, BaseException):
                raise item
            yield item

    def next_event(self, timeout: float | None = None) -> Event:
        for event in self.events(timeout):
            return event
        raise TimeoutError("no event")

    def request(self, csta: dict[str, Any]) -> dict[str, Any]:
        return self._run(self._client.request(csta))

    def monitor(self, device: str) -> str:
        return self._run(self._client.monitor(device))

    def monitor_stop(self, xref: str) -> None:
        self._run(self._client.monitor_stop(xref))

    def make_call(self, device: str, to: str) -> Call:
        return self._run(self._client.make_call(device, to))

    def answer(self, device: str, call: CallLike) -> None:
        self._run(self._client.answer(device, call))

    def clear(self, device: str, call: CallLike) -> None:
        self._run(self._client.clear(device, call))

    def hold(self, device: str, call: CallLike) -> None:
        self._run(self._client.hold(device, call))

    def retrieve(self, device: str, call: CallLike) -> None:
        self._run(self._client.retrieve(device, call))

    def deflect(self, device: str, call: CallLike, to: str) -> None:
        self._run(self._client.deflect(device, call, to))

    def blind_transfer(self, device: str, call: CallLike, to: str) -> None:
        self._run(self._client.blind_transfer(device, call, to))

    def consult(self, device: str, call: CallLike, to: str) -> Call:
        return self._run(self._client.consult(device, call, to))

    def transfer(self, device: str, held: CallLike, active: CallLike) -> None:
        self._run(self._client.transfer(device, held, active))

    def conference(self, device: str, held: CallLike, active: CallLike) -> None:
        self._run(self._client.conference(device, held, active))

    def set_dnd(self, device: str, on: bool) -> None:
        self._run(self._client.set_dnd(device, on))

    def get_dnd(self, device: str) -> bool:
        return self._run(self._client.get_dnd(device))

    def snapshot(self, device: str) -> dict[str, Any]:
        return self._run(self._client.snapshot(device))
