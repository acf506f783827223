"""Checks a user agent server makes before it looks at what a request asks
(RFC 3261 section 8.2.2 and 8.2.3), as data: which schemes, extensions and
body types this element understands."""

from __future__ import annotations

from dataclasses import dataclass

from .message import Request, Response, build_response
from .uri import AbsoluteUri, parse_uri


@dataclass(frozen=True, slots=True)
class UasPolicy:
    schemes: frozenset[str] = frozenset({"sip", "sips", "tel"})
    supported: frozenset[str] = frozenset()
    accepted_types: frozenset[str] = frozenset({"application/csta+xml"})
    allow: tuple[str, ...] = ("INVITE", "ACK", "CANCEL", "BYE", "INFO", "OPTIONS", "REGISTER")


def precheck_request(request: Request, policy: UasPolicy, to_tag: str) -> Response | None:
    """The error response a request gets before any method handling, or None."""
    uri = parse_uri(request.uri)
    scheme = uri.scheme if isinstance(uri, AbsoluteUri) else uri.aor.split(":", 1)[0]
    if scheme.lower() not in policy.schemes:
        return build_response(request, 416, to_tag=to_tag)
    if request.method not in ("ACK", "CANCEL"):
        unsupported = [
            opt for opt in request.headers.get_list("Require") if opt not in policy.supported
        ]
        if unsupported:
            return build_response(
                request, 420, to_tag=to_tag, extra=[("Unsupported", ", ".join(unsupported))]
            )
    if request.body and request.method != "ACK":
        ctype = request.content_type
        if ctype not in policy.accepted_types:
            return build_response(
                request,
                415,
                to_tag=to_tag,
                extra=[("Accept", ", ".join(sorted(policy.accepted_types)))],
            )
    return None
