from __future__ import annotations

import pytest

from uacsta.sip import Headers, Request, Response, SipParseError, build_response, parse_message
from uacsta.sip.address import parse_name_addr, parse_via
from uacsta.sip.uri import SipUri, TelUri, parse_uri

REGISTER = (
    b"REGISTER sip:uacsta.example.com SIP/2.0\r\n"
    b"Via: SIP/2.0/TCP 192.0.2.10:50000;branch=z9hG4bKabc;rport\r\n"
    b"Max-Forwards: 70\r\n"
    b'From: "snom" <sip:000413AABBCC@uacsta.example.com>;tag=f1\r\n'
    b"To: <sip:000413AABBCC@uacsta.example.com>\r\n"
    b"Call-ID: reg-1@192.0.2.10\r\n"
    b"CSeq: 7 REGISTER\r\n"
    b"Contact: <sip:000413AABBCC@192.0.2.10:50000;transport=tcp>;expires=300,"
    b" <sip:x@192.0.2.10>;q=0.5\r\n"
    b"k: path, outbound\r\n"
    b"Content-Length: 0\r\n\r\n"
)


def test_request_fields() -> None:
    msg = parse_message(REGISTER)
    assert isinstance(msg, Request)
    assert msg.method == "REGISTER"
    assert msg.cseq.number == 7
    assert msg.from_.display == "snom"
    assert msg.from_.tag == "f1"
    assert msg.to.tag is None
    via = msg.vias[0]
    assert via.host == "192.0.2.10" and via.port == 50000 and via.params["rport"] is None
    contacts = msg.contacts
    assert [c.params for c in contacts] == [{"expires": "300"}, {"q": "0.5"}]
    assert msg.headers.get_list("Supported") == ["path", "outbound"]
    assert msg.headers.get("k") == "path, outbound"


def test_round_trip() -> None:
    msg = parse_message(REGISTER)
    again = parse_message(msg.to_bytes())
    assert list(again.headers) == list(msg.headers)
    assert again.body == msg.body


def test_serializer_sets_content_length() -> None:
    headers = Headers([("Content-Length", "99")])
    data = Request(headers=headers, body=b"abc", method="INFO", uri="sip:a@b").to_bytes()
    assert data.endswith(b"Content-Length: 3\r\n\r\nabc")
    assert data.count(b"Content-Length") == 1


def test_build_response_copies_and_tags() -> None:
    req = parse_message(REGISTER)
    assert isinstance(req, Request)
    resp = build_response(req, 200, to_tag="t9", extra=[("Expires", "300")])
    assert isinstance(resp, Response)
    assert resp.to.tag == "t9"
    assert resp.headers.get_all("Via") == req.headers.get_all("Via")
    assert resp.cseq == req.cseq
    assert parse_message(resp.to_bytes()).to.tag == "t9"
    # 100 Trying carries no tag
    assert build_response(req, 100, to_tag="t9").to.tag is None


@pytest.mark.parametrize(
    "text",
    [
        "sip:alice@example.com",
        "sips:alice:secret@[2001:db8::1]:5061;transport=tls",
        "sip:example.com;lr",
        "sip:a@b?subject=x",
    ],
)
def test_sip_uri_round_trip(text: str) -> None:
    uri = parse_uri(text)
    assert isinstance(uri, SipUri)
    assert str(uri) == text


def test_tel_uri() -> None:
    uri = parse_uri("tel:73124;phone-context=dialstring;partition=BE_BRS_INT")
    assert isinstance(uri, TelUri)
    assert uri.number == "73124"
    assert uri.params["partition"] == "BE_BRS_INT"


@pytest.mark.parametrize(
    "text", ["sip:", "sip:@host", "sip:a@b:99999", "sip:a b@c", "nocolon", "sip:a@[::1"]
)
def test_bad_uris(text: str) -> None:
    with pytest.raises(SipParseError):
        parse_uri(text)


def test_name_addr_forms() -> None:
    a = parse_name_addr('"A \\"B\\"" <sip:a@b>;tag=1;x', "From")
    assert a.display == 'A "B"' and a.params == {"tag": "1", "x": None}
    b = parse_name_addr("sip:a@b;tag=2", "From")
    assert b.tag == "2" and str(b.uri) == "sip:a@b"
    c = parse_name_addr("Alice Smith <sip:a@b>", "From")
    assert c.display == "Alice Smith"
    assert parse_name_addr(str(a), "From") == a


def test_via_forms() -> None:
    v = parse_via("SIP/2.0/TLS [2001:db8::5]:5061;branch=z9hG4bK1;received=1.2.3.4")
    assert v.transport == "TLS" and v.host == "[2001:db8::5]" and v.port == 5061
    assert parse_via(str(v)) == v
    with pytest.raises(SipParseError):
        parse_via("SIP/2.0 host")


@pytest.mark.parametrize(
    ("raw", "status"),
    [
        (b"REGISTER sip:x SIP/2.0\r\nBad Header\r\n\r\n", 400),
        (b"HELLO\r\n\r\n", 400),
        (b"SIP/2.0 20 OK\r\n\r\n", 400),
    ],
)
def test_malformed(raw: bytes, status: int) -> None:
    with pytest.raises(SipParseError) as info:
        parse_message(raw)
    assert info.value.status == status


@pytest.mark.parametrize(
    ("header", "value"),
    [
        ("CSeq", "\u00b2 REGISTER"),  # superscript two
        ("CSeq", "\u0663 REGISTER"),  # Arabic-Indic three
        ("Max-Forwards", "\u0667\u0660"),  # Arabic-Indic seventy
        ("Expires", "\u00b3\u2070\u2070"),  # superscripts
        ("Content-Length", "\uff10"),  # fullwidth zero
        ("Via", "SIP/2.0/TCP 192.0.2.10:\uff15\uff10\uff10\uff10;branch=z9hG4bKabc"),
    ],
)
def test_unicode_digits_are_a_parse_error_not_a_crash(header: str, value: str) -> None:
    """RFC 3261 DIGIT is ASCII: other Unicode digits (which str.isdigit takes
    and int() may refuse) make a 400, never a ValueError."""
    lines = REGISTER.decode().split("\r\n")
    if not any(ln.startswith(f"{header}:") for ln in lines):
        lines.insert(1, f"{header}: 1")
    lines = [f"{header}: {value}" if ln.startswith(f"{header}:") else ln for ln in lines]
    raw = "\r\n".join(lines).encode()
    with pytest.raises(SipParseError):
        msg = parse_message(raw)
        # some headers are read lazily: reading them is where they must fail
        _ = (msg.cseq, msg.vias, msg.contacts)
        from uacsta.sip.message import check_core_headers

        check_core_headers(msg)
