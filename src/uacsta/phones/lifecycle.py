"""The phone lifecycle: every state and transition in one table, one mutator.

    OFFLINE --registered--> INVITING --dialog up--> UP
       ^                      ^  |                   |
       |                      |  +--dialog lost--+   | dialog lost (keep-alive
       |        retry due /   |                  v   v  missed, BYE, 481, refused)
       |        registered    +--------------- RECOVERING   (INVITE again after a
       |                                                     growing pause)
       |   disabled / removed: INVITING, UP, RECOVERING --> CLOSING (MonitorStop,
       |        SystemRegisterCancel, BYE) --closed--> IDLE --registered--> INVITING
       +-- unregistered (expired, connection lost, replaced) from any state

*registered* is a REGISTER (new or refresh) of a phone that is enabled in the
telephone list; *disabled* is the same for one that is not, or a phone just
disabled or removed.  The telephone list's status column is derived from the
phase (:data:`STATUS`), never written by anything else.
"""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass

log = logging.getLogger("uacsta.lifecycle")


class Phase(enum.Enum):
    OFFLINE = "offline"  # no registration
    IDLE = "idle"  # registered, no dialog: disabled or removed in the telephone list
    INVITING = "inviting"  # INVITE sent; subscribing, learning the identities
    UP = "up"  # the uaCSTA dialog is up: controllable
    RECOVERING = "recovering"  # the dialog was lost while registered: INVITE again soon
    CLOSING = "closing"  # MonitorStop, SystemRegisterCancel and BYE under way


class Trigger(enum.Enum):
    REGISTERED = "registered"  # a REGISTER of an enabled phone (new or refresh)
    DISABLED = "disabled"  # disabled or removed, or a REGISTER while so
    DIALOG_UP = "dialog up"
    DIALOG_LOST = "dialog lost"
    RETRY_DUE = "retry due"
    CLOSED = "closed"  # the closing dialog has ended
    UNREGISTERED = "unregistered"  # expired, unregistered, connection lost


P, T = Phase, Trigger
TRANSITIONS: dict[tuple[Phase, Trigger], Phase] = {
    (P.OFFLINE, T.REGISTERED): P.INVITING,
    (P.OFFLINE, T.DISABLED): P.IDLE,
    (P.IDLE, T.REGISTERED): P.INVITING,
    (P.IDLE, T.DISABLED): P.IDLE,
    (P.INVITING, T.REGISTERED): P.INVITING,
    (P.INVITING, T.DIALOG_UP): P.UP,
    (P.INVITING, T.DIALOG_LOST): P.RECOVERING,
    (P.INVITING, T.DISABLED): P.CLOSING,
    (P.UP, T.REGISTERED): P.UP,
    (P.UP, T.DIALOG_LOST): P.RECOVERING,
    (P.UP, T.DISABLED): P.CLOSING,
    # The phone registering while the dialog is down says it is there: try at once.
    (P.RECOVERING, T.REGISTERED): P.INVITING,
    (P.RECOVERING, T.RETRY_DUE): P.INVITING,
    (P.RECOVERING, T.DISABLED): P.CLOSING,
    (P.CLOSING, T.REGISTERED): P.CLOSING,  # enabled again: invited once closed
    (P.CLOSING, T.DISABLED): P.CLOSING,
    (P.CLOSING, T.CLOSED): P.IDLE,
    (P.CLOSING, T.DIALOG_LOST): P.IDLE,
}
for _phase in Phase:
    TRANSITIONS[(_phase, Trigger.UNREGISTERED)] = Phase.OFFLINE

# The telephone list's status column (manual 3.4: offline, registered, controllable).
STATUS: dict[Phase, str] = {
    P.OFFLINE: "offline",
    P.IDLE: "registered",
    P.INVITING: "registered",
    P.UP: "controllable",
    P.RECOVERING: "recovering",
    P.CLOSING: "registered",
}


@dataclass(slots=True)
class Lifecycle:
    """One phone's place in the table."""

    mac: str
    phase: Phase = Phase.OFFLINE
    reason: str = ""
    attempts: int = 0  # INVITEs since the dialog was last up (for the back-off)

    def fire(self, trigger: Trigger, reason: str = "") -> Phase | None:
        """Move on ``trigger``; the phase left, or None when nothing moved."""
        nxt = TRANSITIONS.get((self.phase, trigger))
        if nxt is None or nxt is self.phase:
            return None
        was, self.phase, self.reason = self.phase, nxt, reason or trigger.value
        if nxt is Phase.UP:
            self.attempts = 0
        elif nxt is Phase.INVITING:
            self.attempts += 1
        log.info(
            "phone %s: %s -> %s (%s)",
            self.mac,
            was.value,
            nxt.value,
            self.reason,
            extra={"tag": self.mac},
        )
        return was

    @property
    def status(self) -> str:
        return STATUS[self.phase]
