"""RFC 4475 torture messages, through the whole-message parser and the stream framer."""

from __future__ import annotations

import pytest

from tests.data.rfc4475 import BY_NAME, TORTURE, Torture
from uacsta.sip import (
    BadMessage,
    FramingError,
    MessageReceived,
    Request,
    SipParseError,
    StreamFramer,
    parse_message,
)
from uacsta.sip.uas import UasPolicy, precheck_request

VALID = [t for t in TORTURE if t.kind in ("valid", "app")]
INVALID = [t for t in TORTURE if t.kind == "invalid"]


@pytest.mark.parametrize("t", VALID, ids=lambda t: f"{t.section}-{t.name}")
def test_valid_messages_parse(t: Torture) -> None:
    msg = parse_message(t.data)
    assert msg.call_id
    assert msg.vias


@pytest.mark.parametrize("t", [t for t in VALID if t.stream], ids=lambda t: t.name)
def test_valid_messages_frame_on_a_stream(t: Torture) -> None:
    events = StreamFramer().feed(t.data)
    assert events, "framer produced nothing"
    assert all(isinstance(e, MessageReceived) for e in events), events


@pytest.mark.parametrize("t", INVALID, ids=lambda t: f"{t.section}-{t.name}")
def test_invalid_messages_are_refused(t: Torture) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(t.data)
    if t.status is not None:
        assert info.value.status == t.status


@pytest.mark.parametrize("t", [t for t in INVALID if t.stream], ids=lambda t: t.name)
def test_invalid_messages_on_a_stream(t: Torture) -> None:
    """Refused as a BadMessage (answerable, stream goes on) or, where the length
    cannot be known, a FramingError; never accepted."""
    events = StreamFramer().feed(t.data)
    assert len(events) == 1
    event = events[0]
    if t.status is None and isinstance(event, FramingError):
        return
    assert isinstance(event, BadMessage), event
    if t.status is not None:
        assert event.error.status == t.status


def test_content_length_larger_than_data_waits_for_more() -> None:
    framer = StreamFramer()
    assert framer.feed(BY_NAME["clerr"].data) == []
    assert framer.buffered == len(BY_NAME["clerr"].data)


def test_wsinv_details() -> None:
    msg = parse_message(BY_NAME["wsinv"].data)
    assert isinstance(msg, Request)
    assert msg.uri == "sip:vivekg@chair-dnrc.example.com;unknownparam"
    assert msg.to.tag == "1918181833n"
    assert msg.from_.display == 'J Rosenberg \\"'
    assert msg.from_.tag == "98asjd8"
    assert msg.headers.get("Max-Forwards") == "0068"
    assert msg.cseq.number == 9 and msg.cseq.method == "INVITE"
    vias = msg.vias
    assert [v.transport for v in vias] == ["UDP", "TCP", "UDP"]
    assert vias[1].host == "spindle.example.com" and vias[1].branch == "z9hG4bK9ikj8"
    assert vias[2].branch == "z9hG4bK30239"
    (contact,) = msg.contacts
    assert contact.display == 'Quoted string ""'
    assert contact.params == {"newparam": "newvalue", "secondparam": None, "q": "0.33"}
    assert msg.headers.get("NewFangledHeader") == "newfangled value continued newfangled value"
    assert msg.headers.get("UnknownHeaderWithUnusualValue") == ";;,,;;,;"
    assert msg.headers.get("Subject") == ""
    assert len(msg.body) == 150


def test_intmeth_and_escapes() -> None:
    msg = parse_message(BY_NAME["intmeth"].data)
    assert isinstance(msg, Request)
    assert msg.method == "!interesting-Method0123456789_*+`.%indeed'~"
    assert msg.to.display == "BEL:\x07 NUL:\x00 DEL:\x7f"
    esc = parse_message(BY_NAME["esc01"].data)
    assert str(esc.to.uri) == "sip:%75se%72@example.com"
    semi = parse_message(BY_NAME["semiuri"].data)
    assert isinstance(semi, Request)
    from uacsta.sip.uri import SipUri, parse_uri

    uri = parse_uri(semi.uri)
    assert isinstance(uri, SipUri) and uri.user == "user;par=u%40example.net"


def test_longreq_has_34_vias() -> None:
    assert len(parse_message(BY_NAME["longreq"].data).vias) == 34


def test_dblreq_on_a_stream_is_two_requests() -> None:
    events = StreamFramer().feed(BY_NAME["dblreq"].data)
    methods = [
        e.message.method
        for e in events
        if isinstance(e, MessageReceived) and isinstance(e.message, Request)
    ]
    assert methods == ["REGISTER", "INVITE"]


APP_EXPECTED = {"unkscm": 416, "novelsc": 416, "bext01": 420, "invut": 415}


@pytest.mark.parametrize("name", sorted(APP_EXPECTED))
def test_application_level_refusals(name: str) -> None:
    msg = parse_message(BY_NAME[name].data)
    assert isinstance(msg, Request)
    response = precheck_request(msg, UasPolicy(), "tag1")
    assert response is not None and response.status == APP_EXPECTED[name]
    if name == "bext01":
        assert response.headers.get("Unsupported") == (
            "nothingSupportsThis, nothingSupportsThisEither"
        )
