"""core.handover with a home and a switching function of the test's own:
what the first node kept comes again under its numbers, a monitor of a
device that is gone ends with MonitorStop, a resume that would lose events
is refused, and a resume cut short leaves the session for another try."""

from __future__ import annotations

import asyncio
from dataclasses import dataclass, field

import pytest

from uacsta.core.client_session import ClientSession, FaceKind, ResumeError, Sequenced
from uacsta.core.devices import Device, DeviceDirectory, DeviceRights
from uacsta.core.handover import Handover, resume_elsewhere
from uacsta.core.monitors import MonitorTable, PointState, Subscription
from uacsta.csta import model as m
from uacsta.csta.types import DeviceID, EventCause, EventDevice


@dataclass
class Switching:
    """What a take-over uses of the switching function: monitors already running."""

    devices: DeviceDirectory = field(default_factory=DeviceDirectory)
    table: MonitorTable = field(default_factory=MonitorTable)
    detached: list[str] = field(default_factory=list)

    def subscribe(self, client: ClientSession, device: Device, xref: str = "") -> Subscription:
        sub = self.table.subscribe(client, device, xref)
        sub.point.state = PointState.ACTIVE
        return sub

    def back_in_service(self, sub: Subscription) -> m.CstaMessage:
        return m.BackInServiceEvent(
            monitorCrossRefID=sub.xref,
            device=EventDevice.of(sub.point.device.id.value),
            cause=EventCause.NORMAL,
        )

    async def until_started(self, device: Device) -> None:
        return None

    def detach(self, client: ClientSession, reason: str, *, keep: bool) -> None:
        self.detached.append(reason)


@dataclass
class Home:
    handover: Handover
    missed_events: list[tuple[int, m.CstaMessage]]
    fail: BaseException | None = None

    async def take(self, login: str, session_id: str) -> Handover:
        return self.handover

    async def missed(
        self, device: str, after: int | None, since: float
    ) -> list[tuple[int, m.CstaMessage]]:
        if self.fail is not None:
            raise self.fail
        return [(n, e) for n, e in self.missed_events if after is None or n > after]


def names(client: ClientSession) -> list[tuple[int, str]]:
    out = []
    while client.queued:
        item = client._queue.popleft()
        out.append((item.seq, str(item.payload)))
    return out


def session(sid: str) -> ClientSession:  # the face's attach
    return ClientSession("crm", FaceKind.JSON, encode=lambda e: type(e).__name__, id=sid)


def setup() -> tuple[Switching, Handover]:
    sf = Switching()
    sf.devices.set_identities("000413000201", [DeviceID("sip:201@pbx")])
    key = sf.devices.all()[0].key
    sent = [
        Sequenced(5, "HeldEvent", "", (key, 100)),
        Sequenced(6, "DoNotDisturbEvent", "", (key, 101)),
    ]
    return sf, Handover("crm", [("a.1", key), ("a.2", "gone@pbx")], sent, 6, 0.0)


async def test_the_first_nodes_events_again_then_the_monitors_then_what_was_missed() -> None:
    sf, handover = setup()
    missed: list[tuple[int, m.CstaMessage]] = [
        (101, m.DoNotDisturbEvent(monitorCrossRefID="x")),  # had it
        (102, m.ForwardingEvent(monitorCrossRefID="x")),
    ]
    client = await resume_elsewhere(
        sf, Home(handover, missed), "crm", "s1", 5, DeviceRights(), session
    )
    assert client.id == "s1"
    assert names(client) == [
        (6, "DoNotDisturbEvent"),
        (7, "ForwardingEvent"),  # missed: it happened before the monitor came back
        (8, "BackInServiceEvent"),
        (9, "MonitorStop"),  # its device is no more
    ]
    assert [s.xref for s in sf.table.of_client(client)] == ["a.1"]


@pytest.mark.parametrize(("after", "why"), [(7, "never sent"), (3, "no longer kept")])
async def test_a_resume_that_would_lose_events_is_refused(after: int, why: str) -> None:
    sf, handover = setup()
    with pytest.raises(ResumeError, match=why):
        await resume_elsewhere(sf, Home(handover, []), "crm", "s1", after, DeviceRights(), session)


async def test_a_resume_cut_short_leaves_the_session_to_try_again() -> None:
    sf, handover = setup()
    made: list[ClientSession] = []

    def attach(sid: str) -> ClientSession:
        made.append(session(sid))
        return made[-1]

    home = Home(handover, [], fail=asyncio.CancelledError())
    with pytest.raises(asyncio.CancelledError):
        await resume_elsewhere(sf, home, "crm", "s1", 5, DeviceRights(), attach)
    assert sf.detached == ["the resume did not complete"]
    # nothing waits paused: what was queued is there to be resumed
    assert [seq for seq, _ in names(made[0])] == [6, 7, 8]
