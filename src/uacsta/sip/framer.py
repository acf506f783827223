"""Stream framing of SIP over TCP and TLS (RFC 3261 18.3, RFC 5626 section 4.4.1).

Bytes go in with :meth:`StreamFramer.feed` in whatever segments the socket gives;
events come out: whole messages, messages that did not parse (the stream stays
usable because their length was known), keepalive pings, and a fatal framing
error after which the connection must be closed.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from .errors import SipParseError
from .headers import Headers
from .message import (
    Request,
    Response,
    check_core_headers,
    content_length,
    parse_content_length,
    parse_head,
)

DEFAULT_MAX_HEAD = 64 * 1024
DEFAULT_MAX_BODY = 1024 * 1024
PONG = b"\r\n"
# Bytes beyond printable ASCII, tab, CR and LF: a head with one is read the long way.
_UNUSUAL = re.compile(rb"[^\t\r\n\x20-\x7e]")
# A Content-Length field line (long or compact name), its value trimmed.
_CONTENT_LENGTH_RE = re.compile(
    rb"\r\n(?:content-length|l)[ \t]*:[ \t]*([^\r\n]*?)[ \t]*(?=\r\n|$)", re.I
)


@dataclass(slots=True, frozen=True)
class MessageReceived:
    message: Request | Response
    size: int


@dataclass(slots=True, frozen=True)
class BadMessage:
    """A complete message that failed to parse; ``request_head`` is set when its
    start line was a request, so that the caller can try to answer 400."""

    error: SipParseError
    raw: bytes


@dataclass(slots=True, frozen=True)
class KeepAlivePing:
    """CRLFCRLF from the peer: answer with :data:`PONG`."""


@dataclass(slots=True, frozen=True)
class FramingError:
    """The byte stream cannot be framed any more; close the connection."""

    reason: str


FramerEvent = MessageReceived | BadMessage | KeepAlivePing | FramingError


class StreamFramer:
    __slots__ = ("_broken", "_buf", "_head_end", "_length", "max_body", "max_head")

    def __init__(self, max_head: int = DEFAULT_MAX_HEAD, max_body: int = DEFAULT_MAX_BODY):
        self.max_head = max_head
        self.max_body = max_body
        self._buf = bytearray()
        self._broken = False
        self._head_end = -1  # index of the CRLFCRLF ending the current head
        self._length = -1  # body length of the current message once known

    @property
    def buffered(self) -> int:
        return len(self._buf)

    def feed(self, data: bytes) -> list[FramerEvent]:
        if self._broken:
            return []
        self._buf += data
        events: list[FramerEvent] = []
        while True:
            event = self._next()
            if event is None:
                break
            events.append(event)
            if isinstance(event, FramingError):
                self._broken = True
                self._buf.clear()
                break
        return events

    def _next(self) -> FramerEvent | None:
        buf = self._buf
        if self._head_end < 0:
            # Between messages: CRLFCRLF is a keepalive ping, a lone CRLF is
            # ignored (RFC 3261 7.5: empty lines before a start line).
            while buf[:2] == b"\r\n":
                if buf[:4] == b"\r\n\r\n":
                    del buf[:4]
                    return KeepAlivePing()
                if len(buf) < 4 and b"\r\n\r\n".startswith(bytes(buf)):
                    return None  # could still become a ping
                del buf[:2]
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                if len(buf) > self.max_head:
                    return FramingError("message head too large")
                return None
            if end > self.max_head:
                return FramingError("message head too large")
            self._head_end = end
            self._length = -1
        head = bytes(buf[: self._head_end])
        if self._length < 0:
            try:
                length = scan_content_length(head)
            except SipParseError as exc:
                # Without a trustworthy Content-Length the stream cannot be
                # resynchronised: the only safe move is to drop the connection.
                return FramingError(exc.reason)
            if length > self.max_body:
                return FramingError("message body too large")
            self._length = length
        total = self._head_end + 4 + self._length
        if len(buf) < total:
            return None
        raw = bytes(buf[:total])
        del buf[:total]
        self._head_end = -1
        try:
            msg, headers = parse_head(head)
            msg.headers = headers
            msg.body = raw[len(head) + 4 :]
            check_core_headers(msg)
        except SipParseError as exc:
            return BadMessage(exc, raw)
        return MessageReceived(msg, total)


def scan_content_length(head: bytes) -> int:
    """Content-Length from a head that may be malformed elsewhere.

    Only the Content-Length lines are read (unfolded), so that a message with a
    bad start line or a bad header still has a known end and can be answered
    with 400 while the connection carries on.  Missing means 0.
    """
    if (
        b"\r\n " not in head
        and b"\r\n\t" not in head  # no folded line
        and _UNUSUAL.search(head) is None  # str.strip() below strips only what the search does
    ):
        values = _CONTENT_LENGTH_RE.findall(head)
        return content_length(v.decode("ascii") for v in values) or 0
    return scan_content_length_general(head)


def scan_content_length_general(head: bytes) -> int:
    """:func:`scan_content_length` for every head (folded lines, any byte)."""
    headers = Headers()
    name = ""
    value = ""
    for line in head.decode("latin-1").split("\r\n")[1:]:
        if line[:1] in (" ", "\t"):
            value += " " + line.strip()
            continue
        if name:
            headers.add(name, value)
        name, _, value = line.partition(":")
        name, value = name.strip(), value.strip()
        if name.lower() not in ("content-length", "l"):
            name = ""
    if name:
        headers.add(name, value)
    return parse_content_length(headers) or 0
