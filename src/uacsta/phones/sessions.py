"""One uaCSTA session per registered, enabled phone: started when the phone
registers, ended when its registration ends, rebuilt by its next REGISTER."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable

from ..csta.model import CstaMessage
from ..sip.message import Request, Response
from ..sip.transaction import TransactionTable
from .directory import PhoneDirectory
from .registrar import Binding, BindingChange
from .session import PhoneSession, SessionSettings, SessionState
from .vendors import profile

log = logging.getLogger("uacsta.session")


class SessionManager:
    def __init__(
        self,
        directory: PhoneDirectory,
        password: Callable[[], str],
        settings: Callable[[], SessionSettings],
    ) -> None:
        self.directory = directory
        self.password = password
        self.settings = settings
        self.transactions = TransactionTable()
        self.sessions: dict[str, PhoneSession] = {}
        self._tasks: dict[str, asyncio.Task[None]] = {}
        self._bindings: dict[str, Binding] = {}
        self.listeners: list[Callable[[PhoneSession], None]] = []
        self.event_listeners: list[Callable[[PhoneSession, CstaMessage], None]] = []
        # In-dialog requests find their session by Call-ID (one lookup per event).
        self._by_call_id: dict[str, PhoneSession] = {}

    # -- following the registrar and the telephone list ------------------------------

    def binding_changed(self, change: BindingChange, binding: Binding) -> None:
        if change is BindingChange.REMOVED:
            self._bindings.pop(binding.mac, None)
            self.stop(binding.mac, "registration ended")
            return
        self._bindings[binding.mac] = binding
        if change is BindingChange.ADDED:
            self._start_if_enabled(binding)

    def enabled_changed(self) -> None:
        """After the telephone list changed: sessions for newly enabled phones,
        none for disabled ones."""
        for mac, binding in self._bindings.items():
            phone = self.directory.get(mac)
            if phone is not None and phone.enabled and mac not in self.sessions:
                self._start_if_enabled(binding)
            elif (phone is None or not phone.enabled) and mac in self.sessions:
                self.stop(mac, "phone disabled")

    def _start_if_enabled(self, binding: Binding) -> None:
        phone = self.directory.get(binding.mac)
        if phone is None or not phone.enabled:
            return
        self.stop(binding.mac, "replaced by a new registration")
        session = PhoneSession(
            binding=binding,
            profile=profile(phone.vendor),
            transactions=self.transactions,
            password=self.password,
            settings=self.settings(),
            on_change=self._changed,
            on_event=self._event,
        )
        self.sessions[binding.mac] = session
        self._tasks[binding.mac] = asyncio.get_running_loop().create_task(
            session.run(), name=f"uacsta-session-{binding.mac}"
        )

    def stop(self, mac: str, why: str) -> None:
        session = self.sessions.pop(mac, None)
        task = self._tasks.pop(mac, None)
        if session is not None:
            session.ended_because = why
            if session.dialog is not None:
                self._by_call_id.pop(session.dialog.call_id, None)
            if mac in self._bindings:
                self.directory.set_status(mac, "registered")
        if task is not None and not task.done():
            task.cancel()

    def _changed(self, session: PhoneSession) -> None:
        if session.dialog is not None:
            if session.state is SessionState.ENDED:
                if self._by_call_id.get(session.dialog.call_id) is session:
                    del self._by_call_id[session.dialog.call_id]
            else:
                self._by_call_id[session.dialog.call_id] = session
        if session.state is SessionState.UP:
            self.directory.set_status(session.mac, "controllable")
        if session.state is SessionState.ENDED:
            if self.sessions.get(session.mac) is session:
                self.sessions.pop(session.mac, None)
                self._tasks.pop(session.mac, None)
            if session.mac in self._bindings:
                self.directory.set_status(session.mac, "registered")
        for listener in self.listeners:
            try:
                listener(session)
            except Exception:
                log.exception("session listener failed")

    def _event(self, session: PhoneSession, event: CstaMessage) -> None:
        for listener in self.event_listeners:
            try:
                listener(session, event)
            except Exception:
                log.exception("event listener failed")

    def controllable(self, mac: str) -> bool:
        session = self.sessions.get(mac)
        return session is not None and session.state is SessionState.UP

    @property
    def dialogs_up(self) -> int:
        return sum(1 for s in self.sessions.values() if s.state is SessionState.UP)

    # -- messages from phones ------------------------------------------------------------

    def _session_for(self, call_id: str) -> PhoneSession | None:
        session = self._by_call_id.get(call_id)
        if session is None or self.sessions.get(session.mac) is not session:
            return None
        return session

    def response_received(self, response: Response) -> bool:
        """Match a phone's response to our transaction (RFC 3261 17.1.3) and
        wake the session waiting for it; False for a stray response."""
        tx = self.transactions.response_received(response, asyncio.get_running_loop().time())
        if tx is None:
            return False
        if response.status >= 200:
            for session in self.sessions.values():
                if session.complete(tx.key, response):
                    break
        return True

    def request_received(self, request: Request) -> Response | bool | None:
        """The response for an in-dialog request, None for ACK, False when the
        request belongs to no session."""
        session = self._session_for(request.call_id)
        if session is None or session.dialog is None:
            return False
        if not session.dialog.matches(request, incoming_request=True):
            return False
        return session.request_received(request)

    def expire(self, now: float) -> None:
        self.transactions.expire(now)

    async def close(self) -> None:
        tasks = list(self._tasks.values())
        for mac in list(self.sessions):
            self.stop(mac, "server stopping")
        for task in tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
