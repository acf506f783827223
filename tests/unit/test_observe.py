"""The dashboard's history, the trace's bounds and the call journal, with a
fake clock."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

import pytest

from uacsta.core.journal import Journal
from uacsta.csta import model as m
from uacsta.csta.callstate import CallTracker
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.types import ConnectionID, DeviceID, EventCause, EventDevice
from uacsta.logs import request_id
from uacsta.runtime.history import History, Reading
from uacsta.trace import BUFFER, Tracer


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def reading(registered: int = 0, events: int = 0, refusals: int = 0) -> Reading:
    return Reading(registered, registered, 0, 0, 0, events, 0, refusals, 0)


def test_history_points_at_each_step_with_rates_from_counters() -> None:
    current = [reading()]
    history = History(lambda: current[0], {"hour": (10.0, 3), "day": (30.0, 2)}, wall=lambda: 1e9)
    told: list[str] = []
    history.listeners.append(lambda name, _point: told.append(name))
    history.sample(0.0)  # the first look only sets the start
    current[0] = reading(registered=5, events=100, refusals=4)
    history.sample(5.0)  # not a step yet
    assert history.series("hour")["t"] == []
    history.sample(10.0)
    hour = history.series("hour")
    assert hour["registered"] == [5] and hour["events_per_s"] == [10.0]
    assert hour["refusals_per_s"] == [0.4]
    current[0] = reading(registered=7, events=100)
    for t in (20.0, 30.0, 40.0):
        history.sample(t)
    hour = history.series("hour")
    assert hour["t"] == [1e9] * 3  # bounded: the oldest point went
    assert hour["events_per_s"] == [0.0] * 3 and hour["registered"] == [7] * 3
    assert history.series("day")["registered"] == [7]  # one 30 s step so far
    assert told.count("hour") == 4 and told.count("day") == 1


async def test_a_trace_ends_after_its_count_and_records_only_its_phone() -> None:
    clock = Clock()
    tracer = Tracer(clock)
    watch = tracer.start(frozenset({"000413000001"}), seconds=60, messages=2)
    assert tracer.watched == {"000413000001"}
    tracer.record("001565000002", "phone", "server", "sip", "INFO", "x")  # not followed
    tracer.record("000413000001", "phone", "server", "sip", "INFO", "a")
    tracer.record("000413000001", "server", "phone", "sip", "200 OK (INFO)", "b")
    tracer.record("000413000001", "phone", "server", "sip", "INFO", "c")  # after the end
    got = [e.text async for e in tracer.entries(watch)]
    assert got == ["a", "b"] and watch.ended == "message limit reached"
    assert tracer.watched == set()  # cheap again: nothing is checked further


async def test_a_trace_ends_after_its_time_and_a_slow_watcher_loses_the_oldest() -> None:
    clock = Clock()
    tracer = Tracer(clock)
    watch = tracer.start(frozenset({"M"}), seconds=5, messages=10_000)
    for i in range(BUFFER + 10):
        tracer.record("M", "phone", "server", "sip", "INFO", str(i))
    assert watch.dropped == 10
    clock.now += 6
    tracer.record("M", "phone", "server", "sip", "INFO", "late")
    got = [e.text async for e in tracer.entries(watch)]
    assert got[0] == "10" and got[-1] == str(BUFFER + 9) and "late" not in got
    assert watch.ended == "time is up"


async def test_an_idle_trace_ends_when_its_time_is_up() -> None:
    tracer = Tracer()  # the real clock: a second's trace with nothing in it
    watch = tracer.start(frozenset({"M"}), seconds=1)
    got = await asyncio.wait_for(_all(tracer, watch), 5)
    assert got == [] and watch.ended == "time is up"


async def _all(tracer: Tracer, watch: object) -> list[str]:
    return [e.text async for e in tracer.entries(watch)]  # type: ignore[arg-type]


A = "sip:201@pbx.example"


def conn(call: str, device: str = A) -> ConnectionID:
    return ConnectionID(call, DeviceID(device))


def following(journal: Journal, mac: str, device: str) -> Callable[[m.CstaMessage], None]:
    """What the switching function does with a monitored device's event: the
    tracker applies it, then the journal sees the calls before and after."""
    tracker = CallTracker()

    def apply(event: m.CstaMessage) -> None:
        before = set(tracker.calls)
        tracker.apply(event)
        journal.event(mac, device, tracker, before, event)

    return apply


def test_the_journal_logs_a_call_from_start_to_end(caplog: pytest.LogCaptureFixture) -> None:
    clock = Clock()
    journal = Journal(clock)
    apply = following(journal, "000413000001", A)

    caplog.set_level(logging.INFO, "uacsta.calls")
    apply(m.ServiceInitiatedEvent(monitorCrossRefID="1", initiatedConnection=conn("C1")))
    apply(
        m.DeliveredEvent(
            monitorCrossRefID="1",
            connection=conn("C1", "sip:202@pbx.example"),
            alertingDevice=EventDevice.of("sip:202@pbx.example"),
            callingDevice=EventDevice.of(A),
            calledDevice=EventDevice.of("sip:202@pbx.example"),
        )
    )
    clock.now += 2.5
    apply(
        m.EstablishedEvent(
            monitorCrossRefID="1",
            establishedConnection=conn("C1"),
            answeringDevice=EventDevice.of("sip:202@pbx.example"),
        )
    )
    assert journal.active_calls == 1
    clock.now += 60
    apply(
        m.ConnectionClearedEvent(
            monitorCrossRefID="1",
            droppedConnection=conn("C1"),
            releasingDevice=EventDevice.of(A),
            cause=EventCause.NORMAL_CLEARING,
        )
    )
    lines = [r.getMessage() for r in caplog.records]
    assert lines == [
        f"call C1 at {A} started (outgoing)",
        f"call C1 at {A} answered by sip:202@pbx.example after 2.5 s",
        f"call C1 at {A} ended after 62 s (60 s answered), cause normalClearing",
    ]
    assert all(r.tag == "000413000001" for r in caplog.records)  # type: ignore[attr-defined]
    assert journal.active_calls == 0


async def test_a_request_id_follows_the_call_it_made() -> None:
    clock = Clock()
    journal = Journal(clock)
    seen: list[tuple[str, str, float]] = []
    journal.request_listeners.append(lambda *args: seen.append(args))

    async def request() -> str:
        rid = journal.request_started()
        clock.now += 0.25
        answer = m.MakeCallResponse(callingDevice=conn("C7"))
        journal.request_done(
            m.MakeCall(callingDevice=DeviceID(A), calledDirectoryNumber=DeviceID("202")),
            answer,
            100.0,
        )
        assert request_id.get() == rid  # the rest of the request's task carries it
        return rid

    rid = await asyncio.create_task(request())
    assert request_id.get() == ""  # not outside it
    assert journal.correlation(conn("C7")) == rid and journal.correlation(conn("C8")) == ""
    refused = CSTAErrorCode.operation("invalidDeviceID")
    journal.request_done(m.AnswerCall(callToBeAnswered=conn("C9")), refused, 100.0)
    assert seen == [("MakeCall", "positive", 0.25), ("AnswerCall", "invalidDeviceID", 0.25)]


def test_the_journal_logs_a_transfer_and_follows_the_new_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """B (monitored) holds the call from A, consults C, transfers: B's two
    calls end in one line that names the new call; the new call's end is logged
    at whatever device still has it (here none: B left)."""
    clock = Clock()
    journal = Journal(clock)
    b = "sip:202@pbx.example"
    apply = following(journal, "001565000202", b)

    caplog.set_level(logging.INFO, "uacsta.calls")
    apply(
        m.DeliveredEvent(
            monitorCrossRefID="1",
            connection=conn("C1", b),
            callingDevice=EventDevice.of(A),
            calledDevice=EventDevice.of(b),
        )
    )
    apply(m.EstablishedEvent(monitorCrossRefID="1", establishedConnection=conn("C1", b)))
    apply(m.HeldEvent(monitorCrossRefID="1", heldConnection=conn("C1", b)))
    apply(m.ServiceInitiatedEvent(monitorCrossRefID="1", initiatedConnection=conn("C2", b)))
    apply(m.EstablishedEvent(monitorCrossRefID="1", establishedConnection=conn("C2", b)))
    assert journal.active_calls == 2
    apply(
        m.TransferedEvent(
            monitorCrossRefID="1",
            primaryOldCall=conn("C1", b),
            secondaryOldCall=conn("C2", b),
            transferringDevice=EventDevice.of(b),
            transferredToDevice=EventDevice.of("sip:203@pbx.example"),
            localConnectionInfo=None,
        )
    )
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == f"call C1 at {b} started (incoming) with {A}"
    assert lines[-1] == f"call C1, C2 at {b} transferred to sip:203@pbx.example, left by it"
    assert journal.active_calls == 0


def test_the_journal_logs_a_conference_and_the_end_of_the_joined_call(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """B talks to A, consults C, joins them: one line names both old calls
    and the new one; the new call's end counts from the first call's start."""
    clock = Clock()
    journal = Journal(clock)
    b, c = "sip:202@pbx.example", "sip:203@pbx.example"
    apply = following(journal, "001565000202", b)

    caplog.set_level(logging.INFO, "uacsta.calls")
    apply(m.DeliveredEvent(monitorCrossRefID="1", connection=conn("C1", b)))
    apply(m.EstablishedEvent(monitorCrossRefID="1", establishedConnection=conn("C1", b)))
    apply(m.HeldEvent(monitorCrossRefID="1", heldConnection=conn("C1", b)))
    apply(m.ServiceInitiatedEvent(monitorCrossRefID="1", initiatedConnection=conn("C2", b)))
    apply(m.EstablishedEvent(monitorCrossRefID="1", establishedConnection=conn("C2", b)))
    clock.now += 30
    apply(
        m.ConferencedEvent(
            monitorCrossRefID="1",
            primaryOldCall=conn("C1", b),
            secondaryOldCall=conn("C2", b),
            conferencingDevice=EventDevice.of(b),
            addedParty=EventDevice.of(c),
            conferenceConnections=[m.ConnectionListItem(newConnection=conn("C3", b))],
        )
    )
    assert journal.active_calls == 1
    clock.now += 10
    apply(m.ConnectionClearedEvent(monitorCrossRefID="1", droppedConnection=conn("C3", b)))
    lines = [r.getMessage() for r in caplog.records]
    assert f"call C1, C2 at {b} conferenced with {c}, now call C3" in lines, lines
    assert lines[-1] == f"call C3 at {b} ended after 40 s (40 s answered)", lines
    assert journal.active_calls == 0
