"""CSTA codec throughput against the limit: bare lxml parse + serialize.

Decodes and encodes a typical DeliveredEvent (Yealink-style, ed5) and prints
messages per second next to ``lxml.etree.fromstring`` + ``tostring`` of the same
bytes, and the ratio.  Target: within 3x of that limit.  Also prints how long
the hostile documents of the security tests take to be refused.

    uv run python bench/csta_codec.py [--seconds 2]
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

from lxml import etree

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "src"))

from uacsta.csta.codec import decode, encode
from uacsta.csta.model import DeliveredEvent

ED5 = "http://www.ecma-international.org/standards/ecma-323/csta/ed5"
EVENT = (
    f'<?xml version="1.0" encoding="utf-8"?>\n<DeliveredEvent xmlns="{ED5}">\n'
    "  <monitorCrossRefID>0</monitorCrossRefID>\n"
    "  <connection><callID>12</callID><deviceID>sip:201@pbx.example.com</deviceID></connection>\n"
    "  <alertingDevice><deviceIdentifier>sip:201@pbx.example.com</deviceIdentifier>"
    "</alertingDevice>\n"
    "  <callingDevice><deviceIdentifier>sip:301@pbx.example.com</deviceIdentifier>"
    "</callingDevice>\n"
    "  <calledDevice><deviceIdentifier>sip:201@pbx.example.com</deviceIdentifier>"
    "</calledDevice>\n"
    "  <lastRedirectionDevice><notKnown/></lastRedirectionDevice>\n"
    "  <localConnectionInfo>alerting</localConnectionInfo>\n"
    "  <cause>normal</cause>\n"
    "</DeliveredEvent>\n"
).encode()


def rate(fn: Callable[[], object], seconds: float) -> float:
    n = 0
    start = time.perf_counter()
    deadline = start + seconds
    while True:
        for _ in range(200):
            fn()
        n += 200
        now = time.perf_counter()
        if now >= deadline:
            return n / (now - start)


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--seconds", type=float, default=2.0)
    args = parser.parse_args()
    msg = decode(EVENT)
    assert isinstance(msg, DeliveredEvent)
    parser_ = etree.XMLParser(resolve_entities=False, no_network=True)
    limit_decode = rate(lambda: etree.fromstring(EVENT, parser_), args.seconds)
    tree = etree.fromstring(EVENT, parser_)
    limit_encode = rate(lambda: etree.tostring(tree), args.seconds)
    limit_both = rate(lambda: etree.tostring(etree.fromstring(EVENT, parser_)), args.seconds)
    ours_decode = rate(lambda: decode(EVENT), args.seconds)
    ours_encode = rate(lambda: encode(msg), args.seconds)
    ours_both = rate(lambda: encode(decode(EVENT)), args.seconds)  # type: ignore[arg-type]
    print(f"DeliveredEvent, {len(EVENT)} bytes")
    print(f"{'':24}{'uacsta':>12}{'bare lxml':>12}{'ratio':>8}")
    for name, ours, limit in [
        ("decode  (msg/s)", ours_decode, limit_decode),
        ("encode  (msg/s)", ours_encode, limit_encode),
        ("round trip (msg/s)", ours_both, limit_both),
    ]:
        print(f"{name:24}{ours:12.0f}{limit:12.0f}{limit / ours:8.2f}x")
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from tests.unit.csta.test_security import BILLION_LAUGHS, quadratic

    for name, doc in [("billion laughs", BILLION_LAUGHS), ("quadratic blow-up", quadratic())]:
        start = time.perf_counter()
        result = decode(doc)
        elapsed = time.perf_counter() - start
        print(
            f"{name}: refused in {elapsed * 1e6:.0f} us ({len(doc)} bytes, "
            f"{elapsed * 1e9 / len(doc):.2f} ns/byte): {result}"
        )


if __name__ == "__main__":
    main()
