"""The asyncio shell of a sans-IO uaCSTA dialog (``uacsta.dialog``), shared by
both roles: what the core sends goes to the connection, its events to the
subclass, and one timer is armed for its next deadline."""

from __future__ import annotations

import asyncio
import logging

from ..dialog import DialogEvent, State, UacstaDialog
from ..logs import log_tag
from ..sip.message import Request, Response
from .connection import SipConnection

log = logging.getLogger("uacsta.dialog")


class DialogShell:
    def __init__(self, core: UacstaDialog, conn: SipConnection, tag: str) -> None:
        self.core = core
        self.conn = conn
        self.tag = tag
        self._loop = asyncio.get_running_loop()
        self._timer: asyncio.TimerHandle | None = None
        self._timer_at: float | None = None

    def now(self) -> float:
        return self._loop.time()

    def receive(self, msg: Request | Response) -> None:
        try:
            self.core.receive(msg, self.now())
        except Exception:
            # A bug, not the peer's fault: this dialog ends (and is set up anew
            # by its owner); the connection and everyone else carry on.
            log.exception("uaCSTA dialog with %s failed on a message; ending it", self.tag)
            self.core.abandon("internal error")
        self.pump()

    def pump(self) -> None:
        """Send what the core has to send, hand on what happened, re-arm."""
        conn = self.conn
        for msg in self.core.messages_to_send():
            conn.send(msg)
        for event in self.core.events():
            self.dispatch(event)
        deadline = self.core.next_deadline()
        if self.core.state is State.ENDED:
            deadline = None
        if deadline == self._timer_at and (deadline is None or self._timer is not None):
            return  # most messages leave the next deadline where it was
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._timer_at = deadline
        if deadline is not None:
            self._timer = self._loop.call_at(deadline, self._on_deadline)

    def _on_deadline(self) -> None:
        self._timer = self._timer_at = None
        token = log_tag.set(self.tag)
        try:
            self.core.handle_deadline(self.now())
            self.pump()
        finally:
            log_tag.reset(token)

    def dispatch(self, event: DialogEvent) -> None:
        raise NotImplementedError
