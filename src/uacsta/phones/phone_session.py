"""The asyncio shell of one phone's uaCSTA dialog (the manual's 4.1.1).

Everything the dialog does is in the sans-IO core (``uacsta.dialog``); this
shell feeds it the phone's messages and the loop's time, writes what it sends
to the phone's own connection, arms one timer for its next deadline, turns
its answers into awaitable results and hands the rest to its owner (the
session manager).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..csta.model import CstaMessage
from ..csta.types import DeviceID, SystemStatus
from ..dialog import (
    Answered,
    CstaAnswer,
    DialogEvent,
    DialogTimers,
    Ended,
    Established,
    Failed,
    IdentitiesLearned,
    MonitorStopped,
    PeerEvent,
    RegistrationAborted,
    State,
    UacstaDialog,
)
from ..net.connection import SipConnection
from ..net.dialog_shell import DialogShell
from ..sip.dialog import Dialog
from ..vendors import VendorProfile
from .registrar import Binding

log = logging.getLogger("uacsta.session")


class SessionError(Exception):
    """The phone did not answer, refused, or the dialog is gone."""


@dataclass(frozen=True)
class SessionSettings:
    keepalive: float = 60.0
    request_timeout: float = 5.0
    identity_timeout: float = 3.0  # wait for SwitchingFunctionDevices segments


class SessionOwner(Protocol):
    """What a session tells the one who started it."""

    def session_up(self, session: PhoneSession) -> None: ...
    def session_ended(self, session: PhoneSession) -> None: ...
    def identities_learned(self, session: PhoneSession, learned: IdentitiesLearned) -> None: ...
    def phone_event(self, session: PhoneSession, event: CstaMessage) -> None: ...
    def monitor_stopped(self, session: PhoneSession, monitor_xref: str) -> None: ...


class PhoneSession(DialogShell):
    def __init__(
        self,
        binding: Binding,
        profile: VendorProfile,
        password: Callable[[], str],
        settings: SessionSettings,
        system_status: Callable[[], SystemStatus],
        owner: SessionOwner,
    ) -> None:
        self.binding = binding
        self.profile = profile
        self.owner = owner
        conn = binding.connection
        assert isinstance(conn, SipConnection)
        host, port = conn.local_address()
        core = UacstaDialog.towards_phone(
            local=f"{host}:{port}",
            transport=conn.transport_name,
            aor=binding.aor,
            contact=binding.contact,
            username=binding.mac,
            password=password,
            edition=profile.edition,
            system_register=profile.supports("SystemRegister"),
            timers=DialogTimers(
                settings.keepalive, settings.request_timeout, settings.identity_timeout
            ),
            system_status=system_status,
        )
        super().__init__(core, conn, binding.mac)
        self._waiting: dict[int, asyncio.Future[CstaAnswer]] = {}

    # -- what others read -------------------------------------------------------------

    @property
    def mac(self) -> str:
        return self.binding.mac

    @property
    def state(self) -> State:
        return self.core.state

    @property
    def dialog(self) -> Dialog | None:
        return self.core.dialog

    @property
    def call_id(self) -> str:
        return self.core.call_id

    @property
    def identities(self) -> list[DeviceID]:
        return list(self.core.identities)

    @property
    def sys_stat_register_id(self) -> str | None:
        return self.core.sys_stat_register_id

    @property
    def ended_because(self) -> str:
        return self.core.ended_because

    # -- feeding the core ----------------------------------------------------------------

    def start(self) -> None:
        self.core.invite(self.now())
        self.pump()

    async def request(self, msg: CstaMessage) -> CstaAnswer:
        """Send a CSTA request and return the phone's answer (its 200 OK body)."""
        ref = self.core.request(msg, self.now())
        fut: asyncio.Future[CstaAnswer] = self._loop.create_future()
        self._waiting[ref] = fut
        self.pump()
        try:
            return await fut
        finally:
            self._waiting.pop(ref, None)

    def close(self, reason: str) -> None:
        """MonitorStop, SystemRegisterCancel, BYE: the owner hears
        ``session_ended`` once the phone answered (or did not in time)."""
        self.core.close(self.now(), reason)
        self.pump()

    def connection_lost(self) -> None:
        self.core.connection_lost()
        self.pump()

    def dispatch(self, event: DialogEvent) -> None:
        if isinstance(event, Answered | Failed):
            fut = self._waiting.get(event.ref)
            if fut is not None and not fut.done():
                if isinstance(event, Answered):
                    fut.set_result(event.answer)
                else:
                    fut.set_exception(SessionError(event.reason))
        elif isinstance(event, PeerEvent):
            self.owner.phone_event(self, event.message)
        elif isinstance(event, IdentitiesLearned):
            self.owner.identities_learned(self, event)
        elif isinstance(event, Established):
            if event.system_status is not None:
                log.info(
                    "phone %s system status %s",
                    self.mac,
                    event.system_status.value,
                    extra={"tag": self.mac},
                )
            self.owner.session_up(self)
        elif isinstance(event, MonitorStopped):
            self.owner.monitor_stopped(self, event.monitor_xref)
        elif isinstance(event, RegistrationAborted):
            log.info(
                "phone %s aborted the system registration %s; registering again",
                self.mac,
                event.sys_stat_register_id,
                extra={"tag": self.mac},
            )
        elif isinstance(event, Ended):
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(SessionError(f"dialog ended: {event.reason}"))
            log.info(
                "uaCSTA dialog with %s ended: %s", self.mac, event.reason, extra={"tag": self.mac}
            )
            self.owner.session_ended(self)
