"""The stream framer: any split of a valid stream gives the same messages; random
bytes only ever give the framer's own events."""

from __future__ import annotations

from hypothesis import given, settings
from hypothesis import strategies as st

from tests.data.rfc4475 import BY_NAME
from uacsta.sip import BadMessage, FramingError, KeepAlivePing, MessageReceived, StreamFramer
from uacsta.sip.framer import FramerEvent

STREAM = b"".join(
    [
        BY_NAME["wsinv"].data,
        b"\r\n\r\n",
        BY_NAME["esc01"].data,
        BY_NAME["lwsdisp"].data,
        b"\r\n\r\n",
        BY_NAME["longreq"].data,
        BY_NAME["mpart01"].data,
        BY_NAME["noreason"].data,
        BY_NAME["lwsstart"].data,  # a bad one: answered, stream goes on
        BY_NAME["unreason"].data,
    ]
)


def summary(events: list[FramerEvent]) -> list[object]:
    out: list[object] = []
    for e in events:
        if isinstance(e, MessageReceived):
            out.append(("msg", e.message.call_id, e.message.body, e.size))
        elif isinstance(e, BadMessage):
            out.append(("bad", e.error.reason, e.raw))
        else:
            out.append(e)
    return out


WHOLE = summary(StreamFramer().feed(STREAM))


def test_whole_stream() -> None:
    kinds = [x[0] if isinstance(x, tuple) else type(x).__name__ for x in WHOLE]
    assert kinds == [
        "msg",
        "KeepAlivePing",
        "msg",
        "msg",
        "KeepAlivePing",
        "msg",
        "msg",
        "msg",
        "bad",
        "msg",
    ]


@settings(max_examples=300, deadline=None)
@given(st.lists(st.integers(min_value=0, max_value=len(STREAM)), max_size=40))
def test_any_split_gives_the_same_events(cuts: list[int]) -> None:
    framer = StreamFramer()
    events: list[FramerEvent] = []
    points = sorted(set(cuts))
    start = 0
    for point in [*points, len(STREAM)]:
        events += framer.feed(STREAM[start:point])
        start = point
    assert summary(events) == WHOLE


@settings(max_examples=500, deadline=None)
@given(st.binary(max_size=2000))
def test_random_bytes_give_only_framer_events(data: bytes) -> None:
    framer = StreamFramer(max_head=1024, max_body=1024)
    events = framer.feed(data) + framer.feed(data)
    allowed = (MessageReceived, BadMessage, KeepAlivePing, FramingError)
    assert all(isinstance(e, allowed) for e in events)


@settings(max_examples=300, deadline=None)
@given(st.binary(max_size=300), st.integers(min_value=0, max_value=2000))
def test_mutated_messages_never_raise(noise: bytes, at: int) -> None:
    base = BY_NAME["esc01"].data
    at = min(at, len(base))
    framer = StreamFramer()
    framer.feed(base[:at] + noise + base[at:])


def test_head_limit_closes_connection() -> None:
    framer = StreamFramer(max_head=100)
    events = framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\n" + b"X: " + b"y" * 200)
    assert isinstance(events[-1], FramingError)
    assert framer.feed(b"more") == []  # broken for good


def test_body_limit_closes_connection() -> None:
    framer = StreamFramer(max_body=10)
    events = framer.feed(b"OPTIONS sip:a@b SIP/2.0\r\nContent-Length: 11\r\n\r\n")
    assert isinstance(events[0], FramingError)


def test_ping_split_across_segments() -> None:
    framer = StreamFramer()
    assert framer.feed(b"\r\n") == []
    assert framer.feed(b"\r") == []
    assert framer.feed(b"\n") == [KeepAlivePing()]
