"""ECMA-354 application sessions, as CSTA-over-TCP clients open them.

The messages (namespace ``…/ecma-354/appl_session``; element names and order
as the ECMA-354 schema has them) and a sans-IO session: which message it takes
in which phase (a table), the session timer (``now`` in, the deadline out),
the protocol version agreed, and the answers.  Checking the client login is
the caller's: :meth:`ApplicationSession.start` is told whether it passed.

A client starts with StartApplicationSession (its login in
``applicationInfo/applicationSpecificInfo``, the editions of ECMA-323 it
speaks in ``requestedProtocolVersions``, the seconds it wants in
``requestedSessionDuration``), keeps the session with
ResetApplicationSessionTimer before the duration passes, and ends it with
StopApplicationSession.  A session whose timer runs out ends with
ApplicationSessionTerminated (``sessionTimerExpired``).
"""

from __future__ import annotations

import enum
import re
from dataclasses import dataclass
from typing import ClassVar

from .codec import NAMESPACES, edition_of, raw_tree
from .model import BY_ROOT, CstaMessage, Event, Request, Response, items
from .types import RawXml

APPL_SESSION_NS = "http://www.ecma-international.org/standards/ecma-354/appl_session"


@dataclass(kw_only=True)
class ApplicationInfo:
    applicationID: str | None = None
    applicationSpecificInfo: RawXml | None = None


@dataclass(kw_only=True)
class SessionErrorCode:
    CHOICE: ClassVar[tuple[str, ...]] = ("definedError", "applError")
    definedError: str | None = None
    applError: str | None = None


@dataclass(kw_only=True)
class SessionEndReason:
    CHOICE: ClassVar[tuple[str, ...]] = ("definedEndReason", "appEndReason")
    definedEndReason: str | None = None
    appEndReason: str | None = None


@dataclass(kw_only=True)
class SessionTermReason:
    CHOICE: ClassVar[tuple[str, ...]] = ("definedTermReason", "serverTermReason")
    definedTermReason: str | None = None
    serverTermReason: str | None = None


@dataclass(kw_only=True)
class StartApplicationSession(Request):
    applicationInfo: ApplicationInfo
    requestedProtocolVersions: list[str] = items("protocolVersion")
    requestedSessionDuration: int | None = None


@dataclass(kw_only=True)
class StartApplicationSessionPosResponse(Response):
    sessionID: str
    actualProtocolVersion: str
    actualSessionDuration: int


@dataclass(kw_only=True)
class StartApplicationSessionNegResponse(Response):
    errorCode: SessionErrorCode


@dataclass(kw_only=True)
class StopApplicationSession(Request):
    sessionID: str
    sessionEndReason: SessionEndReason | None = None


@dataclass(kw_only=True)
class StopApplicationSessionPosResponse(Response):
    pass


@dataclass(kw_only=True)
class StopApplicationSessionNegResponse(Response):
    errorCode: SessionErrorCode


@dataclass(kw_only=True)
class ResetApplicationSessionTimer(Request):
    sessionID: str
    requestedSessionDuration: int | None = None


@dataclass(kw_only=True)
class ResetApplicationSessionTimerPosResponse(Response):
    actualSessionDuration: int


@dataclass(kw_only=True)
class ResetApplicationSessionTimerNegResponse(Response):
    errorCode: SessionErrorCode


@dataclass(kw_only=True)
class ApplicationSessionTerminated(Event):
    sessionID: str
    sessionTermReason: SessionTermReason


SESSION_MESSAGES: tuple[type[CstaMessage], ...] = (
    StartApplicationSession,
    StartApplicationSessionPosResponse,
    StartApplicationSessionNegResponse,
    StopApplicationSession,
    StopApplicationSessionPosResponse,
    StopApplicationSessionNegResponse,
    ResetApplicationSessionTimer,
    ResetApplicationSessionTimerPosResponse,
    ResetApplicationSessionTimerNegResponse,
    ApplicationSessionTerminated,
)
# What the TCP face reads: ECMA-323's messages and ECMA-354's.
TCP_ROOTS: dict[str, type[CstaMessage]] = {
    **BY_ROOT,
    **{cls.root(): cls for cls in SESSION_MESSAGES},
}


def is_session_message(msg: object) -> bool:
    return isinstance(msg, SESSION_MESSAGES)


# -- the login in applicationSpecificInfo ---------------------------------------------------


def login_of(info: ApplicationInfo) -> tuple[str, str] | None:
    """(user name, password) from ``applicationSpecificInfo``: the elements
    ``userName`` and ``password`` in any namespace and at any depth (OpenScape
    Voice wraps them in ``SessionLoginInfo``), None without both."""
    raw = info.applicationSpecificInfo
    root = raw_tree(raw) if raw is not None else None
    if root is None:
        return None
    found: dict[str, str] = {}
    for el in root.iter():
        if isinstance(el.tag, str):
            name = el.tag.rpartition("}")[2]
            if name in ("userName", "password") and name not in found:
                found[name] = (el.text or "").strip()
    if "userName" in found and "password" in found:
        return found["userName"], found["password"]
    return None


# -- the session -------------------------------------------------------------------------------


class Phase(enum.Enum):
    AWAITING_START = "awaiting start"
    ACTIVE = "active"
    ENDED = "ended"


CSTA = "csta"  # any ECMA-323 request, in the table below
# phase -> what a client may send in it (anything else is refused)
ACCEPTS: dict[Phase, frozenset[object]] = {
    Phase.AWAITING_START: frozenset({StartApplicationSession}),
    Phase.ACTIVE: frozenset({ResetApplicationSessionTimer, StopApplicationSession, CSTA}),
    Phase.ENDED: frozenset(),
}


@dataclass(frozen=True)
class Durations:
    """Session durations the server grants, in seconds."""

    default: int = 180
    minimum: int = 10
    maximum: int = 3600

    def grant(self, requested: int | None) -> int:
        if requested is None or requested <= 0:
            return self.default
        return max(self.minimum, min(self.maximum, requested))


_EDITION = re.compile(r"ed(\d)\s*$", re.IGNORECASE)


def edition_named(version: str) -> int | None:
    """The ECMA-323 edition a protocolVersion names: the edition's namespace
    URI, or any text ending in ``ed3``..``ed6``."""
    version = version.strip()
    edition = edition_of(version)
    if edition is None:
        m = _EDITION.search(version)
        edition = int(m.group(1)) if m else None
    return edition if edition is not None and 3 <= edition <= 6 else None


class ApplicationSession:
    """One client's application session on one connection (sans-IO)."""

    def __init__(self, durations: Durations | None = None) -> None:
        self.durations = durations or Durations()
        self.phase = Phase.AWAITING_START
        self.session_id = ""
        self.edition = 5
        self.duration = 0
        self.expires_at: float | None = None

    def accepts(self, msg: CstaMessage) -> bool:
        allowed = ACCEPTS[self.phase]
        return type(msg) in allowed or (CSTA in allowed and not is_session_message(msg))

    def deadline(self) -> float | None:
        return self.expires_at if self.phase is Phase.ACTIVE else None

    def start(
        self, msg: StartApplicationSession, session_id: str, authenticated: bool, now: float
    ) -> StartApplicationSessionPosResponse | StartApplicationSessionNegResponse:
        if not authenticated:
            self.phase = Phase.ENDED
            return _start_refused("invalidApplicationInfo")
        edition = self._agree(msg.requestedProtocolVersions)
        if edition is None:
            self.phase = Phase.ENDED
            return _start_refused("requestedProtocolVersionNotSupported")
        self.edition = edition
        self.session_id = session_id
        self.duration = self.durations.grant(msg.requestedSessionDuration)
        self.expires_at = now + self.duration
        self.phase = Phase.ACTIVE
        version = next(
            (v for v in msg.requestedProtocolVersions if edition_named(v) == edition),
            NAMESPACES[edition],
        )
        return StartApplicationSessionPosResponse(
            sessionID=session_id,
            actualProtocolVersion=version.strip(),
            actualSessionDuration=self.duration,
        )

    @staticmethod
    def _agree(requested: list[str]) -> int | None:
        """The first edition the client asks for that we speak (ed5 when it
        names none)."""
        if not requested:
            return 5
        return next((e for v in requested if (e := edition_named(v)) is not None), None)

    def reset(
        self, msg: ResetApplicationSessionTimer, now: float
    ) -> ResetApplicationSessionTimerPosResponse | ResetApplicationSessionTimerNegResponse:
        if msg.sessionID != self.session_id:
            return ResetApplicationSessionTimerNegResponse(
                errorCode=SessionErrorCode(definedError="invalidSessionID")
            )
        self.duration = self.durations.grant(msg.requestedSessionDuration or self.duration)
        self.expires_at = now + self.duration
        return ResetApplicationSessionTimerPosResponse(actualSessionDuration=self.duration)

    def stop(
        self, msg: StopApplicationSession
    ) -> StopApplicationSessionPosResponse | StopApplicationSessionNegResponse:
        if msg.sessionID != self.session_id:
            return StopApplicationSessionNegResponse(
                errorCode=SessionErrorCode(definedError="invalidSessionID")
            )
        self.phase = Phase.ENDED
        return StopApplicationSessionPosResponse()

    def expire(self, now: float) -> ApplicationSessionTerminated | None:
        """The event ending a session whose timer ran out, once."""
        if self.phase is not Phase.ACTIVE or self.expires_at is None or now < self.expires_at:
            return None
        self.phase = Phase.ENDED
        return ApplicationSessionTerminated(
            sessionID=self.session_id,
            sessionTermReason=SessionTermReason(definedTermReason="sessionTimerExpired"),
        )

    def terminate(self, reason: str) -> ApplicationSessionTerminated | None:
        """The event ending an active session from the server's side."""
        if self.phase is not Phase.ACTIVE:
            return None
        self.phase = Phase.ENDED
        return ApplicationSessionTerminated(
            sessionID=self.session_id,
            sessionTermReason=SessionTermReason(serverTermReason=reason[:100]),
        )


def _start_refused(error: str) -> StartApplicationSessionNegResponse:
    return StartApplicationSessionNegResponse(errorCode=SessionErrorCode(definedError=error))
