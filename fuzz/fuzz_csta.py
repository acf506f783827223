"""Coverage-guided fuzzing of the CSTA codec with atheris.

Properties checked on every input, beyond "nothing raises":
  * decode() returns a message, a CSTAErrorCode or a DecodeError value, and
    never the DecodeError of its last-resort guard (INTERNAL: a bug);
  * whatever decodes re-encodes, in every edition, to XML that decodes again,
    and one more round is a fixed point (decode(encode(m)) == m).

    uv sync --group fuzz
    mkdir -p /tmp/fuzz-work && uv run --group fuzz python fuzz/fuzz_csta.py \
        -runs=10000000 -max_len=4096 -artifact_prefix=/tmp/fuzz-work/ /tmp/fuzz-work fuzz/corpus
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from uacsta.csta.codec import INTERNAL, DecodeError, decode, encode


def test_one_input(data: bytes) -> None:
    first = decode(data)
    if isinstance(first, DecodeError):
        if INTERNAL in first.reason:
            raise AssertionError(f"decode failed inside: {first}")
        return
    for edition in (3, 4, 5, 6):
        xml = encode(first, edition)
        second = decode(xml)
        if isinstance(second, DecodeError):
            raise AssertionError(f"our own ed{edition} output does not decode: {second}\n{xml!r}")
        third = decode(encode(second, edition))
        if third != second:
            raise AssertionError(f"not a fixed point in ed{edition}:\n{second!r}\n{third!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
