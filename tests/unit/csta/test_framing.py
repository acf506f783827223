from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uacsta.csta.framing import (
    EVENT_INVOKE_ID,
    Frame,
    FrameReader,
    FramingError,
    InvokeIds,
    encode_frame,
)

XML = b'<?xml version="1.0" encoding="UTF-8"?><ServiceInitiatedEvent/>'


def test_header_layout() -> None:
    frame = encode_frame(XML, EVENT_INVOKE_ID)
    assert frame[:2] == b"\x00\x00"
    assert int.from_bytes(frame[2:4], "big") == len(XML) + 8
    assert frame[4:8] == b"9999"
    assert frame[8:] == XML


def test_openscape_voice_frame() -> None:
    # OSV test data starts b'\x00\x00\x03\xeb9999<?xml ...': 1003 bytes in all.
    payload = b"<?xml " + b"x" * (1003 - 8 - 6)
    frame = b"\x00\x00\x03\xeb9999" + payload
    assert FrameReader().feed(frame) == [Frame(9999, payload)]


STREAM = b"".join(encode_frame(XML + bytes([65 + i]) * i, i) for i in range(1, 12))


@given(st.lists(st.integers(0, len(STREAM)), max_size=30))
def test_any_split(cuts: list[int]) -> None:
    reader = FrameReader()
    frames = []
    start = 0
    for cut in [*sorted(set(cuts)), len(STREAM)]:
        frames += reader.feed(STREAM[start:cut])
        start = cut
    assert [f.invoke_id for f in frames] == list(range(1, 12))
    assert frames[3].payload == XML + b"EEEE"  # invoke 4: four times chr(65 + 4)


@pytest.mark.parametrize(
    "bad",
    [b"\x00\x07\x00\x10" + b"0001", b"\x00\x00\x00\x04" + b"0001", b"\x00\x00\x00\x10" + b"00x1"],
)
def test_bad_headers(bad: bytes) -> None:
    reader = FrameReader()
    with pytest.raises(FramingError):
        reader.feed(bad + b"x" * 20)
    with pytest.raises(FramingError):
        reader.feed(b"more")


def test_encode_limits() -> None:
    with pytest.raises(FramingError):
        encode_frame(XML, 10000)
    with pytest.raises(FramingError):
        encode_frame(b"x" * 70000, 1)


def test_invoke_ids_wrap_and_skip_those_in_use() -> None:
    ids = InvokeIds()
    first = [ids.allocate() for _ in range(9998)]
    assert first == list(range(1, 9999))
    with pytest.raises(FramingError):
        ids.allocate()
    ids.release(5)
    ids.release(7)
    assert ids.allocate() == 5
    assert ids.allocate() == 7
