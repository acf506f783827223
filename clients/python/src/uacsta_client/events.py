"""Events and calls as a CTI program wants them: what happened, at which
device, in which call, why, with the raw CSTA (a JSON object, the ECMA-323
names of docs/clients.md) still there."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, NamedTuple

# ECMA-269: the connection each call event is about (its "subject").
SUBJECT = {
    "ServiceInitiatedEvent": "initiatedConnection",
    "OriginatedEvent": "originatedConnection",
    "DeliveredEvent": "connection",
    "OfferedEvent": "offeredConnection",
    "QueuedEvent": "queuedConnection",
    "NetworkReachedEvent": "outboundConnection",
    "EstablishedEvent": "establishedConnection",
    "HeldEvent": "heldConnection",
    "RetrievedEvent": "retrievedConnection",
    "FailedEvent": "failedConnection",
    "DivertedEvent": "connection",
    "ConnectionClearedEvent": "droppedConnection",
    "CallClearedEvent": "clearedCall",
    "TransferedEvent": "primaryOldCall",
    "ConferencedEvent": "primaryOldCall",
}


def _text(value: Any) -> str | None:
    return value if isinstance(value, str) else None


class Call(NamedTuple):
    """A call as a response named it: the server's reference (the same at
    every phone in the call), the phone's own callID, and the device."""

    reference: str | None
    call_id: str | None
    device: str | None

    def __str__(self) -> str:
        return self.reference or self.call_id or "?"


@dataclass(frozen=True)
class Event:
    """One event of a monitored device.

    ``seq``: its number in the session; ``csta``: the CSTA message as JSON;
    ``call``: the server's call reference (None for events about no call)."""

    seq: int
    csta: dict[str, Any]
    call: str | None = None

    @classmethod
    def from_frame(cls, frame: dict[str, Any]) -> Event:
        return cls(int(frame["seq"]), dict(frame["csta"]), _text(frame.get("call")))

    @property
    def kind(self) -> str:
        """The ECMA-323 name: ``"DeliveredEvent"``."""
        return str(self.csta.get("type", ""))

    @property
    def connection(self) -> dict[str, Any] | None:
        """The connection the event is about (a call event's subject)."""
        value = self.csta.get(SUBJECT.get(self.kind, ""))
        return value if isinstance(value, dict) else None

    @property
    def device(self) -> str | None:
        """The device of the connection for a call event, the ``device`` of
        the others (DND, forwarding, back in service...)."""
        conn = self.connection
        if conn is not None:
            return _text(conn.get("deviceID"))
        return _text(self.csta.get("device"))

    @property
    def call_id(self) -> str | None:
        """The callID as the phone of ``device`` numbers the call."""
        conn = self.connection
        return _text(conn.get("callID")) if conn is not None else None

    @property
    def monitor(self) -> str | None:
        """The monitorCrossRefID: which of your monitors reported it."""
        return _text(self.csta.get("monitorCrossRefID"))

    @property
    def cause(self) -> str | None:
        return _text(self.csta.get("cause"))

    @property
    def caller(self) -> str | None:
        """The calling device, where the event names one."""
        return _text(self.csta.get("callingDevice"))

    def __str__(self) -> str:
        parts = [str(self.seq), self.kind, self.device or "-"]
        if self.call is not None or self.call_id is not None:
            parts.append(f"call {self.call or self.call_id}")
        if self.cause is not None:
            parts.append(f"({self.cause})")
        return " ".join(parts)


class CstaError(Exception):
    """A request answered with a CSTAErrorCode (``category``, ``value``)."""

    def __init__(self, csta: dict[str, Any]) -> None:
        self.csta = csta
        self.category = str(csta.get("category", ""))
        self.value = str(csta.get("value", ""))
        super().__init__(f"{self.category}: {self.value}" if self.value else self.category)


class LoginError(Exception):
    """The server refused the client login."""


class SessionLost(Exception):
    """The connection dropped and the session could not be resumed."""
