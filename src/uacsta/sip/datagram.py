"""SIP over UDP where uacsta uses it at all: out-of-dialog requests for
discovery (OPTIONS) and plug-and-play (a phone's SUBSCRIBE), never for
registration or the uaCSTA dialog (those are TCP or TLS)."""

from __future__ import annotations

import secrets

from .headers import Headers
from .message import Request
from .transaction import new_branch

SIP_MCAST = "224.0.1.75"  # sip.mcast.net (RFC 3261 10.1, and phones' PnP)
SIP_PORT = 5060


def udp_request(
    method: str,
    uri: str,
    sent_by: str,
    from_uri: str,
    to_uri: str,
    extra: list[tuple[str, str]],
) -> bytes:
    """An out-of-dialog request over UDP (discovery's OPTIONS, a phone's PnP SUBSCRIBE)."""
    host = sent_by.rsplit(":", 1)[0]
    h = Headers()
    h.add("Via", f"SIP/2.0/UDP {sent_by};branch={new_branch()};rport")
    h.add("Max-Forwards", "70")
    h.add("From", f"<{from_uri}>;tag={secrets.token_hex(6)}")
    h.add("To", f"<{to_uri}>")
    h.add("Call-ID", f"{secrets.token_hex(10)}@{host}")
    h.add("CSeq", f"1 {method}")
    for name, value in extra:
        h.set(name, value)
    return Request(headers=h, method=method, uri=uri).to_bytes()
