"""The switching function's plain parts: the device directory and rights,
the per-client event stream, and the routing table."""

from __future__ import annotations

import asyncio

import pytest

from uacsta.core.client_session import (
    ClientClosed,
    ClientSession,
    FaceKind,
    ResumeError,
    Sequenced,
)
from uacsta.core.devices import DeviceDirectory, DeviceRights
from uacsta.core.router import Route, respell, route, subject
from uacsta.csta import model as m
from uacsta.csta.types import ConnectionID, DeviceID
from uacsta.vendors import profile


def test_directory_finds_a_device_by_every_spelling() -> None:
    d = DeviceDirectory()
    d.set_identities("000413000201", [DeviceID("sip:201@PBX.example:5060;transport=tcp")])
    for spelling in (
        "201",
        "201@pbx.example",
        "sip:201@pbx.example",
        "tel:201",
        "sips:201@pbx.example;user=phone",
    ):
        device = d.find(spelling)
        assert device is not None and device.mac == "000413000201"
    assert d.find("201@other.example") is None
    assert d.find("202") is None


def test_a_bare_number_two_hosts_share_is_ambiguous() -> None:
    d = DeviceDirectory()
    d.set_identities("a", [DeviceID("sip:201@one.example")])
    d.set_identities("b", [DeviceID("sip:201@two.example")])
    assert d.find("201") is None
    assert d.find("201@two.example") is not None and d.find("201@two.example").mac == "b"  # type: ignore[union-attr]


def test_identities_change_and_move_between_phones() -> None:
    d = DeviceDirectory()
    d.set_identities("a", [DeviceID("sip:201@x"), DeviceID("sip:202@x")])
    gone = d.set_identities("a", [DeviceID("sip:201@x")])
    assert [g.key for g in gone] == ["202@x"]
    assert d.find("202") is None
    d.set_identities("b", [DeviceID("sip:201@x")])  # one owner: the last to report it
    assert d.find("201").mac == "b"  # type: ignore[union-attr]
    assert d.of_phone("a") == []
    assert len(d) == 1


def test_rights_by_pattern_number_or_mac() -> None:
    d = DeviceDirectory()
    d.set_identities("000413000201", [DeviceID("sip:201@x")])
    device = d.find("201")
    assert device is not None
    assert DeviceRights().allows(device)
    assert DeviceRights(("20*",)).allows(device)
    assert DeviceRights(("201@x",)).allows(device)
    assert DeviceRights(("000413*",)).allows(device)
    assert not DeviceRights(("3*", "202")).allows(device)


async def test_events_in_order_bounded_and_resumable() -> None:
    client = ClientSession("crm", FaceKind.JSON, max_queue=5)
    for i in range(5):
        assert client.push(m.SystemRegisterAbort(sysStatRegisterID=str(i)))
    seen = []
    async for item in client.events():
        seen.append(item.seq)
        if len(seen) == 3:
            break
    assert seen == [1, 2, 3]
    # the face lost the connection after writing 3: resume after 2 repeats 3
    client.rewind(2)
    stream = client.events()
    assert [(await anext(stream)).seq for _ in range(3)] == [3, 4, 5]
    with pytest.raises(ResumeError):
        client.rewind(9)


async def test_a_session_taken_over_numbers_on_and_drops_what_it_caught_up() -> None:
    """Resuming on another node (core.handover): the first node's events come
    again under their numbers; a live event that waited while the missed ones
    were caught up from the device's stream goes out once."""

    def ev(name: str) -> m.SystemRegisterAbort:  # any event: the payload is its name
        return m.SystemRegisterAbort(sysStatRegisterID=name)

    def name_of(event: m.CstaMessage) -> str:
        return event.sysStatRegisterID if isinstance(event, m.SystemRegisterAbort) else ""

    client = ClientSession("crm", FaceKind.JSON, encode=name_of)
    mirrored: list[int] = []
    client.mirror = lambda item: mirrored.append(item.seq)
    client.pause(after_seq=7)
    client.replay(Sequenced(8, "held", "", ("201@pbx", 41)))
    client.push(ev("retrieved"), origin=("201@pbx", 43))  # live: waits while paused
    assert client.queued == 1 and client.floor("201@pbx") == 41
    client.catch_up(ev("held"), ("201@pbx", 41))  # had it
    client.catch_up(ev("diverted"), ("201@pbx", 42))
    client.catch_up(ev("retrieved"), ("201@pbx", 43))
    client.unpause()  # the waiting copy of 43 is dropped
    client.push(ev("conferenced"), origin=("201@pbx", 44))
    client.push(ev("again"), origin=("201@pbx", 43))  # a late duplicate
    stream = client.events()
    got = [await anext(stream) for _ in range(4)]
    assert [(g.seq, g.payload) for g in got] == [
        (8, "held"),
        (9, "diverted"),
        (10, "retrieved"),
        (11, "conferenced"),
    ]
    assert client.queued == 0 and mirrored == [8, 9, 10, 11]


async def test_a_client_too_far_behind_is_closed() -> None:
    client = ClientSession("crm", FaceKind.JSON, max_queue=3)
    for i in range(3):
        assert client.push(m.SystemRegisterAbort(sysStatRegisterID=str(i)))
    assert not client.push(m.SystemRegisterAbort(sysStatRegisterID="x"))
    assert client.closed_because is not None and "too slow" in client.closed_because
    stream = client.events()
    got = [(await anext(stream)).seq for _ in range(3)]  # what was queued is still written
    assert got == [1, 2, 3]
    with pytest.raises(ClientClosed):
        await asyncio.wait_for(anext(stream), 1)


async def test_resume_refused_when_events_were_dropped() -> None:
    client = ClientSession("crm", FaceKind.JSON, retain=2)
    for i in range(5):
        client.push(m.SystemRegisterAbort(sysStatRegisterID=str(i)))
    stream = client.events()
    for _ in range(5):
        await anext(stream)
    client.rewind(3)  # 4 and 5 are kept
    with pytest.raises(ResumeError, match="no longer kept"):
        client.rewind(1)


async def test_events_after_a_response_wait_for_it() -> None:
    client = ClientSession("crm", FaceKind.JSON)
    client.push(m.SystemRegisterAbort(sysStatRegisterID="late"), after_response=True)
    assert client.queued == 0
    client.release()
    assert client.queued == 1


@pytest.mark.parametrize(
    ("vendor", "feature", "expected"),
    [
        ("snom", m.AlternateCall, Route.EMULATE),
        ("snom", m.SnapshotCall, Route.EMULATE),
        ("mitel", m.SnapshotCall, Route.PHONE),
        ("gigaset", m.AlternateCall, Route.REFUSE),  # no Hold/Retrieve to build it from
        ("gigaset", m.HoldCall, Route.REFUSE),
        ("gigaset", m.ClearConnection, Route.PHONE),  # limited, but there
        ("poly", m.SetDoNotDisturb, Route.REFUSE),
        ("poly", m.GenerateDigits, Route.REFUSE),
        ("yealink", m.SetMessageWaitingIndicator, Route.PHONE),  # not in the tables
    ],
)
def test_route_follows_the_manuals_tables(
    vendor: str, feature: type[m.CstaMessage], expected: Route
) -> None:
    # an instance is needed only for its type: build the smallest one
    conn = ConnectionID("1", DeviceID("201"))
    samples: dict[type[m.CstaMessage], m.CstaMessage] = {
        m.AlternateCall: m.AlternateCall(heldCall=conn, activeCall=conn),
        m.SnapshotCall: m.SnapshotCall(snapshotObject=conn),
        m.HoldCall: m.HoldCall(callToBeHeld=conn),
        m.ClearConnection: m.ClearConnection(connectionToBeCleared=conn),
        m.SetDoNotDisturb: m.SetDoNotDisturb(device=DeviceID("201"), doNotDisturbOn=True),
        m.GenerateDigits: m.GenerateDigits(connectionToSendDigits=conn, charactersToSend="1"),
        m.SetMessageWaitingIndicator: m.SetMessageWaitingIndicator(
            device=DeviceID("201"), messageWaitingOn=True
        ),
    }
    assert route(samples[feature], profile(vendor)) is expected


def test_requests_are_respelled_the_phones_way() -> None:
    phone_id = DeviceID("sip:201@pbx")
    d = DeviceDirectory()
    d.set_identities("a", [phone_id])
    d.set_identities("b", [DeviceID("sip:999@pbx")])

    def same(spelling: DeviceID) -> bool:
        found = d.find(spelling.value)
        return found is not None and found.mac == "a"

    transfer = m.TransferCall(
        heldCall=ConnectionID("1", DeviceID("201")),
        activeCall=ConnectionID("2", DeviceID("tel:999")),  # another device: kept
    )
    name, device = subject(transfer)  # type: ignore[misc]
    assert name == "heldCall" and device == DeviceID("201")
    out = respell(transfer, name, phone_id, same)
    assert isinstance(out, m.TransferCall)
    assert out.heldCall == ConnectionID("1", phone_id)
    assert out.activeCall == transfer.activeCall
    both = m.TransferCall(
        heldCall=ConnectionID("1", DeviceID("201")),
        activeCall=ConnectionID("2", DeviceID("tel:201")),
    )
    out_both = respell(both, "heldCall", phone_id, same)
    assert isinstance(out_both, m.TransferCall)
    assert out_both.activeCall == ConnectionID("2", phone_id)
    call = m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202"))
    out_call = respell(call, "callingDevice", phone_id, same)
    assert isinstance(out_call, m.MakeCall)
    assert out_call.callingDevice == phone_id and out_call.calledDirectoryNumber.value == "202"
