"""Header values built on URIs: name-addr / addr-spec (From, To, Contact, Route) and Via."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from .errors import SipParseError
from .grammar import (
    format_params,
    is_token,
    parse_params,
    quote,
    read_quoted,
    split_host_port,
    split_top_level,
)
from .uri import SipUri, Uri, parse_uri

_LWS = " \t"


@dataclass(slots=True)
class NameAddr:
    """``[display-name] <URI> *(;param)`` or ``addr-spec *(;param)``."""

    uri: Uri
    display: str | None = None
    params: dict[str, str | None] = field(default_factory=dict)

    @property
    def tag(self) -> str | None:
        return self.params.get("tag")

    def __str__(self) -> str:
        display = f"{quote(self.display)} " if self.display else ""
        return f"{display}<{self.uri}>{format_params(self.params)}"


def parse_name_addr(text: str, what: str) -> NameAddr:
    # The same From, To and Contact come in every request of a dialog: parse
    # each spelling once; callers get their own params dict.
    cached = _parse_name_addr(text, what)
    return NameAddr(cached.uri, cached.display, dict(cached.params))


@functools.lru_cache(maxsize=8192)
def _parse_name_addr(text: str, what: str) -> NameAddr:
    value = text.strip(_LWS)
    if not value:
        raise SipParseError(f"empty {what}")
    lt = _find_laquot(value)
    if lt < 0:
        # addr-spec: the URI ends at the first ';' (what follows are header
        # parameters), and may carry neither ',' nor '?' (RFC 3261 20.10).
        uri_text, semi, rest = value.partition(";")
        uri_text = uri_text.rstrip(_LWS)
        if any(c in uri_text for c in ",?"):
            raise SipParseError(f"{what}: URI with ',' or '?' must be enclosed in <>")
        return NameAddr(parse_uri(uri_text), None, parse_params(semi + rest, what))
    display_text = value[:lt].strip(_LWS)
    display: str | None = None
    if display_text.startswith('"'):
        display, end = read_quoted(display_text, 0)
        if display_text[end:].strip(_LWS):
            raise SipParseError(f"{what}: junk after display name")
    elif display_text:
        words = display_text.split()
        if not all(is_token(w) for w in words):
            raise SipParseError(f"{what}: display name must be tokens or a quoted string")
        display = " ".join(words)
    gt = value.find(">", lt)
    if gt < 0:
        raise SipParseError(f"{what}: missing '>'")
    uri_text = value[lt + 1 : gt]
    if uri_text != uri_text.strip(_LWS):
        raise SipParseError(f"{what}: whitespace inside <>")
    return NameAddr(parse_uri(uri_text), display, parse_params(value[gt + 1 :], what))


def _find_laquot(value: str) -> int:
    """Index of the '<' that starts the URI, skipping a quoted display name."""
    i = 0
    if value.startswith('"'):
        _, i = read_quoted(value, 0)
    return value.find("<", i)


def parse_name_addr_list(text: str, what: str) -> list[NameAddr]:
    return [parse_name_addr(part, what) for part in split_top_level(text, ",")]


@dataclass(slots=True)
class Via:
    transport: str
    host: str
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    protocol: str = "SIP/2.0"

    @property
    def branch(self) -> str | None:
        return self.params.get("branch")

    @property
    def sent_by(self) -> str:
        return self.host if self.port is None else f"{self.host}:{self.port}"

    def __str__(self) -> str:
        return f"{self.protocol}/{self.transport} {self.sent_by}{format_params(self.params)}"


# The spelling phones send: ``SIP/2.0/TCP host[:port];params`` without LWS inside
# and with plain parameters.  It yields what the general parser below would; any
# other spelling goes there.
_PLAIN_VIA_RE = re.compile(
    r"SIP/2\.0/([A-Za-z]+) ([A-Za-z0-9\-.]+|\[[0-9A-Fa-f:.]+\])(?::([0-9]{1,5}))?"
    r"((?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[A-Za-z0-9\-.!%*_+`'~\[\]:]+)?)*)"
)


def parse_via(text: str) -> Via:
    m = _PLAIN_VIA_RE.fullmatch(text)
    if m is not None and (m[3] is None or int(m[3]) <= 65535):
        transport, host, port, params = m.groups()
        return Via(
            transport=transport.upper(),
            host=host,
            port=None if port is None else int(port),
            params=parse_params(params, "Via") if params else {},
        )
    return parse_via_general(text)


def parse_via_general(text: str) -> Via:
    """:func:`parse_via` for every spelling (LWS, other versions, errors)."""
    value = text.strip(_LWS)
    parts = value.split("/", 2)
    if len(parts) != 3:
        raise SipParseError("Via: bad sent-protocol")
    name, version = parts[0].strip(_LWS), parts[1].strip(_LWS)
    rest = parts[2].lstrip(_LWS)
    transport_end = 0
    while transport_end < len(rest) and rest[transport_end] not in " \t;":
        transport_end += 1
    transport = rest[:transport_end]
    if not (is_token(name) and is_token(version) and is_token(transport)):
        raise SipParseError("Via: bad sent-protocol")
    rest = rest[transport_end:].lstrip(_LWS)
    hostport, semi, params = rest.partition(";")
    hostport = hostport.strip(_LWS)
    if not hostport:
        raise SipParseError("Via: missing sent-by")
    # LWS is allowed around the ':' of sent-by.
    hostport = "".join(hostport.split())
    host, port = split_host_port(hostport)
    return Via(
        transport=transport.upper(),
        host=host,
        port=port,
        params=parse_params(semi + params, "Via"),
        protocol=f"{name.upper()}/{version}",
    )


def parse_via_list(text: str) -> list[Via]:
    return [parse_via(part) for part in split_top_level(text, ",")]


__all__ = [
    "NameAddr",
    "SipUri",
    "Via",
    "parse_name_addr",
    "parse_name_addr_list",
    "parse_via",
    "parse_via_list",
]
