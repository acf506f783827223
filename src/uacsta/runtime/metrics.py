"""Prometheus metrics and health (docs/metrics.md lists every name and label).

Most of it is read when Prometheus scrapes: the collector walks the live
state (bindings, dialogs, monitors, client sessions) and the plain counters
the domain keeps anyway (refusals, lifecycle transitions, events by type), so
nothing is paid per message for a metric nobody reads.  The one thing that
cannot be read afterwards, each request's latency, goes into a
``prometheus_client`` histogram as the request is answered.

Each server has its own registry: several servers in one process (the tests)
never share a metric.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterable, Iterator
from typing import TYPE_CHECKING, TypeVar

from prometheus_client import CollectorRegistry, Histogram, generate_latest
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily
from prometheus_client.process_collector import ProcessCollector
from prometheus_client.registry import Collector

from .. import __version__
from ..core.monitors import PointState
from ..faces.logins import ClientLogins
from ..logs import LogManager
from ..phones.lifecycle import Phase
from ..store.db import Database
from ..vendors import typed_user
from .history import History, Reading

if TYPE_CHECKING:
    from prometheus_client import Metric

    from .status import StatusReport

# From a server-side answer (well under a millisecond) to a phone's slow one.
LATENCY_BUCKETS = (0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0)
Values = Iterable[tuple[tuple[str, ...], float]]
Family = TypeVar("Family", CounterMetricFamily, GaugeMetricFamily)


def _family(kind: type[Family], name: str, doc: str, labels: list[str], values: Values) -> Family:
    family = kind(name, doc, labels=labels)
    for key, value in values:
        family.add_metric(list(key), value)
    return family


def _counter(name: str, doc: str, labels: list[str], values: Values) -> CounterMetricFamily:
    return _family(CounterMetricFamily, name, doc, labels, values)


def _gauge(name: str, doc: str, labels: list[str], values: Values) -> GaugeMetricFamily:
    return _family(GaugeMetricFamily, name, doc, labels, values)


class _State(Collector):
    """The live state, read at scrape time."""

    def __init__(self, report: StatusReport, logins: ClientLogins, logs: LogManager) -> None:
        self.report, self.logins, self.logs = report, logins, logs

    def collect(self) -> Iterator[Metric]:
        r = self.report
        sessions = r.sessions
        yield InfoMetricFamily(
            "uacsta_build", "The server's version.", value={"version": __version__}
        )
        yield _gauge(
            "uacsta_service_up",
            "1 while the service runs (phone: SIP listeners; client: uaCSTA and JSON API).",
            ["service"],
            [(("phone",), float(r.phones.running)), (("client",), float(r.clients.running))],
        )
        known: Counter[tuple[str]] = Counter()
        registered: Counter[tuple[str, str]] = Counter()
        controllable: Counter[tuple[str, str]] = Counter()
        for (vendor, transport), row in r.by_vendor_and_transport().items():
            known[(vendor,)] += row["known"]
            if transport:
                registered[(vendor, transport)] += row["registered"]
                if row["controllable"]:
                    controllable[(vendor, transport)] += row["controllable"]
        yield _gauge(
            "uacsta_phones_known", "Phones in the telephone list.", ["vendor"], known.items()
        )
        yield _gauge(
            "uacsta_phones_registered",
            "Phones with a current registration.",
            ["vendor", "transport"],
            registered.items(),
        )
        yield _gauge(
            "uacsta_phones_controllable",
            "Phones whose uaCSTA dialog is up.",
            ["vendor", "transport"],
            controllable.items(),
        )
        yield _gauge(
            "uacsta_phone_lifecycle",
            "Phones in each lifecycle phase.",
            ["phase"],
            (((phase,), n) for phase, n in sessions.phases().items()),
        )
        yield _counter(
            "uacsta_phone_lifecycle_transitions",
            "Lifecycle transitions since the start, by phase left, phase entered and trigger.",
            ["from_phase", "to_phase", "trigger"],
            sessions.transitions.items(),
        )
        yield from self._clients()
        yield from self._traffic()

    def _clients(self) -> Iterator[Metric]:
        sf = self.report.switching
        points = sf.monitors.points.values()
        states = Counter(p.state.value for p in points)
        yield _gauge(
            "uacsta_monitors",
            "Monitor points in the phones, by state (one per device, shared by clients).",
            ["state"],
            (((s.value,), states.get(s.value, 0)) for s in PointState),
        )
        yield _gauge(
            "uacsta_monitor_subscriptions",
            "Client monitors on the monitor points.",
            [],
            [((), sum(len(p.subscribers) for p in points))],
        )
        clients: Counter[tuple[str, str]] = Counter()
        queued: Counter[tuple[str]] = Counter()
        for client in sf.clients.values():
            clients[(client.face.value, "attached" if client.attached else "detached")] += 1
            queued[(client.face.value,)] += client.queued
        yield _gauge(
            "uacsta_client_sessions",
            "Client sessions by face (sip, json) and whether attached or kept for a resume.",
            ["face", "state"],
            clients.items(),
        )
        yield _gauge(
            "uacsta_client_queue_events",
            "Events waiting to be written to clients, by face.",
            ["face"],
            queued.items(),
        )
        yield _counter(
            "uacsta_phone_events",
            "CSTA events received from the phones, by type.",
            ["type"],
            (((t,), n) for t, n in sf.journal.events.items()),
        )
        yield _counter(
            "uacsta_client_events_dropped",
            "Events not given to a client, its session closed (too slow), by face.",
            ["face"],
            (((face,), n) for face, n in sf.journal.dropped.items()),
        )
        posts: Counter[tuple[str, str]] = Counter()
        for hook in self.report.clients.webhooks.stats():
            for result, key in (("delivered", "delivered"), ("retried", "retries")):
                posts[(hook["login"], result)] += hook[key]
            posts[(hook["login"], "dead_letter")] += hook["dead_letters"]
        yield _counter(
            "uacsta_webhook_posts",
            "Webhook posts by login and result (delivered; retried: an attempt failed and "
            "was made again; dead_letter: an event given up).",
            ["login", "result"],
            posts.items(),
        )
        yield _gauge(
            "uacsta_active_calls",
            "Calls followed at monitored devices.",
            [],
            [((), sf.journal.active_calls)],
        )

    def _traffic(self) -> Iterator[Metric]:
        r = self.report
        yield _counter(
            "uacsta_sip_register_requests",
            "REGISTER requests handled (challenges and refusals included).",
            [],
            [((), r.registrar.registers)],
        )
        client_refused = sum((s.refused for s in r.clients.streams), Counter[str]())
        refused = [(("phone", reason), n) for reason, n in r.phones.sip.refused.items()] + [
            (("client", reason), n) for reason, n in client_refused.items()
        ]
        yield _counter(
            "uacsta_refused_connections",
            "Connections and messages refused by the SIP and CSTA listeners, by side and reason.",
            ["side", "reason"],
            refused,
        )
        failed = [(("phone", reason), n) for reason, n in r.registrar.refusals.items()] + [
            ((face or "other", "wrong password or locked out"), n)
            for face, n in self.logins.refused.items()
        ]
        yield _counter(
            "uacsta_failed_logins",
            "Failed logins by face (phone: REGISTER; sip, rest, websocket, csta: clients) "
            "and reason.",
            ["face", "reason"],
            failed,
        )
        yield _gauge(
            "uacsta_connections",
            "Open SIP and CSTA-over-TCP connections by side.",
            ["side"],
            [
                (("phone",), len(r.phones.sip.connections)),
                (("client",), sum(len(s.connections) for s in r.clients.streams)),
            ],
        )
        yield _gauge(
            "uacsta_event_loop_lag_seconds",
            "The worst lateness of the event loop over the last minute.",
            [],
            [((), r.watch.lag)],
        )
        yield _gauge(
            "uacsta_log_queue_records",
            "Log records waiting to be written to the log file.",
            [],
            [((), self.logs.pending)],
        )


class ServerMetrics:
    def __init__(self, report: StatusReport, logins: ClientLogins, logs: LogManager) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        self.registry.register(_State(report, logins, logs))
        ProcessCollector(registry=self.registry)
        self.requests = Histogram(
            "uacsta_client_request_seconds",
            "Client requests from arrival to the answer, by service and result.",
            ["service", "result"],
            buckets=LATENCY_BUCKETS,
            registry=self.registry,
        )
        report.switching.journal.request_listeners.append(self.request_answered)

    def request_answered(self, service: str, result: str, seconds: float) -> None:
        self.requests.labels(service, result).observe(seconds)

    def exposition(self) -> bytes:
        return generate_latest(self.registry)


async def readiness(db: Database, report: StatusReport) -> dict[str, object]:
    """What /readyz says: the store answers, and the phone and client
    services listen.  ``ready`` is all of them."""
    checks: dict[str, object] = {}
    try:
        await db.ping()
        checks["store"] = "ok"
    except Exception as exc:  # any failure of the store is "not ready", with why
        checks["store"] = f"unreachable: {exc}"
    checks["phone_service"] = "listening" if report.phones.running else "stopped"
    checks["client_service"] = "listening" if report.clients.running else "stopped"
    checks["ready"] = checks["store"] == "ok" and report.phones.running and report.clients.running
    checks["dialogs_up"] = report.sessions.phases()[Phase.UP.value]
    return checks


class Observability:
    """What the admin layer sees of the server's health: the exposition,
    readiness, the dashboard's series and the trace's device lookup."""

    def __init__(
        self, report: StatusReport, logins: ClientLogins, logs: LogManager, db: Database
    ) -> None:
        self.report, self.logins, self.db = report, logins, db
        self.prometheus = ServerMetrics(report, logins, logs)
        self.history = History(self._reading)
        self._fresh = asyncio.Event()
        self.history.listeners.append(lambda _range, _point: self._woken())

    def _woken(self) -> None:
        self._fresh.set()
        self._fresh = asyncio.Event()

    def _reading(self) -> Reading:
        r = self.report
        phases = r.sessions.phases()
        return Reading(
            registered=len(r.registrar.bindings),
            controllable=phases[Phase.UP.value],
            recovering=phases[Phase.RECOVERING.value],
            calls=r.switching.journal.active_calls,
            clients=len(r.switching.clients),
            events=r.switching.events_received,
            requests=r.switching.requests_received,
            refusals=sum(r.phones.sip.refused.values())
            + sum(sum(s.refused.values()) for s in r.clients.streams),
            failed_logins=sum(r.registrar.refusals.values()) + sum(self.logins.refused.values()),
        )

    def sample(self, now: float) -> None:
        self.history.sample(now)

    def metrics(self) -> bytes:
        return self.prometheus.exposition()

    async def ready(self) -> dict[str, object]:
        return await readiness(self.db, self.report)

    def series(self, name: str) -> dict[str, object]:
        return self.history.series(name)

    async def next_point(self) -> None:
        """Wait until a new point is in the series."""
        await self._fresh.wait()

    def resolve(self, target: str) -> str | None:
        """The phone a trace follows: a MAC or handset ID, or a device
        (``sip:201@pbx``, ``201``) in any spelling the server knows."""
        user = typed_user(target)
        r = self.report
        if user is not None and (r.directory.get(user) or r.sessions.line(user)):
            return user
        device = r.switching.devices.find(target)
        return device.mac if device is not None else None
