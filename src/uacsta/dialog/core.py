"""The uaCSTA dialog (ECMA TR/87 over SIP), sans-IO, with two roles.

In the style of python-websockets' ``protocol.py`` and aioquic's
``connection.py``: the shell hands in every SIP message received in the
dialog and the current time; the core hands back the SIP messages to send
(:meth:`UacstaDialog.messages_to_send`), what happened
(:meth:`UacstaDialog.events`) and when it next wants to be woken
(:meth:`UacstaDialog.next_deadline`, then :meth:`handle_deadline`).  Nothing
here reads a socket or a clock.

``Role.PHONE`` -- the server is the INVITE's UAC towards a phone (manual 4.1.1,
protocol notes 1.6): INVITE with RequestSystemStatus (answering the phone's
own digest challenge, snom ``csta_challenge``), ACK, SystemRegister where the
vendor has it, GetSwitchingFunctionDevices and the phone's segments, then a
RequestSystemStatus keep-alive every *keep connection alive time*.  The
phone's requests are answered as ECMA-323 says: its events, identity segments,
SwFunctionDevicesChanged (the identities are asked for again), MonitorStop (a
monitor the phone ended), SystemRegisterAbort (registered again),
RequestSystemStatus (the server's own status) and BYE.

``Role.CLIENT`` -- the server is the INVITE's UAS towards a CTI client: it
accepts the INVITE the client face authenticated, writes in the client's
edition, hands each CSTA request up as :class:`PeerRequest` to be answered
with :meth:`respond`, and sends events as INFOs with flow control.

The dialog's states and their moves are one table (``TRANSITIONS``) with one
mutator (:meth:`UacstaDialog._move`), as in h11's ``_state.py``.
"""

from __future__ import annotations

import enum
import itertools
import logging
import random
from collections.abc import Callable
from dataclasses import dataclass, field

from ..csta import model as m
from ..csta.codec import CSTA_HEADERS, CSTA_TYPE, DecodeError, decode, encode, sniff_edition
from ..csta.errors import CSTAErrorCode
from ..csta.types import DeviceID, SystemStatus
from ..sip.dialog import Dialog, new_call_id, new_tag
from ..sip.digest import answer_challenge
from ..sip.errors import SipParseError
from ..sip.headers import Headers
from ..sip.message import Request, Response, build_response
from ..sip.transaction import new_branch

log = logging.getLogger("uacsta.dialog")

DIALOG_ALLOW = "INVITE, ACK, CANCEL, BYE, INFO, OPTIONS"
# Event INFOs a client has not answered yet; beyond this it is too slow (or
# no longer there) and the shell ends its session.
MAX_UNANSWERED = 1000

CstaAnswer = m.CstaMessage | CSTAErrorCode | DecodeError


class Role(enum.Enum):
    PHONE = "phone"  # towards a phone: the server sends the INVITE
    CLIENT = "client"  # towards a client: the server answers its INVITE


class State(enum.Enum):
    IDLE = "idle"  # nothing sent or accepted yet
    INVITING = "inviting"  # INVITE sent, no final answer yet
    SETTING_UP = "setting-up"  # SystemRegister, GetSwitchingFunctionDevices under way
    UP = "up"  # requests flow both ways
    CLOSING = "closing"  # MonitorStop / SystemRegisterCancel / BYE under way
    ENDED = "ended"


class Input(enum.Enum):
    INVITE_SENT = "invite-sent"
    INVITE_ACCEPTED = "invite-accepted"  # 2xx to our INVITE
    INVITE_RECEIVED = "invite-received"  # we answered a client's INVITE with 2xx
    SET_UP = "set-up"  # identities known
    CLOSE = "close"  # the server ends the dialog
    FAILED = "failed"  # refused, no answer, 481, BYE from the peer, connection lost


S, In = State, Input
TRANSITIONS: dict[tuple[State, Input], State] = {
    (S.IDLE, In.INVITE_SENT): S.INVITING,
    (S.IDLE, In.INVITE_RECEIVED): S.UP,
    (S.INVITING, In.INVITE_ACCEPTED): S.SETTING_UP,
    (S.SETTING_UP, In.SET_UP): S.UP,
    (S.UP, In.SET_UP): S.UP,  # identities learned again
    (S.IDLE, In.CLOSE): S.ENDED,
    (S.INVITING, In.CLOSE): S.ENDED,  # nothing to close yet
    (S.SETTING_UP, In.CLOSE): S.CLOSING,
    (S.UP, In.CLOSE): S.CLOSING,
    (S.CLOSING, In.CLOSE): S.ENDED,  # every closing request answered (or not)
}
for _state in State:
    if _state is not State.ENDED:
        TRANSITIONS[(_state, Input.FAILED)] = State.ENDED


# -- what the core reports ------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Established:
    """The dialog is up (towards a phone: its identities are known too)."""

    system_status: SystemStatus | None = None


@dataclass(frozen=True, slots=True)
class IdentitiesLearned:
    """The phone's identities (SwitchingFunctionDevices); ``reported`` is False
    when the phone sent none and its registered identity stands in, with why."""

    identities: tuple[DeviceID, ...]
    reported: bool
    why: str = ""


@dataclass(frozen=True, slots=True)
class Answered:
    """The peer's answer (its 200 OK body) to :meth:`UacstaDialog.request` ``ref``."""

    ref: int
    answer: CstaAnswer


@dataclass(frozen=True, slots=True)
class Failed:
    """Request ``ref`` got no CSTA answer: no answer in time, a SIP error, or
    the dialog ended first."""

    ref: int
    reason: str


@dataclass(frozen=True, slots=True)
class PeerEvent:
    """A CSTA event the peer sent (monitor events, in the order sent)."""

    message: m.CstaMessage


@dataclass(frozen=True, slots=True)
class PeerRequest:
    """A client's CSTA request; answer it with :meth:`UacstaDialog.respond`."""

    ref: int
    message: m.CstaMessage


@dataclass(frozen=True, slots=True)
class MonitorStopped:
    """The phone ended one of its monitors (MonitorStop from the phone)."""

    monitor_xref: str


@dataclass(frozen=True, slots=True)
class RegistrationAborted:
    """The phone aborted the server's SystemRegister; the core registers again."""

    sys_stat_register_id: str


@dataclass(frozen=True, slots=True)
class Ended:
    reason: str


DialogEvent = (
    Established
    | IdentitiesLearned
    | Answered
    | Failed
    | PeerEvent
    | PeerRequest
    | MonitorStopped
    | RegistrationAborted
    | Ended
)


@dataclass(frozen=True, slots=True)
class DialogTimers:
    keepalive: float = 60.0  # towards a phone: RequestSystemStatus every interval
    request: float = 5.0  # how long the peer has to answer one request
    identities: float = 3.0  # wait for the SwitchingFunctionDevices segments


class _Purpose(enum.Enum):
    INVITE = "INVITE"
    ACK = "ACK"
    CALLER = "request"  # the shell's request: reported as Answered / Failed
    KEEPALIVE = "keep-alive"
    REGISTER = "SystemRegister"
    IDENTITIES = "GetSwitchingFunctionDevices"
    CLOSING = "closing"  # MonitorStop / SystemRegisterCancel before BYE
    BYE = "BYE"
    EVENT = "event"  # an event INFO to a client (flow control only)


@dataclass(slots=True)
class _Pending:
    purpose: _Purpose
    request: Request
    deadline: float | None
    ref: int = 0
    message: m.CstaMessage | None = None
    challenged: bool = False


@dataclass(slots=True)
class _Segments:
    collected: list[DeviceID] = field(default_factory=list)
    deadline: float | None = None  # after the response: how long to wait for the list


class UacstaDialog:
    """One uaCSTA dialog.  Build it with :meth:`towards_phone` or
    :meth:`towards_client`."""

    # One per phone and per SIP client: without slots each carried a dictionary
    # of its 36 attributes, about 4.7 KB a phone (tracemalloc, 2,000 phones).
    __slots__ = (
        "_auth_header",
        "_challenge",
        "_cseq",
        "_events",
        "_from_tag",
        "_held",
        "_keepalive_at",
        "_nc",
        "_out",
        "_pending",
        "_refs",
        "_register_tried",
        "_relearn",
        "_segments",
        "_status",
        "call_id",
        "dialog",
        "edition",
        "ended_because",
        "identities",
        "jitter",
        "local",
        "monitors",
        "password",
        "remote_aor",
        "remote_contact",
        "role",
        "state",
        "sys_stat_register_id",
        "system_register",
        "system_status",
        "tag",
        "timers",
        "transport",
        "unanswered",
        "username",
    )

    def __init__(
        self,
        role: Role,
        *,
        local: str,
        transport: str,
        edition: int,
        timers: DialogTimers,
        system_status: Callable[[], SystemStatus],
        tag: str = "",
        username: str = "",
        password: Callable[[], str] = lambda: "",
        remote_aor: str = "",
        remote_contact: str = "",
        system_register: bool = False,
        jitter: Callable[[], float] = lambda: random.uniform(0.9, 1.0),
    ) -> None:
        self.role = role
        self.state = State.IDLE
        self.local = local  # host:port of our end of the connection
        self.transport = transport
        self.edition = edition
        self.timers = timers
        self.system_status = system_status
        self.tag = tag  # the phone's MAC or the client's name, for the log
        self.username, self.password = username, password
        self.remote_aor, self.remote_contact = remote_aor, remote_contact
        self.system_register = system_register
        self.jitter = jitter
        self.dialog: Dialog | None = None
        self.call_id = ""
        self.ended_because = ""
        self.identities: tuple[DeviceID, ...] = ()
        self.sys_stat_register_id: str | None = None
        self.monitors: set[str] = set()  # the phone's monitorCrossRefIDs we started
        self.unanswered = 0  # event INFOs to a client not answered yet
        self._out: list[Request | Response] = []
        self._events: list[DialogEvent] = []
        self._pending: dict[str, _Pending] = {}  # by top Via branch
        self._refs = itertools.count(1)
        self._keepalive_at: float | None = None
        self._segments: _Segments | None = None
        self._relearn = False  # identities changed while being learned
        self._held: dict[int, Request] = {}  # client requests awaiting respond()
        # The phone's digest challenge (snom csta_challenge), answered on every request.
        self._challenge: str | None = None
        self._auth_header = "Authorization"
        self._nc = 0
        self._cseq = 1
        self._from_tag = ""
        self._status: SystemStatus | None = None  # what the phone said of itself
        self._register_tried = False

    # -- the two roles --------------------------------------------------------------------

    @classmethod
    def towards_phone(
        cls,
        *,
        local: str,
        transport: str,
        aor: str,
        contact: str,
        username: str,
        password: Callable[[], str],
        edition: int,
        system_register: bool,
        timers: DialogTimers,
        system_status: Callable[[], SystemStatus],
        jitter: Callable[[], float] | None = None,
    ) -> UacstaDialog:
        kw = {"jitter": jitter} if jitter is not None else {}
        return cls(
            Role.PHONE,
            local=local,
            transport=transport,
            edition=edition,
            timers=timers,
            system_status=system_status,
            tag=username,
            username=username,
            password=password,
            remote_aor=aor,
            remote_contact=contact,
            system_register=system_register,
            **kw,
        )

    @classmethod
    def towards_client(
        cls,
        *,
        local: str,
        transport: str,
        name: str,
        timers: DialogTimers,
        system_status: Callable[[], SystemStatus],
    ) -> UacstaDialog:
        return cls(
            Role.CLIENT,
            local=local,
            transport=transport,
            edition=5,
            timers=timers,
            system_status=system_status,
            tag=name,
        )

    # -- what the shell takes -------------------------------------------------------------

    def messages_to_send(self) -> list[Request | Response]:
        out, self._out = self._out, []
        return out

    def events(self) -> list[DialogEvent]:
        events, self._events = self._events, []
        return events

    def next_deadline(self) -> float | None:
        times = [p.deadline for p in self._pending.values() if p.deadline is not None]
        if self._keepalive_at is not None:
            times.append(self._keepalive_at)
        if self._segments is not None and self._segments.deadline is not None:
            times.append(self._segments.deadline)
        return min(times) if times else None

    def contact(self) -> str:
        return f"<sip:uacsta@{self.local};transport={self.transport.lower()}>"

    # -- the one mutator --------------------------------------------------------------------

    def _move(self, what: Input, reason: str = "") -> None:
        nxt = TRANSITIONS.get((self.state, what))
        if nxt is None:
            return
        was, self.state = self.state, nxt
        if nxt is State.UP and was is not State.UP:
            self._events.append(Established(self._status))
        if nxt is State.ENDED:
            self._end(reason)

    def _end(self, reason: str) -> None:
        self.ended_because = reason
        self._keepalive_at = None
        self._segments = None
        for pending in self._pending.values():
            if pending.purpose is _Purpose.CALLER:
                self._events.append(Failed(pending.ref, f"dialog ended: {reason}"))
        self._pending.clear()
        self._held.clear()
        self._events.append(Ended(reason))

    # -- towards a phone: setting up ----------------------------------------------------------

    def invite(self, now: float) -> None:
        """Send the INVITE with RequestSystemStatus (phone role)."""
        assert self.role is Role.PHONE and self.state is State.IDLE
        host = self.local.rsplit(":", 1)[0]
        self.call_id = new_call_id(host)
        self._from_tag = new_tag()
        self._move(Input.INVITE_SENT)
        self._send_invite(now)

    def _send_invite(self, now: float) -> _Pending:
        h = Headers()
        branch = new_branch()
        h.add("Via", f"SIP/2.0/{self.transport} {self.local};branch={branch};rport")
        h.add("Max-Forwards", "70")
        h.add("From", f"<sip:uacsta@{self.local}>;tag={self._from_tag}")
        h.add("To", f"<{self.remote_aor}>")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{self._cseq} INVITE")
        h.add("Contact", self.contact())
        h.add("Allow", DIALOG_ALLOW)
        h.add("Accept", CSTA_TYPE)
        for name, value in CSTA_HEADERS:
            h.add(name, value)
        body = encode(m.RequestSystemStatus(), self.edition)
        req = Request(headers=h, body=body, method="INVITE", uri=self.remote_contact)
        return self._track(_Purpose.INVITE, req, branch, now)

    def _invite_answered(self, pending: _Pending, response: Response, now: float) -> None:
        if response.status >= 300:
            self._ack_failure(pending.request, response)
            challenge = response.status in (401, 407) and not pending.challenged
            if challenge and self._take_challenge(response):
                self._cseq += 1
                self._send_invite(now).challenged = True
                return
            self._move(Input.FAILED, f"INVITE refused: {response.status} {response.reason}")
            return
        try:
            self.dialog = Dialog.from_uac(pending.request, response)
        except SipParseError as exc:
            self._move(Input.FAILED, f"INVITE answered without a dialog: {exc.reason}")
            return
        ack = self.dialog.create_request(
            "ACK", via_host=self.local, transport=self.transport, cseq=self._cseq
        )
        self._authorize(ack)
        self._out.append(ack)
        self._move(Input.INVITE_ACCEPTED)
        answer = decode(response.body) if response.body else None
        if isinstance(answer, m.RequestSystemStatusResponse):
            self._status = answer.systemStatus
            self._next_setup_step(now)
        else:
            # a 200 OK without a status: ask again in the dialog (protocol notes 1.2)
            self._info(_Purpose.KEEPALIVE, m.RequestSystemStatus(), now)

    def _ack_failure(self, invite: Request, response: Response) -> None:
        """RFC 3261 17.1.1.3: the ACK of a non-2xx final response to an INVITE."""
        h = Headers()
        h.add("Via", invite.headers.get_all("Via")[0])
        h.add("Max-Forwards", "70")
        for name in ("From", "Call-ID"):
            h.add(name, invite.headers.get(name) or "")
        h.add("To", response.headers.get("To") or "")
        h.add("CSeq", f"{invite.cseq.number} ACK")
        self._out.append(Request(headers=h, method="ACK", uri=invite.uri))

    def _next_setup_step(self, now: float) -> None:
        if self.state is not State.SETTING_UP:
            return
        if self.system_register and not self._register_tried:
            self._register_tried = True
            self._register(now)
            return
        if self._segments is None:
            self._learn_identities(now)

    def _register(self, now: float) -> None:
        request_types = m.RequestTypes(switchingFunctionDevicesChanged=True)
        self._info(_Purpose.REGISTER, m.SystemRegister(requestTypes=request_types), now)

    def _learn_identities(self, now: float) -> None:
        self._segments = _Segments()
        self._info(_Purpose.IDENTITIES, m.GetSwitchingFunctionDevices(), now)

    def _identities_done(
        self, identities: list[DeviceID], reported: bool, why: str, now: float
    ) -> None:
        self._segments = None
        if not identities:
            identities, reported = [DeviceID(self.remote_aor)], False
            why = why or "the phone reported no identity"
        self.identities = tuple(identities)
        self._events.append(IdentitiesLearned(self.identities, reported, why))
        self._move(Input.SET_UP)
        if self._relearn and self.state is State.UP:
            self._relearn = False
            self._learn_identities(now)
        self._schedule_keepalive(now)

    def _schedule_keepalive(self, now: float) -> None:
        if self.role is Role.PHONE and self.state is State.UP:
            self._keepalive_at = now + self.timers.keepalive * self.jitter()

    # -- requests the shell makes ---------------------------------------------------------------

    def request(self, message: m.CstaMessage, now: float) -> int:
        """Send a CSTA request in an INFO; its answer comes as :class:`Answered`
        (or :class:`Failed`) with the returned reference."""
        ref = next(self._refs)
        if self.dialog is None or self.state not in (State.SETTING_UP, State.UP):
            self._events.append(Failed(ref, "no uaCSTA dialog with the phone"))
            return ref
        self._info(_Purpose.CALLER, message, now, ref=ref)
        return ref

    def respond(self, ref: int, answer: m.CstaMessage | CSTAErrorCode) -> None:
        """The answer to a :class:`PeerRequest`, in the 200 OK of its INFO."""
        req = self._held.pop(ref, None)
        if req is None:
            return  # the dialog ended meanwhile
        body = encode(answer, self.edition)
        self._out.append(build_response(req, 200, extra=CSTA_HEADERS, body=body))

    def send_event(self, payload: bytes, now: float) -> bool:
        """An event INFO to a client; False (nothing sent) when it has left
        :data:`MAX_UNANSWERED` INFOs unanswered: it is too slow."""
        if self.dialog is None or self.state is not State.UP:
            return False
        if self.unanswered >= MAX_UNANSWERED:
            return False
        self.unanswered += 1
        req, branch = self._dialog_request("INFO", payload)
        # No deadline: a client answers events at its own pace, within the bound.
        self._pending[branch] = _Pending(_Purpose.EVENT, req, None)
        self._out.append(req)
        return True

    def close(self, now: float, reason: str) -> None:
        """End the dialog as a good peer does: towards a phone MonitorStop for
        every monitor still running and SystemRegisterCancel where registered,
        then BYE; towards a client BYE."""
        if self.state in (State.CLOSING, State.ENDED):
            return
        self.ended_because = reason
        self._keepalive_at = None
        self._segments = None
        was = self.state
        self._move(Input.CLOSE, reason)
        if was in (State.IDLE, State.INVITING):
            # Ended at once; the INVITE's late 2xx (if any) is ACKed and BYEd: see _stray.
            return
        # What was under way is abandoned: a late answer is a stray.
        for pending in self._pending.values():
            if pending.purpose is _Purpose.CALLER:
                self._events.append(Failed(pending.ref, f"dialog closing: {reason}"))
        self._pending.clear()
        if self.role is Role.PHONE:
            for xref in sorted(self.monitors):
                self._info(_Purpose.CLOSING, m.MonitorStop(monitorCrossRefID=xref), now)
            if self.sys_stat_register_id is not None:
                cancel = m.SystemRegisterCancel(sysStatRegisterID=self.sys_stat_register_id)
                self._info(_Purpose.CLOSING, cancel, now)
        self._bye_when_closed(now)

    def _bye_when_closed(self, now: float) -> None:
        if self.state is not State.CLOSING:
            return
        if any(p.purpose in (_Purpose.CLOSING, _Purpose.BYE) for p in self._pending.values()):
            return
        self._send_bye(now)

    def _send_bye(self, now: float) -> None:
        if self.dialog is None:
            self._move(Input.CLOSE, self.ended_because)
            return
        self._track(_Purpose.BYE, *self._dialog_request("BYE", b""), now)

    def connection_lost(self) -> None:
        self.abandon("the connection closed")

    def abandon(self, reason: str) -> None:
        """End the dialog at once, sending nothing (the connection is gone, or
        the shell met an error it cannot explain)."""
        self._move(Input.FAILED, reason)

    # -- time -------------------------------------------------------------------------------------

    def handle_deadline(self, now: float) -> None:
        for branch, pending in list(self._pending.items()):
            if pending.deadline is not None and pending.deadline <= now:
                del self._pending[branch]
                self._timed_out(pending, now)
                if self.state is State.ENDED:
                    return
        seg = self._segments
        if seg is not None and seg.deadline is not None and seg.deadline <= now:
            # Not every phone sends the list: its registered identity stands for it.
            self._identities_done(
                seg.collected, bool(seg.collected), "no SwitchingFunctionDevices in time", now
            )
        if self._keepalive_at is not None and self._keepalive_at <= now:
            self._keepalive_at = None
            if not any(p.purpose is _Purpose.KEEPALIVE for p in self._pending.values()):
                self._info(_Purpose.KEEPALIVE, m.RequestSystemStatus(), now)

    def _timed_out(self, pending: _Pending, now: float) -> None:
        what = pending.message.root() if pending.message else pending.request.method
        why = f"no answer to {what} within {self.timers.request:g} s"
        purpose = pending.purpose
        if purpose is _Purpose.CALLER:
            self._events.append(Failed(pending.ref, why))
            # A phone may leave one request unanswered (Yealink's MakeCall while a
            # call rings); whether it is still there, the keep-alive asks at once.
            self._keepalive_at = now
        elif purpose is _Purpose.INVITE:
            self._move(Input.FAILED, why)
        elif purpose is _Purpose.KEEPALIVE:
            # Tell the phone, should it only be slow, that this dialog is over:
            # the next one starts with a new INVITE (nothing waits for the answer).
            if self.dialog is not None:
                self._out.append(self._dialog_request("BYE", b"")[0])
            self._move(Input.FAILED, why)
        elif purpose is _Purpose.REGISTER:
            log.info("SystemRegister at %s: %s", self.tag, why, extra={"tag": self.tag})
            self._next_setup_step(now)
        elif purpose is _Purpose.IDENTITIES:
            self._identities_done([], False, f"GetSwitchingFunctionDevices: {why}", now)
        elif purpose is _Purpose.CLOSING:
            self._bye_when_closed(now)
        elif purpose is _Purpose.BYE:
            self._move(Input.CLOSE, self.ended_because)

    # -- what arrives ---------------------------------------------------------------------

    def receive(self, message: Request | Response, now: float) -> None:
        if isinstance(message, Response):
            self._response(message, now)
        else:
            self._request(message, now)

    def _response(self, response: Response, now: float) -> None:
        branch = (response.vias[0].branch or "") if response.vias else ""
        pending = self._pending.get(branch)
        if pending is None or pending.request.cseq.method != response.cseq.method:
            self._stray(response, now)
            return
        if response.status < 200:
            return
        del self._pending[branch]
        if pending.purpose is _Purpose.INVITE:
            self._invite_answered(pending, response, now)
            return
        if pending.purpose is _Purpose.EVENT:
            self.unanswered = max(0, self.unanswered - 1)
            return
        if pending.purpose is _Purpose.BYE:
            self._move(Input.CLOSE, self.ended_because)
            return
        if (
            response.status in (401, 407)
            and not pending.challenged
            and self._take_challenge(response)
        ):
            assert pending.message is not None
            self._info(pending.purpose, pending.message, now, ref=pending.ref, challenged=True)
            return
        if response.status == 481:
            why = "the phone no longer knows the dialog (481)"
            if pending.purpose is _Purpose.CALLER:
                self._events.append(Failed(pending.ref, f"dialog ended: {why}"))
            self._move(Input.FAILED, why)
            return
        answer: CstaAnswer
        if response.status >= 300:
            answer = DecodeError(f"{response.status} {response.reason}")
            failure = f"refused: {response.status} {response.reason}"
        elif not response.body:
            answer = DecodeError("200 OK without a CSTA answer")
            failure = "200 OK without a CSTA answer"
        else:
            answer = decode(response.body)
            failure = ""
        self._answered(pending, answer, failure, now)

    def _answered(self, pending: _Pending, answer: CstaAnswer, failure: str, now: float) -> None:
        purpose = pending.purpose
        if self.state in (State.SETTING_UP, State.UP) and self.role is Role.PHONE:
            self._schedule_keepalive(now)  # the phone answered: it is there
        if purpose is _Purpose.CALLER:
            if failure:
                self._events.append(Failed(pending.ref, f"{_root(pending)} {failure}"))
                return
            self._follow_monitors(pending.message, answer)
            self._events.append(Answered(pending.ref, answer))
        elif purpose is _Purpose.KEEPALIVE:
            if isinstance(answer, m.RequestSystemStatusResponse):
                self._status = answer.systemStatus
            elif failure or isinstance(answer, DecodeError):
                log.warning(
                    "keep-alive of %s answered %s",
                    self.tag,
                    failure or answer,
                    extra={"tag": self.tag},
                )
            self._next_setup_step(now)
        elif purpose is _Purpose.REGISTER:
            if isinstance(answer, m.SystemRegisterResponse):
                self.sys_stat_register_id = answer.sysStatRegisterID
            else:
                log.info(
                    "SystemRegister at %s: %s",
                    self.tag,
                    failure or answer,
                    extra={"tag": self.tag},
                )
            self._next_setup_step(now)
        elif purpose is _Purpose.IDENTITIES:
            seg = self._segments
            if seg is None:
                return  # the list came before its response and was taken
            if failure or not isinstance(answer, m.GetSwitchingFunctionDevicesResponse):
                self._identities_done(
                    [],
                    False,
                    f"the phone refused GetSwitchingFunctionDevices: {failure or answer}",
                    now,
                )
            else:
                seg.deadline = now + self.timers.identities
        elif purpose is _Purpose.CLOSING:
            if isinstance(pending.message, m.MonitorStop):
                self.monitors.discard(pending.message.monitorCrossRefID)
            self._bye_when_closed(now)

    def _follow_monitors(self, asked: m.CstaMessage | None, answer: CstaAnswer) -> None:
        """Which monitors run in the phone: stopped for it when the dialog closes."""
        if isinstance(asked, m.MonitorStart) and isinstance(answer, m.MonitorStartResponse):
            self.monitors.add(answer.monitorCrossRefID)
        elif isinstance(asked, m.MonitorStop) and isinstance(answer, m.MonitorStopResponse):
            self.monitors.discard(asked.monitorCrossRefID)

    def _stray(self, response: Response, now: float) -> None:
        """A response to nothing pending.  A late 2xx to an INVITE we gave up on
        opened a dialog in the peer: ACK it, then BYE it (RFC 3261 15)."""
        if response.cseq.method != "INVITE" or not 200 <= response.status < 300:
            return
        if response.call_id != self.call_id or self.state not in (State.ENDED, State.CLOSING):
            return
        if self.dialog is not None:
            return  # a retransmitted 2xx of the dialog we have
        contacts = response.contacts
        if not contacts or response.to.tag is None:
            return
        stale = Dialog(
            call_id=self.call_id,
            local_tag=self._from_tag,
            remote_tag=response.to.tag,
            local_uri=f"sip:uacsta@{self.local}",
            remote_uri=self.remote_aor,
            remote_target=str(contacts[0].uri),
            local_cseq=response.cseq.number,
        )
        ack = stale.create_request(
            "ACK", via_host=self.local, transport=self.transport, cseq=response.cseq.number
        )
        self._authorize(ack)
        bye = stale.create_request("BYE", via_host=self.local, transport=self.transport)
        self._authorize(bye)
        self._out += [ack, bye]

    def _request(self, req: Request, now: float) -> None:
        dialog = self.dialog
        if req.method == "ACK":
            return
        if dialog is None or not dialog.matches(req, incoming_request=True):
            self._out.append(build_response(req, 481))
            return
        if not dialog.accept_remote_cseq(req):
            self._out.append(build_response(req, 500, "CSeq out of order"))
            return
        if req.method == "BYE":
            self._out.append(build_response(req, 200))
            who = "phone" if self.role is Role.PHONE else "client"
            self._move(Input.FAILED, f"the {who} ended the dialog (BYE)")
            return
        if req.method == "OPTIONS":
            self._out.append(build_response(req, 200, extra=[("Allow", DIALOG_ALLOW)]))
            return
        if req.method != "INFO":
            self._out.append(build_response(req, 405, extra=[("Allow", DIALOG_ALLOW)]))
            return
        msg = decode(req.body)
        if isinstance(msg, DecodeError):
            log.info("bad CSTA from %s: %s", self.tag, msg, extra={"tag": self.tag})
            self._out.append(build_response(req, 400, f"Bad CSTA body: {msg}"[:100]))
            return
        if isinstance(msg, CSTAErrorCode) or msg.KIND is m.Kind.RESPONSE:
            self._out.append(build_response(req, 200))  # an answer sent as a request
            return
        if self.role is Role.CLIENT:
            if msg.KIND is m.Kind.REQUEST:
                ref = next(self._refs)
                self._held[ref] = req
                self._events.append(PeerRequest(ref, msg))
            else:
                self._out.append(build_response(req, 200))
            return
        self._from_phone(req, msg, now)

    def _from_phone(self, req: Request, msg: m.CstaMessage, now: float) -> None:
        """A phone's request or event, answered as ECMA-323 says."""
        answer: m.CstaMessage | CSTAErrorCode | None = None
        if isinstance(msg, m.SwitchingFunctionDevices):
            self._segment(msg, now)
            answer = m.SwitchingFunctionDevicesResponse()
        elif isinstance(msg, m.SwFunctionDevicesChanged):
            log.info("identities of %s changed in the phone", self.tag, extra={"tag": self.tag})
            if self._segments is not None:
                self._relearn = True
            elif self.state is State.UP:
                self._learn_identities(now)
        elif isinstance(msg, m.MonitorStop):
            known = msg.monitorCrossRefID in self.monitors
            self.monitors.discard(msg.monitorCrossRefID)
            self._events.append(MonitorStopped(msg.monitorCrossRefID))
            answer = (
                m.MonitorStopResponse()
                if known
                else CSTAErrorCode.operation("invalidMonitorCrossReferenceID")
            )
        elif isinstance(msg, m.SystemRegisterAbort):
            self._events.append(RegistrationAborted(msg.sysStatRegisterID))
            if msg.sysStatRegisterID == self.sys_stat_register_id:
                self.sys_stat_register_id = None
                if self.state is State.UP and self.system_register:
                    self._register(now)  # the server still wants to hear of changes
        elif isinstance(msg, m.RequestSystemStatus):
            answer = m.RequestSystemStatusResponse(systemStatus=self.system_status())
        elif isinstance(msg, m.SystemStatus_):
            answer = m.SystemStatusResponse()
        elif msg.KIND is m.Kind.EVENT:
            self._events.append(PeerEvent(msg))
        else:
            # A service a phone asks of the server (OpenStage's forwarding, say).
            answer = CSTAErrorCode.operation("serviceNotSupported")
        if answer is None:
            self._out.append(build_response(req, 200))
        else:
            self._out.append(
                build_response(req, 200, extra=CSTA_HEADERS, body=encode(answer, self.edition))
            )

    def _segment(self, msg: m.SwitchingFunctionDevices, now: float) -> None:
        seg = self._segments
        if seg is None:
            # Unasked (a phone announcing a change this way): take it as the list.
            seg = self._segments = _Segments()
        seg.collected.extend(d.deviceID for d in msg.deviceList)
        if msg.lastSegment is not False:
            self._identities_done(seg.collected, True, "", now)

    # -- towards a client: accepting its INVITE ---------------------------------------------------

    def accept(self, invite: Request, local_tag: str, now: float) -> Response:
        """The 2xx to the client's (authenticated) INVITE, carrying the
        RequestSystemStatusResponse; raises SipParseError for an INVITE that
        cannot open a dialog."""
        assert self.role is Role.CLIENT and self.state is State.IDLE
        self.dialog = Dialog.from_uas(invite, local_tag)
        self.call_id = invite.call_id
        self.edition = sniff_edition(invite.body) if invite.body else 5
        self._status = self.system_status()
        self._move(Input.INVITE_RECEIVED)
        body = encode(m.RequestSystemStatusResponse(systemStatus=self._status), self.edition)
        return build_response(
            invite,
            200,
            to_tag=local_tag,
            extra=[("Contact", self.contact()), ("Allow", DIALOG_ALLOW), *CSTA_HEADERS],
            body=body,
        )

    # -- building requests -------------------------------------------------------------------------

    def _dialog_request(self, method: str, body: bytes) -> tuple[Request, str]:
        """The request and its Via branch."""
        assert self.dialog is not None
        branch = new_branch()
        req = self.dialog.create_request(
            method,
            via_host=self.local,
            transport=self.transport,
            contact=self.contact() if method == "INFO" else None,
            extra=CSTA_HEADERS if body else None,
            body=body,
            branch=branch,
        )
        self._authorize(req)
        return req, branch

    def _info(
        self,
        purpose: _Purpose,
        message: m.CstaMessage,
        now: float,
        *,
        ref: int = 0,
        challenged: bool = False,
    ) -> None:
        req, branch = self._dialog_request("INFO", encode(message, self.edition))
        pending = self._track(purpose, req, branch, now, ref=ref, message=message)
        pending.challenged = challenged

    def _track(
        self,
        purpose: _Purpose,
        req: Request,
        branch: str,
        now: float,
        *,
        ref: int = 0,
        message: m.CstaMessage | None = None,
    ) -> _Pending:
        if purpose is _Purpose.INVITE:
            self._authorize(req)
        pending = _Pending(purpose, req, now + self.timers.request, ref, message)
        self._pending[branch] = pending
        self._out.append(req)
        return pending

    def _take_challenge(self, response: Response) -> bool:
        name = "WWW-Authenticate" if response.status == 401 else "Proxy-Authenticate"
        challenge = response.headers.get(name)
        if not challenge:
            return False
        self._auth_header = "Authorization" if response.status == 401 else "Proxy-Authorization"
        self._challenge, self._nc = challenge, 0
        return True

    def _authorize(self, req: Request) -> None:
        """Answer the phone's digest challenge on every request of the dialog,
        with a growing nonce count."""
        if self._challenge is None:
            return
        self._nc += 1
        try:
            value = answer_challenge(
                self._challenge,
                method=req.method,
                uri=req.uri,
                username=self.username,
                password=self.password(),
                nc=self._nc,
            )
        except SipParseError as exc:
            log.info(
                "cannot answer the challenge of %s: %s", self.tag, exc, extra={"tag": self.tag}
            )
            return
        req.headers.set(self._auth_header, value)


def _root(pending: _Pending) -> str:
    return pending.message.root() if pending.message is not None else pending.request.method
