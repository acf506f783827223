"""Coverage-guided fuzzing of the JSON face's decoder: bytes a WebSocket or
REST client sends, to a CSTA message or a clear error.

Properties: the bounded JSON reader refuses or returns a value (no
RecursionError on deep nesting); from_json raises JsonFormError or returns a
message whose CSTA XML decodes again to the same message.

    mkdir -p /tmp/fuzz-json && uv run --group fuzz python fuzz/fuzz_json.py \
        -runs=10000000 -max_len=2048 -artifact_prefix=/tmp/fuzz-json/ /tmp/fuzz-json \
        fuzz/corpus-json
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from uacsta.csta.codec import decode, encode
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
    again = decode(encode(msg, 5))
    if again != msg:
        raise AssertionError(f"JSON message does not survive CSTA XML:\n{msg!r}\n{again!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
