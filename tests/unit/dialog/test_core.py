"""The uaCSTA dialog core with an in-memory peer and a fake clock: no sockets,
no sleeps.  Each test reads what crossed the wire and what the core reported."""

from __future__ import annotations

from collections.abc import Sequence

from uacsta.csta import model as m
from uacsta.csta.codec import DecodeError, decode, encode
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.types import DeviceID, EventDevice, SystemStatus
from uacsta.dialog import (
    DIALOG_ALLOW,
    Answered,
    DialogTimers,
    Ended,
    Established,
    Failed,
    IdentitiesLearned,
    MonitorStopped,
    PeerEvent,
    PeerRequest,
    RegistrationAborted,
    State,
    UacstaDialog,
)
from uacsta.dialog.core import MAX_UNANSWERED, TRANSITIONS, Input
from uacsta.sip.dialog import Dialog
from uacsta.sip.message import Request, Response, build_response

from .peer import AOR, PhonePair, ScriptedPhone, client_invite, wire


def kinds(events: Sequence[object]) -> list[str]:
    return [type(e).__name__ for e in events]


def up(pair: PhonePair) -> PhonePair:
    pair.start()
    assert pair.core.state is State.UP, pair.events
    return pair


# -- setting the dialog up -------------------------------------------------------------------


def test_invite_subscribe_learn_identities_then_up() -> None:
    pair = PhonePair()
    events = pair.start()
    assert kinds(events) == ["IdentitiesLearned", "Established"]
    learned = events[0]
    assert isinstance(learned, IdentitiesLearned) and learned.reported
    assert [d.value for d in learned.identities] == ["sip:201@pbx", "sip:202@pbx"]
    assert pair.methods()[:2] == ["INVITE", "ACK"]
    assert pair.sent_csta() == [
        "RequestSystemStatus",
        "SystemRegister",
        "GetSwitchingFunctionDevices",
    ]
    assert pair.core.sys_stat_register_id == "43"
    invite = pair.sent[0]
    assert isinstance(invite, Request)
    assert invite.headers.get("Content-Type") == "application/csta+xml"
    assert invite.headers.get("Allow") == DIALOG_ALLOW
    assert invite.uri.startswith("sip:000413AABBCC@10.0.0.9")
    # the keep-alive is the next thing due
    assert pair.core.next_deadline() == pair.clock.now + 60.0


def test_no_system_register_where_the_vendor_lacks_it() -> None:
    pair = up(PhonePair(system_register=False))
    assert "SystemRegister" not in pair.sent_csta()
    assert pair.core.sys_stat_register_id is None


def test_identities_in_several_segments() -> None:
    phone = ScriptedPhone(identities=["sip:1@x", "sip:2@x", "sip:3@x"], segments=3)
    pair = up(PhonePair(phone=phone))
    assert sorted(d.value for d in pair.core.identities) == ["sip:1@x", "sip:2@x", "sip:3@x"]


def test_a_phone_that_sends_no_list_stands_in_with_its_registration() -> None:
    pair = PhonePair(phone=ScriptedPhone(send_list=False))
    assert pair.start() == []  # waiting for the list
    assert pair.core.state is State.SETTING_UP
    events = pair.wait(3.0)
    learned = next(e for e in events if isinstance(e, IdentitiesLearned))
    assert not learned.reported and "in time" in learned.why
    assert [d.value for d in learned.identities] == [AOR]
    assert pair.core.state is State.UP


def test_a_phone_that_refuses_get_switching_function_devices() -> None:
    phone = ScriptedPhone()
    phone.answers["GetSwitchingFunctionDevices"] = lambda _m: CSTAErrorCode.operation(
        "serviceNotSupported"
    )
    pair = PhonePair(phone=phone)
    events = pair.start()
    learned = next(e for e in events if isinstance(e, IdentitiesLearned))
    assert not learned.reported and "refused" in learned.why
    assert pair.core.state is State.UP


def test_phone_digest_challenge_on_every_request() -> None:
    """snom csta_challenge 2: the INVITE and each INFO are challenged; the core
    answers with the MAC and phone password, nonce count growing."""
    pair = up(PhonePair(phone=ScriptedPhone(challenge=2)))
    authorized = [r for r in pair.sent if isinstance(r, Request) and r.headers.get("Authorization")]
    assert len(authorized) >= 4
    ncs = [r.headers.get("Authorization", "").split("nc=")[1][:8] for r in authorized]
    assert ncs == sorted(ncs) and len(set(ncs)) == len(ncs)
    # the 401 to the first INVITE was ACKed (RFC 3261 17.1.1.3), then a second INVITE
    assert pair.methods()[:3] == ["INVITE", "ACK", "INVITE"]


def test_invite_refused() -> None:
    pair = PhonePair(phone=ScriptedPhone(invite_answers=[403]))
    events = pair.start()
    assert isinstance(events[-1], Ended) and "403" in events[-1].reason
    assert pair.core.state is State.ENDED
    assert pair.methods() == ["INVITE", "ACK"]


def test_invite_unanswered_then_a_late_2xx_is_acked_and_byed() -> None:
    pair = PhonePair(phone=ScriptedPhone(answering=False))
    pair.start()
    events = pair.wait(5.0)
    assert isinstance(events[-1], Ended) and "no answer to INVITE within 5 s" in events[-1].reason
    # the phone was only slow: its 200 OK arrives now
    pair.phone.answering = True
    invite = pair.sent[0]
    assert isinstance(invite, Request)
    pair.phone.receive(wire(invite))
    pair.run()
    assert pair.methods()[-2:] == ["ACK", "BYE"]
    assert pair.phone.dialog is None  # the phone's stray dialog is gone


# -- keeping it alive ----------------------------------------------------------------------


def test_keepalive_every_interval() -> None:
    pair = up(PhonePair())
    before = pair.sent_csta().count("RequestSystemStatus")
    pair.wait(60.0)
    pair.wait(60.0)
    assert pair.sent_csta().count("RequestSystemStatus") == before + 2
    assert pair.core.state is State.UP


def test_missed_keepalive_ends_the_dialog_and_says_bye() -> None:
    pair = up(PhonePair())
    pair.phone.answering = False
    events = pair.wait(66.0)
    assert kinds(events) == ["Ended"]
    assert isinstance(events[0], Ended)
    assert events[0].reason == "no answer to RequestSystemStatus within 5 s"
    assert pair.methods()[-1] == "BYE"
    assert pair.core.next_deadline() is None


def test_an_unanswered_request_fails_and_the_keepalive_probes_at_once() -> None:
    """A phone may leave one request unanswered (Yealink's MakeCall while a
    call rings): that request fails, the dialog stays if the phone answers
    the keep-alive sent at once."""
    phone = ScriptedPhone()
    phone.answers["MakeCall"] = lambda _m: None
    pair = up(PhonePair(phone=phone))
    ref = pair.core.request(
        m.MakeCall(callingDevice=DeviceID("201"), calledDirectoryNumber=DeviceID("202")),
        pair.clock.now,
    )
    pair.run()
    keepalives = pair.sent_csta().count("RequestSystemStatus")
    events = pair.wait(5.0)
    assert Failed(ref, "no answer to MakeCall within 5 s") in events
    assert pair.sent_csta().count("RequestSystemStatus") == keepalives + 1
    assert pair.core.state is State.UP


def test_answers_and_refusals_of_requests() -> None:
    phone = ScriptedPhone()
    phone.answers["GetDoNotDisturb"] = lambda _m: m.GetDoNotDisturbResponse(doNotDisturbOn=True)
    pair = up(PhonePair(phone=phone))
    ok = pair.core.request(m.GetDoNotDisturb(device=DeviceID("201")), pair.clock.now)
    no = pair.core.request(m.SetDoNotDisturb(device=DeviceID("201"), doNotDisturbOn=True), 0)
    events = pair.run()
    answers = {e.ref: e.answer for e in events if isinstance(e, Answered)}
    assert isinstance(answers[ok], m.GetDoNotDisturbResponse)
    assert isinstance(answers[no], CSTAErrorCode)
    assert str(answers[no]) == "operation/serviceNotSupported"


def test_garbage_answers_become_clear_results_and_the_dialog_lives_on() -> None:
    pair = up(PhonePair())
    ref = pair.core.request(m.SnapshotDevice(snapshotObject=DeviceID("201")), pair.clock.now)
    (info,) = [r for r in pair.core.messages_to_send() if isinstance(r, Request)]
    pair.core.receive(wire(build_response(info, 200, body=b"<not xml")), pair.clock.now)
    ref2 = pair.core.request(m.SnapshotDevice(snapshotObject=DeviceID("201")), pair.clock.now)
    (info2,) = [r for r in pair.core.messages_to_send() if isinstance(r, Request)]
    pair.core.receive(wire(build_response(info2, 500)), pair.clock.now)
    events = pair.core.events()
    bad = next(e for e in events if isinstance(e, Answered) and e.ref == ref)
    assert isinstance(bad.answer, DecodeError)
    failed = next(e for e in events if isinstance(e, Failed))
    assert failed.ref == ref2 and "500" in failed.reason
    assert pair.core.state is State.UP


def test_481_ends_the_dialog() -> None:
    pair = up(PhonePair())
    pair.phone.dialog = None  # the phone forgot it (rebooted its CSTA stack)
    ref = pair.core.request(m.RequestSystemStatus(), pair.clock.now)
    events = pair.run()
    assert Failed(ref, "dialog ended: the phone no longer knows the dialog (481)") in events
    assert pair.core.state is State.ENDED


# -- what a phone asks or tells ------------------------------------------------------------------


def answered_body(pair: PhonePair, req: Request) -> m.CstaMessage | CSTAErrorCode | DecodeError:
    pair.core.receive(wire(req), pair.clock.now)
    (resp,) = pair.core.messages_to_send()
    assert isinstance(resp, Response) and resp.status == 200
    return decode(resp.body)


def test_monitor_stop_from_the_phone() -> None:
    pair = up(PhonePair())
    pair.core.request(
        m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID("201"))), 0
    )
    pair.run()
    assert pair.core.monitors == {"7"}
    answer = answered_body(pair, pair.phone.send(m.MonitorStop(monitorCrossRefID="7")))
    assert isinstance(answer, m.MonitorStopResponse)
    assert pair.core.events() == [MonitorStopped("7")]
    assert pair.core.monitors == set()
    unknown = answered_body(pair, pair.phone.send(m.MonitorStop(monitorCrossRefID="99")))
    assert isinstance(unknown, CSTAErrorCode)


def test_request_system_status_from_the_phone_says_the_servers_state() -> None:
    pair = up(PhonePair())
    pair.status = SystemStatus.DISABLED
    answer = answered_body(pair, pair.phone.send(m.RequestSystemStatus()))
    assert isinstance(answer, m.RequestSystemStatusResponse)
    assert answer.systemStatus is SystemStatus.DISABLED


def test_system_register_abort_registers_again() -> None:
    pair = up(PhonePair())
    registers = pair.sent_csta().count("SystemRegister")
    pair.phone.send(m.SystemRegisterAbort(sysStatRegisterID="43"))
    events = pair.run()
    assert RegistrationAborted("43") in events
    assert pair.sent_csta().count("SystemRegister") == registers + 1
    assert pair.core.sys_stat_register_id == "43"


def test_devices_changed_asks_for_the_identities_again() -> None:
    pair = up(PhonePair())
    pair.phone.identities = ["sip:203@pbx"]
    pair.phone.send(m.SwFunctionDevicesChanged(sysStatRegisterID="43"))
    events = pair.run()
    learned = next(e for e in events if isinstance(e, IdentitiesLearned))
    assert [d.value for d in learned.identities] == ["sip:203@pbx"]
    assert "Established" not in kinds(events)  # still the same dialog


def test_events_are_handed_up_in_order() -> None:
    pair = up(PhonePair())
    for xref in ("7", "8", "9"):
        pair.phone.send(
            m.DoNotDisturbEvent(
                monitorCrossRefID=xref, device=EventDevice.of("201"), doNotDisturbOn=True
            )
        )
    events = [e for e in pair.run() if isinstance(e, PeerEvent)]
    assert [e.message.monitorCrossRefID for e in events] == ["7", "8", "9"]  # type: ignore[attr-defined]


def test_bad_input_from_the_phone_gets_clear_answers() -> None:
    pair = up(PhonePair())
    assert pair.phone.dialog is not None
    bad = pair.phone.dialog.create_request("INFO", via_host="10.0.0.9:5060", body=b"<x")
    pair.core.receive(wire(bad), pair.clock.now)
    (resp,) = pair.core.messages_to_send()
    assert isinstance(resp, Response) and resp.status == 400
    # a replayed (lower) CSeq
    old = Request(headers=bad.headers.copy(), body=b"", method="INFO", uri=bad.uri)
    pair.core.receive(wire(old), pair.clock.now)
    (resp,) = pair.core.messages_to_send()
    assert isinstance(resp, Response) and resp.status == 500
    # a request for another dialog
    other = Dialog(
        "other@x", "t1", pair.phone.dialog.remote_tag, "sip:a@x", "sip:b@x", "sip:b@x", 1
    ).create_request("INFO", via_host="10.0.0.9:5060")
    pair.core.receive(wire(other), pair.clock.now)
    (resp,) = pair.core.messages_to_send()
    assert isinstance(resp, Response) and resp.status == 481
    assert pair.core.state is State.UP


def test_bye_from_the_phone() -> None:
    pair = up(PhonePair())
    pair.phone.bye()
    events = pair.run()
    assert events == [Ended("the phone ended the dialog (BYE)")]


# -- closing ---------------------------------------------------------------------------------------


def test_close_stops_monitors_cancels_the_registration_then_byes() -> None:
    pair = up(PhonePair())
    pair.core.request(
        m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=DeviceID("201"))), 0
    )
    pair.run()
    pair.core.close(pair.clock.now, "phone disabled")
    events = pair.run()
    assert pair.sent_csta()[-2:] == ["MonitorStop", "SystemRegisterCancel"]
    assert pair.methods()[-1] == "BYE"
    assert events == [Ended("phone disabled")]
    assert pair.phone.dialog is None


def test_close_does_not_wait_forever_for_a_silent_phone() -> None:
    pair = up(PhonePair())
    pair.phone.answering = False
    pair.core.close(pair.clock.now, "phone disabled")
    pair.run()
    events = pair.wait(10.0)
    assert events == [Ended("phone disabled")]
    assert pair.methods()[-1] == "BYE"


def test_every_transition_is_in_the_table() -> None:
    assert TRANSITIONS[(State.IDLE, Input.INVITE_SENT)] is State.INVITING
    assert TRANSITIONS[(State.INVITING, Input.INVITE_ACCEPTED)] is State.SETTING_UP
    assert TRANSITIONS[(State.SETTING_UP, Input.SET_UP)] is State.UP
    assert TRANSITIONS[(State.UP, Input.CLOSE)] is State.CLOSING
    assert TRANSITIONS[(State.CLOSING, Input.CLOSE)] is State.ENDED
    assert all(TRANSITIONS[(s, Input.FAILED)] is State.ENDED for s in State if s is not State.ENDED)
    assert not any(key[0] is State.ENDED for key in TRANSITIONS)  # ENDED is final


# -- towards a client ---------------------------------------------------------------------


def client_core() -> UacstaDialog:
    return UacstaDialog.towards_client(
        local="192.0.2.1:5080",
        transport="TCP",
        name="crm",
        timers=DialogTimers(),
        system_status=lambda: SystemStatus.PARTIALLY_DISABLED,
    )


def accepted() -> tuple[UacstaDialog, Dialog]:
    core = client_core()
    invite = wire(client_invite(encode(m.RequestSystemStatus(), 3)))
    assert isinstance(invite, Request)
    ok = core.accept(invite, "srv1", 0.0)
    assert ok.status == 200
    client_side = Dialog.from_uac(invite, wire(ok))  # type: ignore[arg-type]
    return core, client_side


def test_client_invite_accepted_in_the_clients_edition() -> None:
    core, _ = accepted()
    assert core.state is State.UP and core.edition == 3
    assert core.events() == [Established(SystemStatus.PARTIALLY_DISABLED)]


def test_client_requests_are_handed_up_and_answered_in_their_200() -> None:
    core, client = accepted()
    info = client.create_request(
        "INFO", via_host="10.0.0.50:40000", body=encode(m.RequestSystemStatus(), 3)
    )
    core.events()  # Established
    core.receive(wire(info), 1.0)
    assert core.messages_to_send() == []  # answered when the switching function has
    (asked,) = core.events()
    assert isinstance(asked, PeerRequest) and isinstance(asked.message, m.RequestSystemStatus)
    core.respond(asked.ref, m.RequestSystemStatusResponse(systemStatus=SystemStatus.NORMAL))
    (resp,) = core.messages_to_send()
    assert isinstance(resp, Response) and resp.status == 200
    assert b"ed3" in resp.body and isinstance(decode(resp.body), m.RequestSystemStatusResponse)


def test_client_events_with_flow_control() -> None:
    core, _ = accepted()
    body = encode(m.MonitorStopResponse(), 3)
    sent = 0
    while core.send_event(body, 1.0):
        sent += 1
    assert sent == MAX_UNANSWERED
    infos = [r for r in core.messages_to_send() if isinstance(r, Request)]
    for info in infos[:10]:
        core.receive(wire(build_response(info, 200)), 2.0)
    assert core.unanswered == MAX_UNANSWERED - 10
    assert core.send_event(body, 2.0)


def test_client_bye_ends_it() -> None:
    core, client = accepted()
    core.receive(wire(client.create_request("BYE", via_host="10.0.0.50:40000")), 1.0)
    (resp,) = core.messages_to_send()
    assert isinstance(resp, Response) and resp.status == 200
    assert core.events()[-1] == Ended("the client ended the dialog (BYE)")
    assert not core.send_event(b"x", 2.0)
