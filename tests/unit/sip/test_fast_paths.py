"""The parsers' fast paths (a regular expression for the spelling phones send) give
what the general parsers give, and leave every other spelling to them.

Each strategy draws spellings near the fast path's edge: LWS, quoted values, IPv6
references, ports out of range, empty parameters; the general parser is the
reference, so a fast path that took a spelling it should not would fail here.
"""

from __future__ import annotations

import itertools

from hypothesis import given, settings
from hypothesis import strategies as st

from uacsta.sip.address import parse_via, parse_via_general
from uacsta.sip.errors import SipParseError
from uacsta.sip.framer import scan_content_length, scan_content_length_general
from uacsta.sip.grammar import parse_params, parse_params_general
from uacsta.sip.headers import Headers

_TOKEN = st.text(alphabet="abcXYZ019-.!%*_+`'~", min_size=0, max_size=6)
_VALUE = st.one_of(
    _TOKEN,
    st.text(alphabet="ab[]:09", max_size=6),
    st.builds(lambda t: f'"{t}"', st.text(alphabet='ab ;,\\"', max_size=5)),
    st.sampled_from(["a b", "a,b", "é", "a\tb"]),
)
_SPACE = st.sampled_from(["", "", "", " ", "\t"])
_PARAM = st.builds(
    lambda s1, name, eq, s2, value: f"{s1};{name}{eq}{s2}{value}" if eq else f"{s1};{name}",
    _SPACE,
    _TOKEN,
    st.sampled_from(["", "=", " =", "= "]),
    _SPACE,
    _VALUE,
)
_PARAMS = st.builds("".join, st.lists(_PARAM, max_size=4))


def _outcome(parse: object, *args: object) -> object:
    assert callable(parse)
    try:
        result = parse(*args)
    except SipParseError as exc:
        return ("error", exc.reason)
    return result


@settings(max_examples=400)
@given(_PARAMS)
def test_parameters_parse_as_the_general_parser_does(text: str) -> None:
    assert _outcome(parse_params, text, "X") == _outcome(parse_params_general, text, "X")


_VIA_PARTS = (
    ["SIP/2.0/", "sip/2.0/", "SIP/3.0/", "SIP / 2.0 /", "SIP/2.0"],
    ["TCP", "tls", "T CP", "", "TCP;"],
    [" ", "  ", "\t", ""],
    ["10.0.0.1", "phone.example.com", "[2001:db8::1]", "[zz]", "a_b", "", "host "],
    ["", ":5060", ":65535", ":65536", ":099999", ": 5060", ":", ":x"],
    ["", ";branch=z9hG4bK1;rport", ";received=[::1]", ";a=", ";=b", ';a="q"', "; a", ";"],
    ["", " ", "\t"],
)


def test_via_parses_as_the_general_parser_does() -> None:
    for parts in itertools.product(*_VIA_PARTS):
        text = "".join(parts)
        assert _outcome(parse_via, text) == _outcome(parse_via_general, text), text


@settings(max_examples=300)
@given(_PARAMS)
def test_via_parameters_parse_as_the_general_parser_does(params: str) -> None:
    text = f"SIP/2.0/TCP 10.0.0.1:5060{params}"
    assert _outcome(parse_via, text) == _outcome(parse_via_general, text)


# White space str.strip() takes and the head's grammar does not (vertical tab,
# no-break space): the scan must not read such a line otherwise than the long way.
_CL_SPACE = st.sampled_from(["", "", " ", "\t", "\x0b", "\xa0"])
_CL_LINE = st.builds(
    lambda name, s1, s2, value, s3: f"{name}{s1}:{s2}{value}{s3}",
    st.sampled_from(["Content-Length", "content-length", "l", "L", "Content-Lengthx"]),
    _CL_SPACE,
    _CL_SPACE,
    st.sampled_from(["0", "12", "0012", "12345678901", "", "x", "1 2", "²", "3, 3", "3,4"]),
    _CL_SPACE,
)
_OTHER_LINE = st.sampled_from(["Via: SIP/2.0/TCP h", "X-L: 3", "Subject: l: 4", " folded"])


@settings(max_examples=400)
@given(st.lists(st.one_of(_CL_LINE, _OTHER_LINE), max_size=4))
def test_content_length_scan_agrees_with_the_general_scan(lines: list[str]) -> None:
    head = "\r\n".join(["INFO sip:a@b SIP/2.0", *lines]).encode()
    assert _outcome(scan_content_length, head) == _outcome(scan_content_length_general, head)


def test_header_lookup_after_changes() -> None:
    # get() keeps an index of first values; every change must drop it.
    h = Headers([("Via", "a"), ("v", "b"), ("To", "t")])
    assert h.get("via") == "a"
    h.remove("Via")
    assert h.get("Via") is None
    h.add("Via", "c")
    assert h.get("v") == "c"
    h.set("To", "u")
    assert h.get("t") == "u"
    assert h.get_all("Via") == ["c"]
