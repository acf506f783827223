"""SIP requests and responses: parse from bytes, check the core headers, serialize.

Sans-IO: bytes in, typed messages out; nothing here reads a socket or the clock.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field

from .address import NameAddr, Via, parse_name_addr, parse_name_addr_list, parse_via_list
from .errors import SipParseError
from .grammar import is_digits, is_token, split_top_level
from .headers import SINGLE_HEADERS, Headers, canonical_name, header_key
from .uri import SipUri, parse_uri

SIP_VERSION = "SIP/2.0"
_VERSION_RE = re.compile(r"^SIP/\d+\.\d+$", re.I | re.ASCII)
_STATUS_RE = re.compile(r"^(SIP/\d+\.\d+) ([1-6]\d\d) (.*)$", re.S | re.ASCII)
# A header field line once unfolded: a token name, the colon with optional white
# space around it, the value (trailing white space is cut after the match: a lazy
# group before it would make the expression backtrack on every character).
_FIELD_RE = re.compile(r"([A-Za-z0-9\-.!%*_+`'~]+)[ \t]*:[ \t]*(.*)", re.S)
_MAX_CSEQ = 2**31
REASON_PHRASES = {
    100: "Trying",
    180: "Ringing",
    200: "OK",
    202: "Accepted",
    400: "Bad Request",
    401: "Unauthorized",
    403: "Forbidden",
    404: "Not Found",
    405: "Method Not Allowed",
    407: "Proxy Authentication Required",
    408: "Request Timeout",
    415: "Unsupported Media Type",
    416: "Unsupported URI Scheme",
    420: "Bad Extension",
    423: "Interval Too Brief",
    481: "Call/Transaction Does Not Exist",
    483: "Too Many Hops",
    486: "Busy Here",
    487: "Request Terminated",
    488: "Not Acceptable Here",
    500: "Server Internal Error",
    501: "Not Implemented",
    503: "Service Unavailable",
    505: "Version Not Supported",
    513: "Message Too Large",
}


@dataclass(slots=True, frozen=True)
class CSeq:
    number: int
    method: str

    def __str__(self) -> str:
        return f"{self.number} {self.method}"


def parse_cseq(value: str) -> CSeq:
    parts = value.split()
    if len(parts) != 2 or not is_digits(parts[0]) or not is_token(parts[1]):
        raise SipParseError("bad CSeq")
    number = int(parts[0])
    if number >= _MAX_CSEQ:
        raise SipParseError("CSeq number out of range")
    return CSeq(number, parts[1])


@dataclass(slots=True)
class _Message:
    headers: Headers = field(default_factory=Headers)
    body: bytes = b""

    # Typed views of the core headers.  Each parses on access; received messages
    # have already passed check_core_headers, so they cannot fail there.
    @property
    def call_id(self) -> str:
        return self.headers.get("Call-ID") or ""

    @property
    def cseq(self) -> CSeq:
        h = self.headers
        return h.cached("cseq", lambda: parse_cseq(h.get("CSeq") or ""))

    @property
    def vias(self) -> list[Via]:
        h = self.headers

        def parse() -> list[Via]:
            out: list[Via] = []
            for value in h.get_all("Via"):
                out.extend(parse_via_list(value))
            return out

        return h.cached("via", parse)

    @property
    def from_(self) -> NameAddr:
        h = self.headers
        return h.cached("from", lambda: parse_name_addr(h.get("From") or "", "From"))

    @property
    def to(self) -> NameAddr:
        h = self.headers
        return h.cached("to", lambda: parse_name_addr(h.get("To") or "", "To"))

    @property
    def contacts(self) -> list[NameAddr]:
        h = self.headers

        def parse() -> list[NameAddr]:
            out: list[NameAddr] = []
            for value in h.get_all("Contact"):
                if value.strip() == "*":
                    continue
                out.extend(parse_name_addr_list(value, "Contact"))
            return out

        return h.cached("contact", parse)

    @property
    def content_type(self) -> str | None:
        value = self.headers.get("Content-Type")
        return value.split(";")[0].strip().lower() if value else None

    def _head_lines(self) -> list[str]:
        lines = [f"{name}: {value}" for name, value in self.headers if name != "Content-Length"]
        lines.append(f"Content-Length: {len(self.body)}")
        return lines


@dataclass(slots=True)
class Request(_Message):
    method: str = "OPTIONS"
    uri: str = ""
    version: str = SIP_VERSION

    def summary(self) -> str:
        """The request in a few words, for a ladder diagram: ``INFO``."""
        return self.method

    def to_bytes(self) -> bytes:
        head = [f"{self.method} {self.uri} {self.version}", *self._head_lines()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body


@dataclass(slots=True)
class Response(_Message):
    status: int = 200
    reason: str = "OK"
    version: str = SIP_VERSION

    def summary(self) -> str:
        """``200 OK (INFO)``: the status and what it answers."""
        method = self.headers.get("CSeq", "").rpartition(" ")[2]
        return f"{self.status} {self.reason}" + (f" ({method})" if method else "")

    def to_bytes(self) -> bytes:
        head = [f"{self.version} {self.status} {self.reason}", *self._head_lines()]
        return ("\r\n".join(head) + "\r\n\r\n").encode("utf-8", "surrogateescape") + self.body


Message = Request | Response


def _unfold(head: str) -> list[str]:
    """Header lines with continuation lines joined (LWS folding, RFC 3261 7.3.1)."""
    lines: list[str] = []
    for line in head.split("\r\n"):
        if line[:1] in (" ", "\t") and lines:
            lines[-1] = lines[-1].rstrip(" \t") + " " + line.lstrip(" \t")
        else:
            lines.append(line)
    return lines


def parse_head(head: bytes) -> tuple[Request | Response, Headers]:
    """Parse the start line and header fields (everything before the empty line)."""
    text = head.decode("utf-8", "surrogateescape")
    if text.count("\n") != text.count("\r\n"):
        raise SipParseError("bare LF in message head")
    # Folded lines are rare: split plainly unless there is one.
    lines = _unfold(text) if "\r\n " in text or "\r\n\t" in text else text.split("\r\n")
    items: list[tuple[str, str, str]] = []
    match = _FIELD_RE.fullmatch
    for line in lines[1:]:
        if not line:
            continue
        m = match(line)
        if m is None:
            raise SipParseError(f"malformed header line {line[:40]!r}")
        name, value = m[1], m[2]
        if value[-1:] in (" ", "\t"):
            value = value.rstrip(" \t")
        items.append((canonical_name(name), value, header_key(name)))
    return _parse_start_line(lines[0]), Headers.parsed(items)


def _parse_start_line(line: str) -> Request | Response:
    if line.startswith("SIP/"):
        m = _STATUS_RE.match(line)
        if not m:
            raise SipParseError("malformed status line")
        version, code, reason = m.groups()
        if version.upper() != SIP_VERSION:
            raise SipParseError("unsupported SIP version", 505)
        return Response(status=int(code), reason=reason)
    parts = line.split(" ")
    if len(parts) != 3 or not all(parts):
        raise SipParseError("malformed request line")
    method, uri, version = parts
    if not is_token(method):
        raise SipParseError("bad method")
    if "<" in uri or ">" in uri or ":" not in uri:
        raise SipParseError("bad Request-URI")
    if not _VERSION_RE.match(version):
        raise SipParseError("malformed request line")
    if version.upper() != SIP_VERSION:
        raise SipParseError("unsupported SIP version", 505)
    return Request(method=method, uri=uri)


_REQUIRED = {"via": "Via", "from": "From", "to": "To", "call-id": "Call-ID", "cseq": "CSeq"}


def check_core_headers(msg: Request | Response) -> None:
    """The checks every received message must pass (RFC 3261 8.1.1, 8.2, 18.3)."""
    h = msg.headers
    keys = h.keys()
    present = set(keys)
    for key, name in _REQUIRED.items():
        if key not in present:
            raise SipParseError(f"missing {name} header")
    if len(present) != len(keys):  # some name repeats: may it?
        seen: set[str] = set()
        for key in keys:
            if key in SINGLE_HEADERS:
                if key in seen:
                    raise SipParseError(f"more than one {canonical_name(key)} header")
                seen.add(key)
    if not msg.vias:
        raise SipParseError("empty Via header")
    msg.from_  # noqa: B018 - parsing is the check
    msg.to  # noqa: B018
    if isinstance(msg, Request) and "contact" in present:
        contact = h.get_all("Contact")
        if not (len(contact) == 1 and contact[0].strip() == "*"):
            msg.contacts  # noqa: B018
    call_id = msg.call_id
    if not call_id or any(c in call_id for c in " \t"):
        raise SipParseError("bad Call-ID")
    cseq = msg.cseq
    if isinstance(msg, Request):
        uri = parse_uri(msg.uri)
        if isinstance(uri, SipUri) and uri.headers is not None:
            raise SipParseError("Request-URI must not carry headers")
        if cseq.method != msg.method:
            raise SipParseError("CSeq method does not match the request method")
        mf = h.get("Max-Forwards")
        if mf is not None and not (is_digits(mf) and len(mf) <= 10 and int(mf) <= 255):
            raise SipParseError("bad Max-Forwards")
        expires = h.get("Expires")
        if expires is not None and not (
            is_digits(expires) and len(expires) <= 10 and int(expires) < 2**32
        ):
            raise SipParseError("bad Expires")


def parse_content_length(headers: Headers) -> int | None:
    return content_length(headers.get_all("Content-Length"))


def content_length(fields: Iterable[str]) -> int | None:
    """The length the Content-Length field values (as received) give; None
    when there is none."""
    values = {part.strip() for value in fields for part in split_top_level(value, ",")}
    if not values:
        return None
    if len(values) > 1:
        raise SipParseError("conflicting Content-Length values")
    (value,) = values
    if not is_digits(value) or len(value) > 10:
        raise SipParseError("bad Content-Length")
    return int(value)


def parse_message(data: bytes) -> Request | Response:
    """Parse one whole message (as from a stream framer) and check its core headers."""
    end = data.find(b"\r\n\r\n")
    if end < 0:
        raise SipParseError("message head not terminated")
    msg, headers = parse_head(data[:end])
    msg.headers = headers
    body = data[end + 4 :]
    length = parse_content_length(headers)
    if length is not None:
        if length > len(body):
            raise SipParseError("body shorter than Content-Length")
        body = body[:length]
    msg.body = body
    check_core_headers(msg)
    return msg


def build_response(
    request: Request,
    status: int,
    reason: str | None = None,
    *,
    to_tag: str | None = None,
    extra: list[tuple[str, str]] | None = None,
    body: bytes = b"",
) -> Response:
    """A response to ``request`` with Via, From, To, Call-ID and CSeq copied (RFC 3261 8.2.6)."""
    headers = Headers()
    for value in request.headers.get_all("Via"):
        headers.add("Via", value)
    for name in ("From", "To", "Call-ID", "CSeq"):
        copied = request.headers.get(name)
        if copied is not None:
            if name == "To" and to_tag and status > 100 and request.to.tag is None:
                copied = f"{copied};tag={to_tag}"
            headers.add(name, copied)
    for name, value in extra or ():
        headers.add(name, value)
    return Response(
        headers=headers,
        body=body,
        status=status,
        reason=reason or REASON_PHRASES.get(status, "Unknown"),
    )


def build_error_response_raw(raw: bytes, status: int, reason: str) -> bytes | None:
    """An error response to a request that did not parse, from its raw bytes.

    RFC 4475 asks for 400 where an answer is possible: that is when the start
    line is not a response and Via, From, To, Call-ID and CSeq can be copied
    as they are.  None when no answer is possible.
    """
    head = raw.split(b"\r\n\r\n", 1)[0].decode("utf-8", "surrogateescape")
    if head.startswith("SIP/"):
        return None
    lines = _unfold(head)[1:]
    wanted = {
        "via": "Via",
        "v": "Via",
        "from": "From",
        "f": "From",
        "to": "To",
        "t": "To",
        "call-id": "Call-ID",
        "i": "Call-ID",
        "cseq": "CSeq",
    }
    copied: list[str] = []
    found: set[str] = set()
    for line in lines:
        name, colon, value = line.partition(":")
        canon = wanted.get(name.strip().lower())
        if colon and canon:
            copied.append(f"{canon}: {value.strip()}")
            found.add(canon)
    if found != {"Via", "From", "To", "Call-ID", "CSeq"}:
        return None
    reason = reason.replace("\r", " ").replace("\n", " ")
    text = "\r\n".join([f"SIP/2.0 {status} {reason}", *copied, "Content-Length: 0"])
    return (text + "\r\n\r\n").encode("utf-8", "surrogateescape")
