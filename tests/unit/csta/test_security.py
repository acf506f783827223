"""Hostile XML: refused with a clear error value, before any expansion."""

from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from uacsta.csta.codec import MAX_SIZE, DecodeError, decode

BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol2 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol9 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
]>
<MakeCall><callingDevice>&lol9;</callingDevice><calledDirectoryNumber>1</calledDirectoryNumber>
</MakeCall>"""


def quadratic() -> bytes:
    entity = "A" * 20000
    return (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY a "{entity}">]>'
        "<MakeCall><callingDevice>" + "&a;" * 5000 + "</callingDevice></MakeCall>"
    ).encode()


def external(path: Path) -> bytes:
    return (
        f'<?xml version="1.0"?><!DOCTYPE x [<!ENTITY e SYSTEM "file://{path}">]>'
        "<MakeCall><callingDevice>&e;</callingDevice>"
        "<calledDirectoryNumber>1</calledDirectoryNumber></MakeCall>"
    ).encode()


def test_billion_laughs() -> None:
    result = decode(BILLION_LAUGHS)
    assert isinstance(result, DecodeError) and "DOCTYPE" in result.reason


def test_quadratic_blowup() -> None:
    result = decode(quadratic())
    assert isinstance(result, DecodeError) and "DOCTYPE" in result.reason


def test_external_entity_is_never_read(tmp_path: Path) -> None:
    secret = tmp_path / "secret.txt"
    secret.write_text("TOP-SECRET")
    result = decode(external(secret))
    assert isinstance(result, DecodeError)
    assert "TOP-SECRET" not in str(result)


def test_doctype_in_any_case_and_spacing() -> None:
    for prefix in (b"<!doctype x>", b"<! DOCTYPE x>", b"<!DocType x []>", b"<!ENTITY x 'y'>"):
        result = decode(prefix + b"<MakeCall/>")
        assert isinstance(result, DecodeError)


def test_undeclared_entity_reference_is_an_error() -> None:
    result = decode(b"<MakeCall><callingDevice>&xxe;</callingDevice></MakeCall>")
    assert isinstance(result, DecodeError)


def test_size_limit_and_deep_nesting() -> None:
    big = b"<MakeCall><callingDevice>" + b"1" * MAX_SIZE + b"</callingDevice></MakeCall>"
    result = decode(big)
    assert isinstance(result, DecodeError) and "larger than" in result.reason
    deep = b"<MakeCall>" + b"<a>" * 5000 + b"</a>" * 5000 + b"</MakeCall>"
    assert isinstance(decode(deep), DecodeError)


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=3000))
def test_random_bytes_never_raise(data: bytes) -> None:
    decode(data)


@settings(max_examples=300, deadline=None)
@given(st.text(alphabet="<>/=\"' abcdeMakeClInfo&;#x!-?", max_size=300))
def test_random_xmlish_text_never_raises(text: str) -> None:
    decode(text)


UTF16_MAKECALL = (
    '<?xml version="1.0" encoding="UTF-16"?><!DOCTYPE x [<!ENTITY a "b">]>'
    "<MakeCall><callingDevice>&a;</callingDevice>"
    "<calledDirectoryNumber>1</calledDirectoryNumber></MakeCall>"
)


@pytest.mark.parametrize(
    "data",
    [
        UTF16_MAKECALL.encode("utf-16"),
        UTF16_MAKECALL.encode("utf-16-be"),
        UTF16_MAKECALL.encode("utf-32"),
        UTF16_MAKECALL.encode("utf-32-le"),
        b'<?xml version="1.0" encoding="ISO-8859-1"?><RequestSystemStatus/>',
        b'<?xml version="1.0" encoding="UTF-7"?><RequestSystemStatus/>',
    ],
    ids=["utf-16-bom", "utf-16-be", "utf-32-bom", "utf-32-le", "latin-1", "utf-7"],
)
def test_only_utf8_is_read(data: bytes) -> None:
    """UTF-16 and UTF-32 would slip past the byte-level DOCTYPE check: they are
    refused before parsing, as is any other declared encoding."""
    result = decode(data)
    assert isinstance(result, DecodeError) and "only UTF-8" in result.reason


def test_utf8_with_a_bom_or_declared_is_read() -> None:
    for data in (
        b"\xef\xbb\xbf<RequestSystemStatus/>",
        b'<?xml version="1.0" encoding="utf-8"?><RequestSystemStatus/>',
        b"<?xml version='1.0' encoding='US-ASCII'?><RequestSystemStatus/>",
    ):
        assert not isinstance(decode(data), DecodeError), data


@pytest.mark.parametrize(
    "device",
    ["<!--only a comment-->", "<?pi x?>", "<!--a--><!--b-->"],
)
def test_a_device_of_comments_is_a_clear_error(device: str) -> None:
    """Found as an IndexError: children that are comments or processing
    instructions, and no element."""
    xml = (
        "<SetDoNotDisturb><device>" + device + "</device>"
        "<doNotDisturbOn>true</doNotDisturbOn></SetDoNotDisturb>"
    ).encode()
    result = decode(xml)
    assert isinstance(result, DecodeError) and "empty device" in result.reason
    event = (
        "<DoNotDisturbEvent><monitorCrossRefID>1</monitorCrossRefID><device>" + device + "</device>"
        "<doNotDisturbOn>true</doNotDisturbOn></DoNotDisturbEvent>"
    ).encode()
    assert isinstance(decode(event), DecodeError)


@settings(max_examples=300, deadline=None)
@given(st.text(max_size=200), st.sampled_from(["utf-8", "utf-16", "utf-32", "latin-1"]))
def test_decode_never_raises_whatever_the_encoding(text: str, encoding: str) -> None:
    body = f'<?xml version="1.0" encoding="{encoding}"?><MakeCall>{text}</MakeCall>'
    result = decode(body.encode(encoding, "replace"))
    assert not (isinstance(result, DecodeError) and "internal error" in result.reason)
