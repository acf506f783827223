"""What the switching function tells about calls and requests.

- **Call-level log lines** at INFO, one when a call at a monitored device
  starts, is answered, is transferred or conferenced, and ends (parties,
  duration, cause), tagged with the phone's MAC.  They follow the same
  events the clients get, through each monitor point's call tracker.
- **Correlation IDs**: every client request gets one (``9f3a.42``: this
  start of the server, then a number);
  it is in every log line written while the request is handled (the phone's
  INFO transaction included), in the face's response, and in the lines about
  the events of a call the request made (by the call's callID).
- **Counts** for the metrics: events by type, requests by service and result
  with their latency, read by the metrics collector or told to listeners.
"""

from __future__ import annotations

import itertools
import logging
import secrets
from collections import Counter, OrderedDict
from collections.abc import Callable
from dataclasses import dataclass

from ..csta import model as m
from ..csta.callstate import CallTracker
from ..csta.errors import CSTAErrorCode
from ..csta.types import ConnectionID, EventDevice, device_key
from ..logs import request_id

log = logging.getLogger("uacsta.calls")
KEEP_CALLS = 100_000  # calls followed, and callIDs remembered for their requests' IDs


def _device(value: object) -> str:
    if isinstance(value, EventDevice) and value.device is not None:
        return value.device.value
    return ""


@dataclass(slots=True)
class _Call:
    started: float
    answered: float | None = None


class Journal:
    def __init__(self, clock: Callable[[], float]) -> None:
        self.clock = clock
        self._ids = itertools.count(1)
        # IDs differ from one start of the server to the next: a run prefix
        self._run = secrets.token_hex(2)
        self._calls: dict[tuple[str, str], _Call] = {}  # (device key, callID)
        self._by_call: OrderedDict[str, str] = OrderedDict()  # callID -> request ID
        self.events: Counter[str] = Counter()  # events from the phones by type
        # events not given to a client (by face): its session closed, too slow
        self.dropped: Counter[str] = Counter()
        # (service, result, seconds) of every answered request
        self.request_listeners: list[Callable[[str, str, float], None]] = []

    # -- requests -----------------------------------------------------------------------

    def request_started(self) -> str:
        """A new correlation ID, set for the rest of the request's task (the
        face reads it for its response)."""
        rid = f"{self._run}.{next(self._ids)}"
        request_id.set(rid)
        return rid

    def request_done(self, msg: m.CstaMessage, answer: object, began: float) -> None:
        seconds = self.clock() - began
        if isinstance(answer, CSTAErrorCode):
            result = answer.value or answer.category.value
        else:
            result = "positive"
        service = msg.root()
        for listener in self.request_listeners:
            try:
                listener(service, result, seconds)
            except Exception:
                log.exception("request listener failed")
        call = getattr(answer, "callingDevice", None)
        if isinstance(call, ConnectionID) and call.callID:
            self._by_call[call.callID] = request_id.get()
            while len(self._by_call) > KEEP_CALLS:
                self._by_call.popitem(last=False)

    def correlation(self, conn: ConnectionID | None) -> str:
        """The request ID a phone's event belongs to ('' when none)."""
        if conn is None or not conn.callID:
            return ""
        return self._by_call.get(conn.callID, "")

    # -- calls --------------------------------------------------------------------------

    def event(
        self, mac: str, device: str, tracker: CallTracker, before: set[str], event: m.CstaMessage
    ) -> None:
        """After ``tracker`` applied ``event`` (its calls were ``before``):
        the call's log line, if the event starts, answers, moves or ends it."""
        now = self.clock()
        extra = {"tag": mac}
        after = tracker.calls
        cause = getattr(event, "cause", None)
        why = f", cause {cause.value}" if cause is not None else ""
        if isinstance(event, m.TransferedEvent | m.ConferencedEvent):
            if isinstance(event, m.TransferedEvent):
                verb, to = "transferred to", _device(event.transferredToDevice)
            else:
                verb = "conferenced with"
                to = _device(event.addedParty) or _device(event.conferencingDevice)
            old = sorted(c for c in before if c not in after)
            new = [c for c in after if c not in before]
            primary = event.primaryOldCall.callID or ""
            kept = self._calls.get((device, primary))
            for call_id in old:
                self._calls.pop((device, call_id), None)
            if new:
                self._calls[(device, new[0])] = kept or _Call(now)
            log.info(
                "call %s at %s %s%s",
                ", ".join(old) or "?",
                device,
                f"{verb} {to}" if to else verb.split()[0],
                f", now call {new[0]}" if new else ", left by it",
                extra=extra,
            )
            return
        for call_id in before - after.keys():
            call = self._calls.pop((device, call_id), None)
            lasted = f" after {now - call.started:.0f} s" if call else ""
            talked = f" ({now - call.answered:.0f} s answered)" if call and call.answered else ""
            log.info("call %s at %s ended%s%s%s", call_id, device, lasted, talked, why, extra=extra)
        for call_id in after.keys() - before:
            self._calls[(device, call_id)] = _Call(now)
            if len(self._calls) > KEEP_CALLS:  # calls whose end never came (monitor restarted)
                del self._calls[next(iter(self._calls))]
            parties = ", ".join(after[call_id].parties.values())
            direction = "incoming" if isinstance(event, m.DeliveredEvent | m.OfferedEvent) else ""
            calling = _device(event.callingDevice) if isinstance(event, m.DeliveredEvent) else ""
            if calling and device_key(calling) == device_key(device):
                direction = "outgoing"
            if isinstance(event, m.ServiceInitiatedEvent | m.OriginatedEvent):
                direction = "outgoing"
            log.info(
                "call %s at %s started%s%s",
                call_id,
                device,
                f" ({direction})" if direction else "",
                f" with {parties}" if parties else "",
                extra=extra,
            )
        if isinstance(event, m.EstablishedEvent):
            call_id = event.establishedConnection.callID or ""
            known = self._calls.get((device, call_id))
            if known is not None and known.answered is None:
                known.answered = now
                by = _device(event.answeringDevice)
                log.info(
                    "call %s at %s answered%s after %.1f s",
                    call_id,
                    device,
                    f" by {by}" if by else "",
                    now - known.started,
                    extra=extra,
                )

    @property
    def active_calls(self) -> int:
        return len(self._calls)
