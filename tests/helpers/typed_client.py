"""The typed test client: the standalone ``uacsta_client`` session (the
client users install) under the server's CSTA model, so that tests speak in
typed messages (``m.MakeCall``...) and check typed events.  Requests are
written with :func:`to_json` and answers read with :func:`from_json`: the
JSON face as any client sees it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import TypeVar

from uacsta_client import LoginError, SessionLost
from uacsta_client.session import Linked

from uacsta.csta import model as m
from uacsta.csta.callstate import subject_connection
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.jsonform import from_json, to_json
from uacsta.csta.types import ConnectionID, DeviceID, EventDevice

__all__ = ["CstaError", "Event", "LoginError", "SessionLost", "UacstaClient"]
R = TypeVar("R", bound=m.CstaMessage)


class CstaError(Exception):
    """The server or the phone answered a request with a CSTAErrorCode."""

    def __init__(self, error: CSTAErrorCode) -> None:
        super().__init__(str(error))
        self.error = error


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


class UacstaClient(Linked):
    """Typed CSTA over the distribution's session (its lifecycle as is)."""

    async def events(self) -> AsyncIterator[Event]:
        async for frame in self.link.frames():
            csta = from_json(frame["csta"])
            assert isinstance(csta, m.CstaMessage)
            yield Event(int(frame["seq"]), csta, frame.get("call"))

    async def next_event(self) -> Event:
        """The next event (wrap in ``asyncio.timeout`` to bound the wait)."""
        async for event in self.events():
            return event
        raise SessionLost("closed")

    async def request(self, msg: m.CstaMessage) -> m.CstaMessage:
        return (await self.request_call(msg))[0]

    async def request_call(self, msg: m.CstaMessage) -> tuple[m.CstaMessage, str | None]:
        """The answer and the server's reference of the call it names (MakeCall...)."""
        data = await self.link.request(to_json(msg))
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
