"""Coverage-guided fuzzing of the JSON face's decoder: bytes a WebSocket or
REST client sends, to a CSTA message or a clear error.

Properties: the bounded JSON reader refuses or returns a value (no
RecursionError on deep nesting); from_json raises JsonFormError or returns a
message whose CSTA XML the server (and so a phone) can read, a fixed point
after one round.

    mkdir -p /tmp/fuzz-json && uv run --group fuzz python fuzz/fuzz_json.py \
        -runs=10000000 -max_len=2048 -artifact_prefix=/tmp/fuzz-json/ /tmp/fuzz-json \
        fuzz/corpus-json
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from uacsta.csta.codec import DecodeError, decode, encode
    from uacsta.csta.jsonform import JsonFormError, from_json, load_bounded


def test_one_input(data: bytes) -> None:
    try:
        doc = load_bounded(data)
    except JsonFormError:
        return
    try:
        msg = from_json(doc)
    except JsonFormError:
        return
    # What the server writes from a client's JSON is well-formed CSTA XML a
    # phone can read, and reading and writing it again is a fixed point (raw
    # elements gain the namespace once, as they do from any peer).
    second = decode(encode(msg, 5))
    if isinstance(second, DecodeError):
        raise AssertionError(f"the server wrote XML it cannot read: {second}\n{msg!r}")
    third = decode(encode(second, 5))
    if third != second:
        raise AssertionError(f"not a fixed point:\n{second!r}\n{third!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
