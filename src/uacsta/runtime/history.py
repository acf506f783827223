"""The dashboard's series: what the server looked like over the last hour
(a point every 10 s) and the last day (a point every 5 minutes), kept in
memory (a restart starts them again; Prometheus keeps the long history)."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass

# name -> what it shows; counters (their change per second) end in "_per_s"
SERIES: dict[str, str] = {
    "registered": "phones registered",
    "controllable": "phones controllable (dialog up)",
    "recovering": "dialogs being recovered",
    "calls": "active calls",
    "clients": "client sessions",
    "events_per_s": "events from phones per second",
    "requests_per_s": "client requests per second",
    "refusals_per_s": "refused connections and messages per second",
    "failed_logins_per_s": "failed logins per second",
}
RANGES: dict[str, tuple[float, int]] = {"hour": (10.0, 360), "day": (300.0, 288)}


@dataclass(frozen=True, slots=True)
class Reading:
    """One look at the server: levels, and counters since the start."""

    registered: int
    controllable: int
    recovering: int
    calls: int
    clients: int
    events: int
    requests: int
    refusals: int
    failed_logins: int


class _Range:
    def __init__(self, step: float, points: int) -> None:
        self.step = step
        self.points: deque[dict[str, float]] = deque(maxlen=points)
        self.last: tuple[float, Reading] | None = None

    def sample(self, now: float, wall: float, reading: Reading) -> dict[str, float] | None:
        if self.last is None:
            self.last = (now, reading)
            return None
        then, before = self.last
        span = now - then
        if span < self.step:
            return None
        self.last = (now, reading)
        point = {
            "t": round(wall, 1),
            "registered": reading.registered,
            "controllable": reading.controllable,
            "recovering": reading.recovering,
            "calls": reading.calls,
            "clients": reading.clients,
            "events_per_s": round((reading.events - before.events) / span, 2),
            "requests_per_s": round((reading.requests - before.requests) / span, 2),
            "refusals_per_s": round((reading.refusals - before.refusals) / span, 3),
            "failed_logins_per_s": round((reading.failed_logins - before.failed_logins) / span, 3),
        }
        self.points.append(point)
        return point


class History:
    def __init__(
        self,
        read: Callable[[], Reading],
        ranges: dict[str, tuple[float, int]] | None = None,
        wall: Callable[[], float] = time.time,
    ) -> None:
        self.read = read
        self.wall = wall
        self.ranges = {name: _Range(*spec) for name, spec in (ranges or RANGES).items()}
        self.listeners: list[Callable[[str, dict[str, float]], None]] = []

    def restart(self, ranges: dict[str, tuple[float, int]]) -> None:
        """Start the series again with other steps (seconds, points kept)."""
        self.ranges = {name: _Range(*spec) for name, spec in ranges.items()}

    def sample(self, now: float) -> None:
        """Each housekeeping round: a point where a range's step has passed."""
        if not any(r.last is None or now - r.last[0] >= r.step for r in self.ranges.values()):
            return  # nothing due: the server is not read (it walks every phone)
        reading = self.read()
        wall = self.wall()
        for name, series in self.ranges.items():
            point = series.sample(now, wall, reading)
            if point is not None:
                for listener in list(self.listeners):
                    listener(name, point)

    def series(self, name: str) -> dict[str, object]:
        """A range as uPlot takes it: the times, then each series' values."""
        rng = self.ranges[name]
        points = list(rng.points)
        return {
            "range": name,
            "step": rng.step,
            "names": SERIES,
            "t": [p["t"] for p in points],
            **{key: [p[key] for p in points] for key in SERIES},
        }
