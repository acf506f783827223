"""The server status (the manual's *Server status* screen, the admin API's
/api/status) and the system status the server reports in uaCSTA."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from .. import __version__
from ..core.switching import SwitchingFunction
from ..csta.types import SystemStatus
from ..phones.directory import PhoneDirectory
from ..phones.lifecycle import Phase
from ..phones.registrar import Registrar
from ..phones.session_manager import SessionManager
from .housekeeping import LoopWatch
from .services import ClientService, PhoneService


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


@dataclass
class StatusReport:
    started_at: datetime
    phones: PhoneService
    clients: ClientService
    directory: PhoneDirectory
    registrar: Registrar
    sessions: SessionManager
    switching: SwitchingFunction
    watch: LoopWatch

    def report(self) -> dict[str, object]:
        phones, clients = self.phones, self.clients
        return {
            "version": __version__,
            "started_at": _iso(self.started_at),
            "phone_service": {
                "running": phones.running,
                "since": _iso(phones.since),
                "listening": [vars(item) for item in phones.listening],
                "connections": len(phones.sip.connections),
            },
            "phones_known": len(self.directory),
            "phones_registered": len(self.registrar.bindings),
            "dialogs_up": self.sessions.dialogs_up,
            "loop_lag_ms": round(self.watch.lag * 1000, 1),
            "client_service": {
                "running": clients.running,
                "since": _iso(clients.since),
                "listening": [vars(item) for item in clients.listening],
                **self.switching.status(),
            },
        }

    def for_clients(self) -> SystemStatus:
        """RequestSystemStatus from a client: disabled while the phone service
        is stopped, partiallyDisabled while a registered phone's dialog is
        being recovered, else normal."""
        if not self.phones.running:
            return SystemStatus.DISABLED
        if self.sessions.phases()[Phase.RECOVERING.value]:
            return SystemStatus.PARTIALLY_DISABLED
        return SystemStatus.NORMAL

    def for_phones(self) -> SystemStatus:
        """RequestSystemStatus from a phone: whether clients can reach it."""
        return SystemStatus.NORMAL if self.clients.running else SystemStatus.DISABLED
