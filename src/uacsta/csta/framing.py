"""ECMA-323 Annex J: CSTA XML over a TCP byte stream.

Each frame is an 8-byte header then the XML: 2 bytes format (0x0000 XML,
0x0001 SOAP), 2 bytes big-endian length of the whole frame (header included),
4 ASCII digits invokeID (``9999`` for events).  Sans-IO like the SIP framer;
:class:`CstaStreamFramer` speaks the connection's framer interface (events
out, a fatal :class:`~uacsta.sip.framer.FramingError` to close on).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

HEADER = 8
EVENT_INVOKE_ID = 9999
FORMAT_XML = 0
FORMAT_SOAP = 1
MAX_FRAME = 0xFFFF


class FramingError(ValueError):
    pass


@dataclass(frozen=True, slots=True)
class Frame:
    invoke_id: int
    payload: bytes
    format: int = FORMAT_XML


def encode_frame(payload: bytes, invoke_id: int, fmt: int = FORMAT_XML) -> bytes:
    if not 0 <= invoke_id <= 9999:
        raise FramingError(f"invokeID {invoke_id} is not 0-9999")
    total = HEADER + len(payload)
    if total > MAX_FRAME:
        raise FramingError(f"frame of {total} bytes exceeds {MAX_FRAME}")
    return struct.pack(">HH", fmt, total) + f"{invoke_id:04d}".encode() + payload


class FrameReader:
    """Feed bytes in any split; get whole frames.  After a FramingError the
    stream cannot be trusted any more: close the connection."""

    __slots__ = ("_broken", "_buf")

    def __init__(self) -> None:
        self._buf = bytearray()
        self._broken = False

    def feed(self, data: bytes) -> list[Frame]:
        if self._broken:
            raise FramingError("stream already broken")
        self._buf += data
        frames: list[Frame] = []
        while len(self._buf) >= HEADER:
            fmt, total = struct.unpack_from(">HH", self._buf)
            digits = bytes(self._buf[4:8])
            if fmt not in (FORMAT_XML, FORMAT_SOAP) or total < HEADER or not digits.isdigit():
                self._broken = True
                raise FramingError(f"bad frame header {bytes(self._buf[:8])!r}")
            if len(self._buf) < total:
                break
            frames.append(Frame(int(digits), bytes(self._buf[HEADER:total]), fmt))
            del self._buf[:total]
        return frames


class CstaStreamFramer:
    """The framer of a CSTA-over-TCP connection: whole frames out, and the
    stream's one fatal error (a bad header) as the SIP framer reports it."""

    __slots__ = ("_reader",)

    def __init__(self) -> None:
        self._reader = FrameReader()

    @property
    def buffered(self) -> int:
        """Bytes held of a frame not complete yet (a frame is 64 KiB at most)."""
        return len(self._reader._buf)

    def feed(self, data: bytes) -> list[Frame | StreamBroken]:
        try:
            return list(self._reader.feed(data))
        except FramingError as exc:
            return [StreamBroken(str(exc))]


@dataclass(frozen=True, slots=True)
class StreamBroken:
    """The byte stream cannot be framed any more: close the connection."""

    reason: str


class InvokeIds:
    """invokeIDs 1-9998 for requests, round robin, never one still in use."""

    def __init__(self) -> None:
        self._next = 1
        self.in_use: set[int] = set()

    def allocate(self) -> int:
        if len(self.in_use) >= 9998:
            raise FramingError("all 9998 invokeIDs are in use")
        while True:
            candidate = self._next
            self._next = 1 if self._next >= 9998 else self._next + 1
            if candidate not in self.in_use:
                self.in_use.add(candidate)
                return candidate

    def release(self, invoke_id: int) -> None:
        self.in_use.discard(invoke_id)
