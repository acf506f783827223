"""The server status (the manual's *Server status* screen, the admin API's
/api/status) and the system status the server reports in uaCSTA."""

from __future__ import annotations

from collections import deque
from dataclasses import dataclass, field
from datetime import datetime

from .. import __version__
from ..cluster.node import ClusterNode
from ..core.switching import SwitchingFunction
from ..csta.types import SystemStatus
from ..phones.directory import PhoneDirectory
from ..phones.lifecycle import Phase
from ..phones.registrar import Registrar
from ..phones.session_manager import SessionManager
from .housekeeping import LoopWatch
from .loop import loop_name
from .services import ClientService, PhoneService


def _iso(moment: datetime | None) -> str | None:
    return moment.isoformat() if moment else None


class RateMeter:
    """Per-second rates over the last minute, from counters sampled once a
    second (the housekeeping round)."""

    def __init__(self, window: float = 60.0) -> None:
        self.window = window
        self._samples: deque[tuple[float, tuple[int, ...]]] = deque()

    def sample(self, now: float, counts: tuple[int, ...]) -> None:
        self._samples.append((now, counts))
        while len(self._samples) > 2 and now - self._samples[0][0] > self.window:
            self._samples.popleft()

    def rates(self) -> tuple[float, ...]:
        if len(self._samples) < 2:
            return ()
        (t0, first), (t1, last) = self._samples[0], self._samples[-1]
        span = t1 - t0
        return tuple((b - a) / span if span > 0 else 0.0 for a, b in zip(first, last, strict=True))


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
    meter: RateMeter = field(default_factory=RateMeter)
    cluster: ClusterNode | None = None

    def sample(self, now: float) -> None:
        """Once a second: the counters behind the rates."""
        sf = self.switching
        self.meter.sample(now, (sf.events_received, sf.requests_received))

    def report(self) -> dict[str, object]:
        rates = self.meter.rates() or (0.0, 0.0)
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
            "event_loop": loop_name(),
            "cluster": self.cluster.status() if self.cluster is not None else None,
            "webhooks": clients.webhooks.stats(),
            "client_service": {
                "running": clients.running,
                "since": _iso(clients.since),
                "listening": [vars(item) for item in clients.listening],
                **self.switching.status(),
                "events_per_second": round(rates[0], 1),
                "requests_per_second": round(rates[1], 1),
            },
        }

    def by_vendor_and_transport(self) -> dict[tuple[str, str], dict[str, int]]:
        """Known, registered and controllable phones by vendor and the
        transport they registered over ('' while not registered): counted
        once, for the status and for the metrics."""
        out: dict[tuple[str, str], dict[str, int]] = {}
        bindings = self.registrar.bindings
        for phone in self.directory.unordered():
            binding = bindings.get(phone.mac)
            transport = binding.connection.transport_name if binding is not None else ""
            row = out.setdefault(
                (phone.vendor, transport), {"known": 0, "registered": 0, "controllable": 0}
            )
            row["known"] += 1
            if binding is not None:
                row["registered"] += 1
                row["controllable"] += self.sessions.controllable(phone.mac)
        return out

    def by_vendor(self) -> dict[str, dict[str, int]]:
        """Known, registered and controllable phones of each vendor."""
        out: dict[str, dict[str, int]] = {}
        for (vendor, _transport), row in sorted(self.by_vendor_and_transport().items()):
            total = out.setdefault(vendor, dict.fromkeys(row, 0))
            for key, count in row.items():
                total[key] += count
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
        if self.cluster is not None:
            out["node"] = self.cluster.node_of(mac)
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
        identities = []
        for d in devices:
            point = points.get(d.key)
            identities.append(
                {
                    "device": d.id.value,
                    "monitor": point.state.value if point else "none",
                    "subscribers": len(point.subscribers) if point else 0,
                    "problem": point.problem if point else "",
                }
            )
        out["identities"] = identities
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
