"""An in-memory peer for the uaCSTA dialog core (h11's ConnectionPair, aioquic's
client_and_server): a scripted phone and a scripted client, written on the
SIP and CSTA layers only, never on the core they test.  Every message goes
through bytes and the stream framer both ways, as on the wire."""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field

from uacsta.csta import model as m
from uacsta.csta.codec import DecodeError, decode, encode
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.types import DeviceCategory, DeviceID, SystemStatus
from uacsta.dialog import DialogEvent, DialogTimers, UacstaDialog
from uacsta.sip.dialog import Dialog, new_tag
from uacsta.sip.digest import DigestServer, Verdict, compute_ha1, parse_credentials
from uacsta.sip.framer import MessageReceived, StreamFramer
from uacsta.sip.headers import Headers
from uacsta.sip.message import Request, Response, build_response

HEADERS = [("Content-Type", "application/csta+xml"), ("Content-Disposition", "signal")]
MAC = "000413AABBCC"
PASSWORD = "phone-pw-1234"
AOR = f"sip:{MAC}@uacsta.test"


def wire(msg: Request | Response) -> Request | Response:
    """Through bytes and the framer, as a peer reads it."""
    (event,) = StreamFramer().feed(msg.to_bytes())
    assert isinstance(event, MessageReceived), event
    return event.message


Answer = m.CstaMessage | CSTAErrorCode | None  # None: no answer at all


@dataclass
class ScriptedPhone:
    """A phone as the manual and the vendors' documents describe it."""

    identities: list[str] = field(default_factory=lambda: ["sip:201@pbx", "sip:202@pbx"])
    challenge: int = 0  # snom csta_challenge: 1 the INVITE, 2 every request
    answering: bool = True
    segments: int = 1  # how many SwitchingFunctionDevices INFOs the list takes
    send_list: bool = True
    answers: dict[str, Callable[[m.CstaMessage], Answer]] = field(default_factory=dict)
    dialog: Dialog | None = None
    received: list[Request] = field(default_factory=list)
    csta: list[m.CstaMessage | CSTAErrorCode | DecodeError] = field(default_factory=list)
    out: list[Request | Response] = field(default_factory=list)
    invite_answers: list[int] = field(default_factory=list)  # scripted INVITE statuses
    digest: DigestServer = field(
        default_factory=lambda: DigestServer(f"snom-{MAC}", secrets.token_bytes(16))
    )
    _invites: int = 0

    def receive(self, msg: Request | Response) -> None:
        if isinstance(msg, Response):
            return  # answers to our own INFOs
        self.received.append(msg)
        if msg.method == "ACK":
            return
        if not self.answering:
            return
        if self.challenge and (msg.method == "INVITE" or self.challenge >= 2):
            refusal = self._challenge(msg)
            if refusal is not None:
                self.out.append(refusal)
                return
        if msg.method == "INVITE":
            self._invite(msg)
        elif msg.method == "BYE":
            ours = self.dialog is not None and msg.call_id == self.dialog.call_id
            self.out.append(build_response(msg, 200 if ours else 481))
            if ours:
                self.dialog = None
        elif msg.method == "INFO":
            self._info(msg)

    def _challenge(self, req: Request) -> Response | None:
        value = req.headers.get("Authorization")
        if value:
            creds = parse_credentials(value)
            ha1 = compute_ha1(creds.username, self.digest.realm, PASSWORD)
            if self.digest.verify(creds, req.method, ha1, 0.0) is Verdict.OK:
                return None
        (challenge,) = self.digest.challenges(0.0)
        return build_response(
            req, 401, to_tag=new_tag(), extra=[("WWW-Authenticate", challenge.header_value())]
        )

    def _invite(self, req: Request) -> None:
        self._invites += 1
        if self.invite_answers:
            status = self.invite_answers.pop(0)
            if status >= 300:
                self.out.append(build_response(req, status, to_tag=new_tag()))
                return
        tag = new_tag()
        self.dialog = Dialog.from_uas(req, tag)
        body = encode(m.RequestSystemStatusResponse(systemStatus=SystemStatus.NORMAL), 5)
        self.out.append(
            build_response(
                req,
                200,
                to_tag=tag,
                body=body,
                extra=[("Contact", f"<sip:{MAC}@10.0.0.9:5060;transport=tcp>"), *HEADERS],
            )
        )

    def _info(self, req: Request) -> None:
        if self.dialog is None or req.call_id != self.dialog.call_id:
            self.out.append(build_response(req, 481))
            return
        msg = decode(req.body)
        self.csta.append(msg)
        answer = self.answer(msg)
        if answer is None:
            return
        self.out.append(build_response(req, 200, extra=HEADERS, body=encode(answer, 5)))
        if isinstance(msg, m.GetSwitchingFunctionDevices) and self.send_list:
            self._send_list()

    def answer(self, msg: m.CstaMessage | CSTAErrorCode | DecodeError) -> Answer:
        if not isinstance(msg, m.CstaMessage):
            return CSTAErrorCode.operation("generic")
        custom = self.answers.get(msg.root())
        if custom is not None:
            return custom(msg)
        if isinstance(msg, m.RequestSystemStatus):
            return m.RequestSystemStatusResponse(systemStatus=SystemStatus.NORMAL)
        if isinstance(msg, m.SystemRegister):
            return m.SystemRegisterResponse(sysStatRegisterID="43")
        if isinstance(msg, m.SystemRegisterCancel):
            return m.SystemRegisterCancelResponse()
        if isinstance(msg, m.GetSwitchingFunctionDevices):
            return m.GetSwitchingFunctionDevicesResponse(serviceCrossRefID="X1")
        if isinstance(msg, m.MonitorStart):
            return m.MonitorStartResponse(monitorCrossRefID="7")
        if isinstance(msg, m.MonitorStop):
            return m.MonitorStopResponse()
        return CSTAErrorCode.operation("serviceNotSupported")

    def _send_list(self) -> None:
        chunks = [self.identities[i :: self.segments] for i in range(self.segments)]
        for n, chunk in enumerate(chunks, 1):
            devices = [
                m.SwitchingFunctionDevice(
                    deviceID=DeviceID(i), deviceCategory=DeviceCategory.STATION
                )
                for i in chunk
            ]
            self.send(
                m.SwitchingFunctionDevices(
                    serviceCrossRefID="X1",
                    segmentID=n,
                    lastSegment=n == len(chunks),
                    deviceList=devices,
                )
            )

    def send(self, msg: m.CstaMessage) -> Request:
        """An INFO from the phone in its dialog."""
        assert self.dialog is not None
        req = self.dialog.create_request(
            "INFO", via_host="10.0.0.9:5060", extra=HEADERS, body=encode(msg, 5)
        )
        self.out.append(req)
        return req

    def bye(self) -> None:
        assert self.dialog is not None
        self.out.append(self.dialog.create_request("BYE", via_host="10.0.0.9:5060"))


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def advance(self, seconds: float) -> float:
        self.now += seconds
        return self.now


@dataclass
class PhonePair:
    """The core towards a phone, and the scripted phone, in memory."""

    phone: ScriptedPhone = field(default_factory=ScriptedPhone)
    system_register: bool = True
    status: SystemStatus = SystemStatus.NORMAL
    clock: Clock = field(default_factory=Clock)
    events: list[DialogEvent] = field(default_factory=list)
    sent: list[Request | Response] = field(default_factory=list)  # what the core sent
    core: UacstaDialog = field(init=False)

    def __post_init__(self) -> None:
        self.core = UacstaDialog.towards_phone(
            local="192.0.2.1:5060",
            transport="TCP",
            aor=AOR,
            contact=f"sip:{MAC}@10.0.0.9:5060;transport=tcp",
            username=MAC,
            password=lambda: PASSWORD,
            edition=5,
            system_register=self.system_register,
            timers=DialogTimers(keepalive=60.0, request=5.0, identities=3.0),
            system_status=lambda: self.status,
            jitter=lambda: 1.0,
        )

    def run(self) -> list[DialogEvent]:
        """Shuttle messages both ways until neither side has anything to say."""
        for _ in range(1000):
            out = self.core.messages_to_send()
            self.sent += out
            for msg in out:
                self.phone.receive(wire(msg))
            back, self.phone.out = self.phone.out, []
            for msg in back:
                self.core.receive(wire(msg), self.clock.now)
            if not out and not back:
                break
        new = self.core.events()
        self.events += new
        return new

    def start(self) -> list[DialogEvent]:
        self.core.invite(self.clock.now)
        return self.run()

    def wait(self, seconds: float) -> list[DialogEvent]:
        """Let time pass, waking the core at each deadline on the way."""
        until = self.clock.now + seconds
        new: list[DialogEvent] = []
        while True:
            deadline = self.core.next_deadline()
            if deadline is None or deadline > until:
                break
            self.clock.now = max(self.clock.now, deadline)
            self.core.handle_deadline(self.clock.now)
            new += self.run()
        self.clock.now = until
        return new

    def sent_csta(self) -> list[str]:
        return [
            type(decode(r.body)).__name__
            for r in self.sent
            if isinstance(r, Request) and r.method in ("INFO", "INVITE") and r.body
        ]

    def methods(self) -> list[str]:
        return [r.method for r in self.sent if isinstance(r, Request)]


def client_invite(body: bytes, cseq: int = 1) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/TCP 10.0.0.50:40000;branch=z9hG4bK{secrets.token_hex(6)}")
    h.add("Max-Forwards", "70")
    h.add("From", "<sip:crm@10.0.0.50>;tag=cl1")
    h.add("To", "<sip:uacsta@192.0.2.1>")
    h.add("Call-ID", "client-call-1@10.0.0.50")
    h.add("CSeq", f"{cseq} INVITE")
    h.add("Contact", "<sip:crm@10.0.0.50:40000;transport=tcp>")
    for name, value in HEADERS:
        h.add(name, value)
    return Request(headers=h, body=body, method="INVITE", uri="sip:uacsta@192.0.2.1")
