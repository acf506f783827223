"""CSTA XML over TCP against the real server, driven by an independent client
written from ECMA-323 Annex J and ECMA-354 (tests/helpers/cstatcp.py): the
application session with the client login, requests and their invokeIDs,
events with 9999 in the agreed edition, the session timer, and refusals."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest

from tests.conftest import CLIENT_LOGIN, CLIENT_PASSWORD, client_tls, eventually
from tests.helpers import cstatcp as x
from tests.helpers.cstatcp import CstaTcpClient
from tests.integration.switching import Lab
from uacsta.csta.appsession import Durations
from uacsta.server import UacstaServer


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    lab = Lab(server, vendors=("snom", "yealink"))
    await lab.start()
    yield lab
    await lab.stop()


def port(server: UacstaServer, transport: str = "TCP") -> int:
    return server.client_service.csta.port("lan", transport)


async def session(
    server: UacstaServer, edition: int = 3, transport: str = "TCP", **kw: object
) -> tuple[CstaTcpClient, str]:
    client = CstaTcpClient()
    await client.connect(
        port(server, transport), client_tls(server) if transport == "TLS" else None
    )
    answer = await client.request(
        x.start_session(CLIENT_LOGIN, CLIENT_PASSWORD, [x.ED[edition]], **kw)  # type: ignore[arg-type]
    )
    assert answer.name == "StartApplicationSessionPosResponse", answer.xml
    assert answer.namespace == x.APPL
    assert answer.text("actualProtocolVersion") == x.ED[edition]
    session_id = answer.text("sessionID")
    assert session_id
    return client, session_id


@pytest.mark.both_loops
@pytest.mark.parametrize("transport", ["TCP", "TLS"])
async def test_a_call_driven_over_csta_tcp_in_the_clients_edition(lab: Lab, transport: str) -> None:
    client, session_id = await session(lab.server, 3, transport)
    for device in ("201", "202"):
        started = await client.request(x.monitor_start(3, device))
        assert started.name == "MonitorStartResponse" and started.namespace == x.ED[3]
        back = await client.event("BackInServiceEvent")
        assert back.namespace == x.ED[3] and back.invoke_id == x.EVENT
    invoke = client.send(x.make_call(3, "201", "202"))
    made = await client.read()
    # the response first, then the caller's events
    assert (made.invoke_id, made.name) == (invoke, "MakeCallResponse"), made.xml
    a_call = made.text("callingDevice", "callID")
    assert a_call
    ringing = await client.event("DeliveredEvent")
    while (
        "202" not in (ringing.text("connection", "deviceID") or "")
        or ringing.text("connection", "callID") == a_call
    ):
        ringing = await client.event("DeliveredEvent")
    b_call = ringing.text("connection", "callID")
    assert b_call is not None
    answered = await client.request(
        x.csta(3, "AnswerCall", x.connection("callToBeAnswered", b_call, "202"))
    )
    assert answered.name == "AnswerCallResponse"
    await client.event("EstablishedEvent")
    cleared = await client.request(
        x.csta(3, "ClearConnection", x.connection("connectionToBeCleared", a_call, "201"))
    )
    assert cleared.name == "ClearConnectionResponse"
    await client.event("ConnectionClearedEvent")
    assert all(e.namespace == x.ED[3] for e in client.events)
    # stopping the session ends the client's monitors and the connection
    stopped = await client.request(x.stop_session(session_id))
    assert stopped.name == "StopApplicationSessionPosResponse"
    assert await client.closed()
    sf = lab.server.switching
    assert sf is not None
    await eventually(lambda: session_id not in sf.clients)
    await eventually(lambda: not any(p.subscribers for p in sf.monitors.points.values()))


async def test_edition_five_is_answered_in_edition_five(lab: Lab) -> None:
    client, _ = await session(lab.server, 5)
    devices = await client.request(x.csta(5, "GetSwitchingFunctionDevices", ""))
    assert devices.name == "GetSwitchingFunctionDevicesResponse"
    assert devices.namespace == x.ED[5]
    listed = await client.event("SwitchingFunctionDevices")
    assert listed.namespace == x.ED[5]
    await client.close()


async def test_refusals_are_clear_and_the_session_goes_on(lab: Lab) -> None:
    client = CstaTcpClient()
    await client.connect(port(lab.server))
    # nothing but StartApplicationSession before a session
    early = await client.request(x.monitor_start(5, "201"))
    assert early.name == "CSTAErrorCode" and early.text("security") is not None
    client2, session_id = await session(lab.server, 5)
    await client.close()
    bad = await client2.request("<MonitorStart xmlns='x'><monitorObject>")  # not well-formed
    assert bad.name == "CSTAErrorCode" and bad.text("operation") == "invalidParameterValue"
    unknown = await client2.request(x.csta(5, "LaunchRocket", ""))
    assert unknown.name == "CSTAErrorCode" and unknown.text("operation") == "serviceNotSupported"
    nobody = await client2.request(x.monitor_start(5, "999"))
    assert nobody.text("operation") == "invalidDeviceID"
    again = await client2.request(x.start_session(CLIENT_LOGIN, CLIENT_PASSWORD, [x.ED[5]]))
    assert again.name == "CSTAErrorCode"  # one session per connection
    wrong = await client2.request(x.reset_timer("not-mine"))
    assert wrong.name == "ResetApplicationSessionTimerNegResponse"
    assert wrong.text("errorCode", "definedError") == "invalidSessionID"
    reset = await client2.request(x.reset_timer(session_id, 120))
    assert reset.name == "ResetApplicationSessionTimerPosResponse"
    assert reset.text("actualSessionDuration") == "120"
    # still serving
    fine = await client2.request(x.monitor_start(5, "201"))
    assert fine.name == "MonitorStartResponse"
    # a frame header that makes no sense: the stream cannot be trusted, closed
    client2.send_raw(b"\x07\x07\x00\x10abcdXXXXXXXX")
    assert await client2.closed()


async def test_a_wrong_login_is_refused_and_closed(lab: Lab) -> None:
    client = CstaTcpClient()
    await client.connect(port(lab.server))
    answer = await client.request(x.start_session(CLIENT_LOGIN, "wrong", [x.ED[5]]))
    assert answer.name == "StartApplicationSessionNegResponse"
    assert answer.text("errorCode", "definedError") == "invalidApplicationInfo"
    assert await client.closed()
    client = CstaTcpClient()
    await client.connect(port(lab.server))
    old = await client.request(
        x.start_session(CLIENT_LOGIN, CLIENT_PASSWORD, ["http://example.com/csta/ed2"])
    )
    assert old.text("errorCode", "definedError") == "requestedProtocolVersionNotSupported"
    assert await client.closed()


async def test_a_session_whose_timer_runs_out_is_terminated(lab: Lab) -> None:
    lab.server.client_service.csta_face.durations = Durations(default=1, minimum=1)
    client, session_id = await session(lab.server, 5, duration=1)
    await client.request(x.monitor_start(5, "201"))
    ended = await client.event("ApplicationSessionTerminated", timeout=10)
    assert ended.namespace == x.APPL
    assert ended.text("sessionID") == session_id
    assert ended.text("sessionTermReason", "definedTermReason") == "sessionTimerExpired"
    assert await client.closed()
    sf = lab.server.switching
    assert sf is not None
    await eventually(lambda: session_id not in sf.clients)
