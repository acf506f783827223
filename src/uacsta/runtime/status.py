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
            "phones_by_vendor": self.by_vendor(),
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

    def by_vendor(self) -> dict[str, dict[str, int]]:
        """Known, registered and controllable phones of each vendor."""
        out: dict[str, dict[str, int]] = {}
        for phone in self.directory.all():
            row = out.setdefault(phone.vendor, {"known": 0, "registered": 0, "controllable": 0})
            row["known"] += 1
            row["registered"] += phone.mac in self.registrar.bindings
            row["controllable"] += self.sessions.controllable(phone.mac)
        return out

    def phone(self, mac: str, now: float) -> dict[str, object] | None:
        """One phone as an operator looks at it: the telephone list's row, its
        lifecycle, registration, identities and monitors."""
        record = self.directory.get(mac)
        line = self.sessions.line(mac)
        if record is None and line is None:
            return None
        binding = self.registrar.bindings.get(mac)
        out: dict[str, object] = {"mac": mac}
        if record is not None:
            out |= {
                "vendor": record.vendor,
                "model": record.model,
                "firmware": record.firmware,
                "enabled": record.enabled,
                "status": record.status,
                "note": record.note,
                "last_ip": record.last_ip,
                "last_login": _iso(record.last_login),
            }
        if line is not None:
            out |= {
                "phase": line.phase.value,
                "phase_reason": line.life.reason,
                "attempts": line.life.attempts,
                "problem": line.problem,
                "conflict": line.conflict,
            }
        out["registration"] = (
            {
                "transport": binding.connection.transport_name,
                "peer": f"{binding.connection.peer_ip}:{binding.connection.peer_port}",
                "expires_in": round(binding.expires_at - now),
            }
            if binding is not None
            else None
        )
        devices = self.switching.devices.of_phone(mac)
        points = self.switching.monitors.points
        out["identities"] = [
            {
                "device": d.id.value,
                "monitor": points[d.key].state.value if d.key in points else "none",
                "subscribers": len(points[d.key].subscribers) if d.key in points else 0,
                "problem": points[d.key].problem if d.key in points else "",
            }
            for d in devices
        ]
        return out

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
