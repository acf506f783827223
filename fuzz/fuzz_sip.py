"""Coverage-guided fuzzing of the SIP parser and stream framer with atheris.

Properties checked on every input, beyond "nothing raises":
  * the framer, fed the input in one piece and again split at a byte the
    input chooses, yields the same events (TCP may cut anywhere);
  * every message it yields passed the core-header checks, serializes, and
    parses again to the same start line and headers.

    mkdir -p /tmp/fuzz-sip && uv run --group fuzz python fuzz/fuzz_sip.py \
        -runs=10000000 -max_len=4096 -artifact_prefix=/tmp/fuzz-sip/ /tmp/fuzz-sip fuzz/corpus-sip
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from uacsta.sip.framer import BadMessage, MessageReceived, StreamFramer
    from uacsta.sip.message import Request, check_core_headers, parse_message


def _events(chunks: list[bytes]) -> list[object]:
    framer = StreamFramer()
    out: list[object] = []
    for chunk in chunks:
        out += framer.feed(chunk)
    return out


def _shape(event: object) -> object:
    if isinstance(event, MessageReceived):
        return ("msg", event.message.to_bytes())
    if isinstance(event, BadMessage):
        return ("bad", event.error.status, event.raw)
    return (type(event).__name__,)


def _fields(msg: object) -> list[tuple[str, str]]:
    # The serializer writes Content-Length itself, last: the rest keeps its order.
    return [(n, v) for n, v in msg.headers if n != "Content-Length"]  # type: ignore[attr-defined]


def test_one_input(data: bytes) -> None:
    if not data:
        return
    cut = data[0] % len(data)
    body = data[1:]
    whole = _events([body])
    split = _events([body[:cut], body[cut:]])
    if [_shape(e) for e in whole] != [_shape(e) for e in split]:
        raise AssertionError(f"framing depends on where TCP cut the stream (at {cut})")
    for event in whole:
        if not isinstance(event, MessageReceived):
            continue
        msg = event.message
        check_core_headers(msg)  # the framer only hands up checked messages
        again = parse_message(msg.to_bytes())
        if type(again) is not type(msg) or _fields(again) != _fields(msg) or again.body != msg.body:
            raise AssertionError("a parsed message does not survive serialization")
        if isinstance(msg, Request) and isinstance(again, Request) and again.uri != msg.uri:
            raise AssertionError("Request-URI changed in a round trip")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
