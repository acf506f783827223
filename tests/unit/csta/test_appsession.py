"""ECMA-354 application sessions, sans-IO with a fake clock: what is taken in
which phase, the protocol version agreed, the timer and its end."""

from __future__ import annotations

from uacsta.csta import model as m
from uacsta.csta.appsession import (
    ApplicationInfo,
    ApplicationSession,
    ApplicationSessionTerminated,
    Durations,
    Phase,
    ResetApplicationSessionTimer,
    StartApplicationSession,
    StartApplicationSessionNegResponse,
    StartApplicationSessionPosResponse,
    StopApplicationSession,
    edition_named,
    login_of,
)
from uacsta.csta.codec import NAMESPACES, decode
from uacsta.csta.types import DeviceID, RawXml

ED4 = "http://www.ecma-international.org/standards/ecma-323/csta/ed4"


def start(versions: list[str], duration: int | None = 60) -> StartApplicationSession:
    return StartApplicationSession(
        applicationInfo=ApplicationInfo(applicationID="t"),
        requestedProtocolVersions=versions,
        requestedSessionDuration=duration,
    )


def test_phases_take_only_what_the_table_says() -> None:
    s = ApplicationSession()
    monitor = m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID("201")))
    assert not s.accepts(monitor)
    assert s.accepts(start([]))
    answer = s.start(start(["ed2", ED4, "ed5"]), "S1", True, now=100.0)
    assert isinstance(answer, StartApplicationSessionPosResponse)
    assert (answer.actualProtocolVersion, s.edition, s.phase) == (ED4, 4, Phase.ACTIVE)
    assert s.accepts(monitor) and not s.accepts(start([]))
    assert s.accepts(ResetApplicationSessionTimer(sessionID="S1"))
    s.stop(StopApplicationSession(sessionID="S1"))
    assert s.phase is Phase.ENDED and not s.accepts(monitor)


def test_refused_starts_end_the_session() -> None:
    s = ApplicationSession()
    answer = s.start(start([ED4]), "S1", False, now=0.0)
    assert isinstance(answer, StartApplicationSessionNegResponse)
    assert answer.errorCode.definedError == "invalidApplicationInfo" and s.phase is Phase.ENDED
    s = ApplicationSession()
    answer = s.start(start(["urn:csta:ed2"]), "S1", True, now=0.0)
    assert isinstance(answer, StartApplicationSessionNegResponse)
    assert answer.errorCode.definedError == "requestedProtocolVersionNotSupported"


def test_the_timer_granted_reset_and_run_out() -> None:
    s = ApplicationSession(Durations(default=180, minimum=10, maximum=600))
    s.start(start([], duration=5), "S1", True, now=0.0)  # below the minimum
    assert (s.edition, s.duration, s.deadline()) == (5, 10, 10.0)
    assert s.expire(9.9) is None
    reset = s.reset(
        ResetApplicationSessionTimer(sessionID="S1", requestedSessionDuration=9999), 9.0
    )
    assert reset.actualSessionDuration == 600 and s.deadline() == 609.0  # type: ignore[union-attr]
    wrong = s.reset(ResetApplicationSessionTimer(sessionID="S2"), 10.0)
    assert wrong.errorCode.definedError == "invalidSessionID"  # type: ignore[union-attr]
    assert s.expire(608.0) is None
    ended = s.expire(609.0)
    assert isinstance(ended, ApplicationSessionTerminated)
    assert ended.sessionTermReason.definedTermReason == "sessionTimerExpired"
    assert s.expire(700.0) is None and s.deadline() is None  # once


def test_protocol_versions_and_the_login() -> None:
    assert [edition_named(v) for v in (NAMESPACES[3], "CSTA ed6", "ed2", "x")] == [3, 6, None, None]
    info = ApplicationInfo(
        applicationSpecificInfo=RawXml(
            b'<applicationSpecificInfo xmlns="urn:x"><userName>crm</userName>'
            b"<password> pw </password></applicationSpecificInfo>"
        )
    )
    assert login_of(info) == ("crm", "pw")
    assert login_of(ApplicationInfo()) is None
    # a DOCTYPE in a session message is refused by the codec before anything
    evil = b'<!DOCTYPE x [<!ENTITY e "boom">]><StartApplicationSession/>'
    assert "DOCTYPE" in str(decode(evil))
