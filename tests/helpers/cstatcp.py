"""An independent CSTA-over-TCP client for the tests, written from the
standards and not from the server: ECMA-323 Annex J framing (2 bytes format,
2 bytes big-endian length including the 8-byte header, 4 ASCII digits of
invokeID, 9999 for events), ECMA-354 application session messages and
ECMA-323 requests written as text, replies read with the standard library's
ElementTree.  It shares no code with uacsta's codec or framing."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
import struct
import xml.etree.ElementTree as ET
from dataclasses import dataclass
from xml.sax.saxutils import escape

APPL = "http://www.ecma-international.org/standards/ecma-354/appl_session"
ED = {n: f"http://www.ecma-international.org/standards/ecma-323/csta/ed{n}" for n in (3, 4, 5, 6)}
OSV = "http://www.siemens.com/schema/csta"  # OpenScape Voice's login wrapper
EVENT = 9999


@dataclass
class Reply:
    invoke_id: int
    xml: bytes
    root: ET.Element

    @property
    def name(self) -> str:
        return self.root.tag.rpartition("}")[2]

    @property
    def namespace(self) -> str:
        return self.root.tag[1:].partition("}")[0] if self.root.tag.startswith("{") else ""

    def text(self, *path: str) -> str | None:
        """The text of the first element at ``path`` (local names)."""
        el: ET.Element | None = self.root
        for name in path:
            assert el is not None
            el = next((c for c in el if c.tag.rpartition("}")[2] == name), None)
            if el is None:
                return None
        return (el.text or "").strip() if el is not None else None


def frame(xml: str | bytes, invoke_id: int, fmt: int = 0) -> bytes:
    body = xml.encode() if isinstance(xml, str) else xml
    return struct.pack(">HH", fmt, 8 + len(body)) + b"%04d" % invoke_id + body


def start_session(
    user: str, password: str, versions: list[str], duration: int | None = 60, app: str = "test"
) -> str:
    login = (
        f'<applicationSpecificInfo><a1:SessionLoginInfo xmlns:a1="{OSV}">'
        f"<a1:userName>{escape(user)}</a1:userName><a1:password>{escape(password)}</a1:password>"
        "</a1:SessionLoginInfo></applicationSpecificInfo>"
    )
    wanted = "".join(f"<protocolVersion>{v}</protocolVersion>" for v in versions)
    seconds = f"<requestedSessionDuration>{duration}</requestedSessionDuration>" if duration else ""
    return (
        f'<?xml version="1.0" encoding="UTF-8"?><StartApplicationSession xmlns="{APPL}">'
        f"<applicationInfo><applicationID>{app}</applicationID>{login}</applicationInfo>"
        f"<requestedProtocolVersions>{wanted}</requestedProtocolVersions>{seconds}"
        "</StartApplicationSession>"
    )


def reset_timer(session: str, duration: int | None = None) -> str:
    seconds = f"<requestedSessionDuration>{duration}</requestedSessionDuration>" if duration else ""
    return (
        f'<ResetApplicationSessionTimer xmlns="{APPL}"><sessionID>{session}</sessionID>'
        f"{seconds}</ResetApplicationSessionTimer>"
    )


def stop_session(session: str) -> str:
    return (
        f'<StopApplicationSession xmlns="{APPL}"><sessionID>{session}</sessionID>'
        "<sessionEndReason><definedEndReason>normal</definedEndReason></sessionEndReason>"
        "</StopApplicationSession>"
    )


def csta(edition: int, root: str, inner: str) -> str:
    return f'<?xml version="1.0" encoding="UTF-8"?><{root} xmlns="{ED[edition]}">{inner}</{root}>'


def monitor_start(edition: int, device: str) -> str:
    return csta(
        edition,
        "MonitorStart",
        f"<monitorObject><deviceObject>{escape(device)}</deviceObject></monitorObject>",
    )


def make_call(edition: int, calling: str, called: str) -> str:
    return csta(
        edition,
        "MakeCall",
        f"<callingDevice>{escape(calling)}</callingDevice>"
        f"<calledDirectoryNumber>{escape(called)}</calledDirectoryNumber>",
    )


def connection(name: str, call_id: str, device: str) -> str:
    return (
        f"<{name}><callID>{escape(call_id)}</callID><deviceID>{escape(device)}</deviceID></{name}>"
    )


class CstaTcpClient:
    def __init__(self) -> None:
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.events: list[Reply] = []
        self._next = 1

    async def connect(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
        )

    def send_raw(self, data: bytes) -> None:
        assert self.writer is not None
        self.writer.write(data)

    def send(self, xml: str | bytes, invoke_id: int | None = None) -> int:
        if invoke_id is None:
            invoke_id, self._next = self._next, self._next % 9998 + 1
        self.send_raw(frame(xml, invoke_id))
        return invoke_id

    async def read(self, timeout: float = 5.0) -> Reply:
        """The next frame, whatever it is."""
        assert self.reader is not None
        async with asyncio.timeout(timeout):
            head = await self.reader.readexactly(8)
            fmt, total = struct.unpack(">HH", head[:4])
            assert fmt == 0, f"format {fmt}"
            invoke = int(head[4:8].decode("ascii"))
            body = await self.reader.readexactly(total - 8)
        return Reply(invoke, body, ET.fromstring(body))

    async def answer(self, invoke_id: int, timeout: float = 5.0) -> Reply:
        """The reply to ``invoke_id``; events met on the way are kept."""
        while True:
            reply = await self.read(timeout)
            if reply.invoke_id == invoke_id:
                return reply
            assert reply.invoke_id == EVENT, f"reply to {reply.invoke_id}, not {invoke_id}"
            self.events.append(reply)

    async def request(self, xml: str) -> Reply:
        return await self.answer(self.send(xml))

    async def event(self, name: str, timeout: float = 5.0) -> Reply:
        """The next event called ``name`` (earlier ones kept in ``events``)."""
        for i, kept in enumerate(self.events):
            if kept.name == name:
                return self.events.pop(i)
        while True:
            reply = await self.read(timeout)
            assert reply.invoke_id == EVENT, f"a reply ({reply.invoke_id}) while waiting for {name}"
            if reply.name == name:
                return reply
            self.events.append(reply)

    async def closed(self, timeout: float = 5.0) -> bool:
        """True once the server has closed the connection."""
        assert self.reader is not None
        async with asyncio.timeout(timeout):
            while True:
                try:
                    if not await self.reader.read(65536):
                        return True
                except (ConnectionError, ssl.SSLError):
                    return True

    async def close(self) -> None:
        if self.writer is not None:
            self.writer.close()
            with contextlib.suppress(Exception):
                await self.writer.wait_closed()
