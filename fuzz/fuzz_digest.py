"""Coverage-guided fuzzing of the digest header parser and verifier.

Any Authorization value: parse_credentials raises SipParseError or returns
credentials; verify() then returns a Verdict for them, never raises, and never
says OK to a response it did not compute.

    mkdir -p /tmp/fuzz-digest && uv run --group fuzz python fuzz/fuzz_digest.py \
        -runs=10000000 -max_len=1024 -artifact_prefix=/tmp/fuzz-digest/ /tmp/fuzz-digest \
        fuzz/corpus-digest
"""

from __future__ import annotations

import sys

import atheris

with atheris.instrument_imports():
    from uacsta.sip.digest import DigestServer, Verdict, compute_ha1, parse_credentials
    from uacsta.sip.errors import SipParseError

SERVER = DigestServer("uacsta", b"k" * 32, algorithms=("SHA-256", "MD5"))


def test_one_input(data: bytes) -> None:
    value = data.decode("utf-8", "surrogateescape")
    try:
        creds = parse_credentials(value)
    except SipParseError:
        return
    ha1 = compute_ha1(creds.username, SERVER.realm, "pw", creds.algorithm.removesuffix("-sess"))
    verdict = SERVER.verify(creds, "REGISTER", ha1, 1000.0)
    if verdict is Verdict.OK:
        raise AssertionError(f"a made-up response was accepted: {value!r}")


def main() -> None:
    atheris.Setup(sys.argv, test_one_input)
    atheris.Fuzz()


if __name__ == "__main__":
    main()
