from __future__ import annotations

from uacsta.sip import Request, build_response, parse_message
from uacsta.sip.dialog import Dialog
from uacsta.sip.headers import Headers
from uacsta.sip.transaction import TIMEOUT, Kind, State, TransactionTable, new_branch


def invite(branch: str, method: str = "INVITE", cseq: int = 1) -> Request:
    h = Headers()
    h.add("Via", f"SIP/2.0/TCP server.example;branch={branch}")
    h.add("From", "<sip:uacsta@server.example>;tag=srv")
    h.add("To", "<sip:000413AABBCC@phone.example>")
    h.add("Call-ID", "csta-1@server.example")
    h.add("CSeq", f"{cseq} {method}")
    h.add("Contact", "<sip:uacsta@192.0.2.1:5060;transport=tcp>")
    h.add("Max-Forwards", "70")
    req = Request(headers=h, method=method, uri="sip:000413AABBCC@192.0.2.10:5060")
    parsed = parse_message(req.to_bytes())
    assert isinstance(parsed, Request)
    return parsed


def test_invite_client_transaction_and_dialog() -> None:
    table = TransactionTable()
    req = invite(new_branch())
    tx = table.new_client(req, now=0.0)
    assert tx.kind is Kind.INVITE_CLIENT and tx.state is State.CALLING
    ringing = build_response(req, 180, to_tag="ph")
    assert table.response_received(ringing, now=0.1) is tx and tx.state is State.PROCEEDING
    ok = build_response(req, 200, to_tag="ph", extra=[("Contact", "<sip:p@192.0.2.10:5060>")])
    table.response_received(ok, now=0.2)
    assert tx.state is State.ACCEPTED
    dialog = Dialog.from_uac(req, ok)
    assert dialog.id == ("csta-1@server.example", "srv", "ph")
    assert dialog.remote_target == "sip:p@192.0.2.10:5060"
    info = dialog.create_request("INFO", via_host="192.0.2.1:5060")
    assert info.cseq.number == 2 and info.uri == "sip:p@192.0.2.10:5060"
    assert info.to.tag == "ph" and info.from_.tag == "srv"
    ack = dialog.create_request("ACK", via_host="192.0.2.1:5060", cseq=1)
    assert ack.cseq.number == 1 and ack.cseq.method == "ACK"
    assert dialog.matches(build_response(info, 200), incoming_request=False)
    # timer M ends the accepted state
    assert table.expire(now=0.2 + TIMEOUT + 0.1) == [tx]
    assert len(table) == 0


def test_non_invite_timeout_is_a_deadline() -> None:
    table = TransactionTable()
    req = invite(new_branch(), "INFO", 2)
    tx = table.new_client(req, now=10.0)
    assert table.expire(now=10.0 + TIMEOUT - 0.01) == []
    assert table.expire(now=10.0 + TIMEOUT) == [tx]
    assert tx.state is State.TERMINATED
    # a late response is a stray
    assert table.response_received(build_response(req, 200), now=99.0) is None


def test_server_transaction_retransmission_and_ack() -> None:
    table = TransactionTable()
    req = invite("z9hG4bKsame")
    tx, new = table.request_received(req, now=0.0)
    assert new and tx.kind is Kind.INVITE_SERVER
    again, new2 = table.request_received(req, now=0.1)
    assert again is tx and not new2
    busy = build_response(req, 486, to_tag="x")
    table.response_sent(tx, busy, now=0.2)
    assert tx.state is State.COMPLETED
    ack = invite("z9hG4bKsame", "ACK", 1)
    table.request_received(ack, now=0.3)
    assert tx.state is State.TERMINATED and len(table) == 0


def test_transport_failure_ends_bound_transactions() -> None:
    table = TransactionTable()
    tx = table.new_client(invite(new_branch(), "INFO", 3), now=0.0)
    conn = object()
    tx.connection_id = conn
    assert table.transport_failed(conn, now=1.0) == [tx]
    assert tx.state is State.TERMINATED


def test_uas_dialog_orders_cseq() -> None:
    req = invite(new_branch())
    req.headers.set("From", "<sip:client@x>;tag=c1")
    d = Dialog.from_uas(req, "loc")
    later = invite(new_branch(), "INFO", 5)
    assert d.accept_remote_cseq(later)
    assert not d.accept_remote_cseq(invite(new_branch(), "INFO", 4))
