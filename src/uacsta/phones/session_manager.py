"""Every phone's lifecycle (``lifecycle.py``) and its uaCSTA session: started
when an enabled phone registers, re-established with a growing pause when it
is lost while the phone stays registered, closed properly (MonitorStop,
SystemRegisterCancel, BYE) when the phone is disabled or removed.

Observers (the switching function) are told of every phase change, the
phone's events and the monitors it ended; they are wired in the composition
root.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import time
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

from ..csta.model import CstaMessage
from ..csta.types import DeviceID, SystemStatus
from ..dialog import IdentitiesLearned, State
from ..sip.message import Request, Response
from ..sip.transaction import TIMEOUT
from ..vendors import profile
from .directory import PhoneDirectory
from .lifecycle import Lifecycle, Phase, Trigger
from .phone_session import PhoneSession, SessionSettings
from .registrar import Binding, BindingChange

log = logging.getLogger("uacsta.session")
MAX_BACKOFF = 60.0


@dataclass(eq=False)
class PhoneLine:
    """One phone as the session manager keeps it."""

    mac: str
    life: Lifecycle
    binding: Binding | None = None
    session: PhoneSession | None = None
    retry: asyncio.TimerHandle | None = None
    identities: list[DeviceID] = field(default_factory=list)
    # Why clients may not see what they expect (identities not reported...).
    problem: str = ""
    conflict: str = ""  # an identity another phone owns, or one it also reports
    removed: bool = False

    @property
    def note(self) -> str:
        return "; ".join(n for n in (self.problem, self.conflict) if n)

    @property
    def phase(self) -> Phase:
        return self.life.phase

    @property
    def reason(self) -> str:
        """Why it is in its phase."""
        return self.life.reason


class PhoneObserver(Protocol):
    def phone_changed(self, line: PhoneLine) -> None: ...
    def phone_removed(self, mac: str) -> None: ...
    def phone_event(self, mac: str, event: CstaMessage) -> None: ...
    def monitor_stopped(self, mac: str, monitor_xref: str) -> None: ...


class SessionManager:
    def __init__(
        self,
        directory: PhoneDirectory,
        password: Callable[[], str],
        settings: Callable[[], SessionSettings],
        system_status: Callable[[], SystemStatus] = lambda: SystemStatus.NORMAL,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.directory = directory
        self.clock = clock
        self.password = password
        self.settings = settings
        self.system_status = system_status
        self.lines: dict[str, PhoneLine] = {}
        self.observers: list[PhoneObserver] = []
        self.listeners: list[Callable[[PhoneLine], None]] = []  # phase changes only
        # Every phase change by (from, to, trigger), for the metrics.
        self.transitions: Counter[tuple[str, str, str]] = Counter()
        # In-dialog messages find their session by Call-ID (one lookup each).
        # Ended sessions stay findable for a transaction's lifetime, so that a
        # late 2xx to an abandoned INVITE is ACKed and BYEd.
        self._by_call_id: dict[str, PhoneSession] = {}
        self._linger: dict[str, float] = {}
        self._closing: set[PhoneSession] = set()  # at stop: the dialogs still closing
        self._all_closed = asyncio.Event()

    # -- what others read ---------------------------------------------------------------

    def line(self, mac: str) -> PhoneLine | None:
        return self.lines.get(mac)

    def session(self, mac: str) -> PhoneSession | None:
        """The phone's session when its dialog is up, else None."""
        line = self.lines.get(mac)
        if line is None or line.phase is not Phase.UP or line.session is None:
            return None
        return line.session

    def controllable(self, mac: str) -> bool:
        return self.session(mac) is not None

    @property
    def dialogs_up(self) -> int:
        return sum(1 for ln in self.lines.values() if ln.phase is Phase.UP)

    def phases(self) -> dict[str, int]:
        counts = {p.value: 0 for p in Phase}
        for ln in self.lines.values():
            counts[ln.phase.value] += 1
        return counts

    def describe(self, mac: str) -> str:
        """The phone's make, model and firmware, from its User-Agent."""
        phone = self.directory.get(mac)
        if phone is None:
            return ""
        label = profile(phone.vendor).label if phone.vendor != "unknown" else ""
        return " ".join(p for p in (label, phone.model, phone.firmware) if p)

    def set_conflict(self, mac: str, text: str) -> None:
        line = self.lines.get(mac)
        if line is not None and line.conflict != text:
            line.conflict = text
            self._show_status(line)

    def mac_for(self, call_id: str) -> str | None:
        session = self._by_call_id.get(call_id)
        return session.mac if session is not None else None

    # -- following the registrar and the telephone list ----------------------------------

    def binding_changed(self, change: BindingChange, binding: Binding) -> None:
        line = self._line(binding.mac)
        if change is BindingChange.REMOVED:
            if line.binding is binding:
                line.binding = None
                self._fire(line, Trigger.UNREGISTERED, "registration ended")
            return
        line.binding = binding
        line.removed = False
        phone = self.directory.get(binding.mac)
        if phone is not None and phone.enabled:
            self._fire(line, Trigger.REGISTERED, "registered")
        else:
            self._fire(line, Trigger.DISABLED, "registered while disabled")
        self._show_status(line)

    def enabled_changed(self) -> None:
        """After the telephone list changed: dialogs for newly enabled phones,
        closed dialogs for disabled ones, devices gone with removed ones."""
        for mac, line in list(self.lines.items()):
            phone = self.directory.get(mac)
            if phone is None:
                if not line.removed:
                    line.removed = True
                    self._fire(line, Trigger.DISABLED, "removed from the telephone list")
                    for observer in self.observers:
                        observer.phone_removed(mac)
                if line.binding is None and line.phase is Phase.OFFLINE:
                    del self.lines[mac]
            elif not phone.enabled:
                self._fire(line, Trigger.DISABLED, "disabled in the telephone list")
            elif line.binding is not None and line.phase is Phase.IDLE:
                self._fire(line, Trigger.REGISTERED, "enabled in the telephone list")

    def _line(self, mac: str) -> PhoneLine:
        line = self.lines.get(mac)
        if line is None:
            line = self.lines[mac] = PhoneLine(mac, Lifecycle(mac))
        return line

    # -- the one place phases change -------------------------------------------------------

    def _fire(self, line: PhoneLine, trigger: Trigger, reason: str) -> None:
        was = line.life.fire(trigger, reason)
        if was is None:
            return
        self.transitions[(was.value, line.phase.value, trigger.value)] += 1
        if was is Phase.RECOVERING and line.retry is not None:
            line.retry.cancel()
            line.retry = None
        self._show_status(line)
        self._tell(line)
        self._enter(line, reason)

    def _show_status(self, line: PhoneLine) -> None:
        if self.directory.get(line.mac) is not None:
            self.directory.set_status(line.mac, line.life.status, line.note)

    def _tell(self, line: PhoneLine) -> None:
        for observer in self.observers:
            try:
                observer.phone_changed(line)
            except Exception:
                log.exception("phone observer failed")
        for listener in self.listeners:
            try:
                listener(line)
            except Exception:
                log.exception("phone listener failed")

    def _enter(self, line: PhoneLine, reason: str) -> None:
        phase = line.phase
        if phase is Phase.INVITING:
            self._invite(line)
        elif phase is Phase.RECOVERING:
            settings = self.settings()
            cap = min(MAX_BACKOFF, max(5.0, settings.keepalive))
            delay = min(cap, 2.0 ** min(line.life.attempts - 1, 6)) * random.uniform(0.8, 1.2)
            line.retry = asyncio.get_running_loop().call_later(
                delay, self._fire, line, Trigger.RETRY_DUE, f"after {delay:.1f} s"
            )
        elif phase is Phase.CLOSING:
            if line.session is not None:
                line.session.close(reason)
            else:
                self._fire(line, Trigger.CLOSED, reason)
        elif phase is Phase.OFFLINE:
            old, line.session = line.session, None
            if old is not None and old.state is not State.ENDED:
                if old.conn.closed:
                    old.connection_lost()
                else:
                    old.close(reason)

    def _invite(self, line: PhoneLine) -> None:
        binding = line.binding
        phone = self.directory.get(line.mac)
        assert binding is not None
        session = PhoneSession(
            binding,
            profile(phone.vendor if phone is not None else "unknown"),
            self.password,
            self.settings(),
            self.system_status,
            self,
        )
        line.session = session
        session.start()
        if session.call_id:
            self._by_call_id[session.call_id] = session

    # -- what sessions tell ------------------------------------------------------------------

    def _own(self, session: PhoneSession) -> PhoneLine | None:
        line = self.lines.get(session.mac)
        return line if line is not None and line.session is session else None

    def session_up(self, session: PhoneSession) -> None:
        line = self._own(session)
        if line is not None:
            log.info(
                "uaCSTA dialog with %s up; identities %s",
                session.mac,
                ", ".join(d.value for d in session.identities) or "none",
                extra={"tag": session.mac},
            )
            self._fire(line, Trigger.DIALOG_UP, "dialog up")

    def identities_learned(self, session: PhoneSession, learned: IdentitiesLearned) -> None:
        line = self._own(session)
        if line is None:
            return
        line.identities = list(learned.identities)
        problem = ""
        if not learned.reported:
            problem = (
                f"no identities reported ({learned.why}); clients see its registered "
                f"identity {learned.identities[0].value}"
            )
            log.warning("phone %s: %s", session.mac, problem, extra={"tag": session.mac})
        if problem != line.problem:
            line.problem = problem
            self._show_status(line)
        if line.phase is Phase.UP:
            log.info(
                "identities of %s now %s",
                session.mac,
                ", ".join(d.value for d in learned.identities),
                extra={"tag": session.mac},
            )
            self._tell(line)

    def session_ended(self, session: PhoneSession) -> None:
        if self._closing:
            self._closing.discard(session)
            if not self._closing:
                self._all_closed.set()
        if session.call_id:
            self._linger[session.call_id] = self.clock() + TIMEOUT
        line = self._own(session)
        if line is None:
            return
        line.session = None
        if line.phase is Phase.CLOSING:
            self._fire(line, Trigger.CLOSED, session.ended_because)
            phone = self.directory.get(line.mac)
            if line.binding is not None and phone is not None and phone.enabled:
                self._fire(line, Trigger.REGISTERED, "enabled again")
        else:
            self._fire(line, Trigger.DIALOG_LOST, session.ended_because)

    def phone_event(self, session: PhoneSession, event: CstaMessage) -> None:
        for observer in self.observers:
            try:
                observer.phone_event(session.mac, event)
            except Exception:
                log.exception("event observer failed")

    def monitor_stopped(self, session: PhoneSession, monitor_xref: str) -> None:
        log.info(
            "phone %s ended its monitor %s", session.mac, monitor_xref, extra={"tag": session.mac}
        )
        for observer in self.observers:
            observer.monitor_stopped(session.mac, monitor_xref)

    # -- messages from phones ----------------------------------------------------------------

    def response_received(self, response: Response) -> bool:
        """Hand a phone's response to the session it belongs to; False for a stray."""
        session = self._by_call_id.get(response.call_id)
        if session is None:
            return False
        session.receive(response)
        return True

    def request_received(self, request: Request) -> bool:
        """Hand an in-dialog request to its session (which answers it); False
        when the request belongs to no session."""
        session = self._by_call_id.get(request.call_id)
        if session is None:
            return False
        session.receive(request)
        return True

    def expire(self, now: float) -> None:
        for call_id, until in list(self._linger.items()):
            if until <= now:
                del self._linger[call_id]
                session = self._by_call_id.get(call_id)
                if session is not None and session.state is State.ENDED:
                    del self._by_call_id[call_id]

    async def close(self, grace: float = 2.0) -> None:
        """Server stopping: close every dialog properly, waiting ``grace``
        seconds at the most for the phones' answers."""
        open_sessions = []
        for line in self.lines.values():
            if line.retry is not None:
                line.retry.cancel()
                line.retry = None
            if line.session is not None and line.session.state is not State.ENDED:
                open_sessions.append(line.session)
                line.session.close("server stopping")
        if open_sessions:
            self._all_closed = asyncio.Event()
            self._closing = set(open_sessions)
            self._closing -= {s for s in open_sessions if s.state is State.ENDED}
            if self._closing:
                with contextlib.suppress(TimeoutError):
                    await asyncio.wait_for(self._all_closed.wait(), grace)
        for session in open_sessions:
            with contextlib.suppress(Exception):
                if session.state is not State.ENDED:
                    session.connection_lost()
        self.lines.clear()
        self._by_call_id.clear()
        self._linger.clear()
