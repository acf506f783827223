"""One SIP connection (TCP or TLS): bytes to the sans-IO framer, events to the
service, messages back to bytes.  asyncio.Protocol rather than streams: no task
per connection, a few hundred bytes of Python state per idle phone."""

from __future__ import annotations

import asyncio
import logging
import ssl
from collections.abc import Callable, Sequence
from typing import Protocol, cast

from ..csta.framing import Frame, StreamBroken
from ..logs import log_tag
from ..sip.framer import (
    PONG,
    BadMessage,
    FramingError,
    KeepAlivePing,
    MessageReceived,
    StreamFramer,
)
from ..sip.message import Request, Response
from ..trace import TRACER

log = logging.getLogger("uacsta.sip")
_HANDSHAKES: set[asyncio.Task[None]] = set()  # asyncio keeps weak references only
MAX_WRITE_BUFFER = 1024 * 1024


class Framer(Protocol):
    """Bytes in, events out: SIP's StreamFramer, or CSTA-over-TCP's frames."""

    @property
    def buffered(self) -> int: ...

    def feed(self, data: bytes) -> Sequence[object]: ...


class ConnectionHost(Protocol):
    def connection_opened(self, conn: SipConnection) -> bool: ...
    def connection_closed(self, conn: SipConnection) -> None: ...
    def message_received(self, conn: SipConnection, msg: Request | Response) -> None: ...
    def frame_received(self, conn: SipConnection, frame: Frame) -> None: ...
    def bad_message(self, conn: SipConnection, event: BadMessage) -> None: ...
    def buffered(self, conn: SipConnection, delta: int) -> bool: ...
    def now(self) -> float: ...


class SipConnection(asyncio.Protocol):
    __slots__ = (
        "_early",
        "_handshake_timeout",
        "_held_raw",
        "_raw",
        "_raw_to_us",
        "_tls",
        "buffered",
        "framer",
        "host",
        "interface",
        "last_activity",
        "local_ip",
        "local_port",
        "macs",
        "partial_since",
        "peer_ip",
        "peer_port",
        "public_address",
        "tag",
        "transport",
        "transport_name",
    )

    def __init__(
        self,
        host: ConnectionHost,
        interface: str,
        transport_name: str,
        public_address: str | None = None,
        tls: ssl.SSLContext | None = None,
        handshake_timeout: float = 10.0,
        framer: Callable[[], Framer] = StreamFramer,
    ) -> None:
        self.host = host
        self.interface = interface  # "lan" | "wan"
        self.transport_name = transport_name  # "TCP" | "TLS"
        self.framer: Framer = framer()
        self.transport: asyncio.Transport | None = None
        self.peer_ip = ""
        self.peer_port = 0
        self.macs: set[str] = set()
        self.tag = ""  # the MAC (or client name) for log lines, once known
        self.last_activity = 0.0
        # When the message being received began (its first byte), or None
        # between messages; and how many bytes of it the framer holds.
        self.partial_since: float | None = None
        self.buffered = 0
        self.local_ip = ""
        self.local_port = 0
        self.public_address = public_address
        # TLS is started here, after the connection counted against the
        # per-source and global caps: a half-open handshake holds a place too.
        self._tls = tls
        self._handshake_timeout = handshake_timeout
        self._raw: asyncio.Transport | None = None
        # Answers written after the handshake but before start_tls returned.
        self._early: list[bytes] = []
        # Raw bytes (the ClientHello) that reached this protocol before TLS was
        # put in between, and whether that can still happen (see _hold_raw).
        self._held_raw: list[bytes] = []
        self._raw_to_us = False

    @property
    def log_tag(self) -> str:
        return self.tag or next(iter(self.macs), "")

    def __repr__(self) -> str:
        return f"<{self.transport_name} {self.peer_ip}:{self.peer_port} {self.log_tag}>"

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        # A stream transport (uvloop's are not asyncio.Transport subclasses).
        transport = cast(asyncio.Transport, transport)
        peer = transport.get_extra_info("peername") or ("", 0)
        self.peer_ip, self.peer_port = str(peer[0]), int(peer[1])
        local = transport.get_extra_info("sockname") or ("", 0)
        self.local_ip, self.local_port = str(local[0]), int(local[1])
        self.last_activity = self.host.now()
        if self._tls is None:
            self.transport = transport
        if not self.host.connection_opened(self):
            transport.abort()
            return
        if self._tls is not None:
            # Nothing may reach the SIP framer before TLS: the ClientHello
            # could arrive before the handshake task runs (start_tls resumes).
            transport.pause_reading()
            self._raw = transport
            self._raw_to_us = True
            task = asyncio.get_running_loop().create_task(self._start_tls(transport, self._tls))
            _HANDSHAKES.add(task)
            task.add_done_callback(_HANDSHAKES.discard)

    async def _start_tls(self, raw: asyncio.Transport, context: ssl.SSLContext) -> None:
        loop = asyncio.get_running_loop()
        # Runs once start_tls (below, in this same step) has made its TLS
        # protocol the raw transport's.
        loop.call_soon(self._hand_raw_to_tls)
        try:
            tls = await loop.start_tls(
                raw,
                self,
                context,
                server_side=True,
                ssl_handshake_timeout=self._handshake_timeout,
            )
        except (OSError, ssl.SSLError, TimeoutError, EOFError) as exc:
            log.debug("TLS handshake with %s:%d failed: %s", self.peer_ip, self.peer_port, exc)
            self._held_raw.clear()
            raw.abort()
            self._raw = None
            self.connection_lost(None)
            return
        self._raw = None
        if tls is None:  # closed meanwhile
            self.connection_lost(None)
            return
        self.transport = tls
        early, self._early = self._early, []
        for data in early:
            self._write(data)

    def _hold_raw(self, data: bytes) -> None:
        """uvloop starts reading an accepted connection once connection_made
        has returned, whatever it asked (pause_reading there is lost), so the
        ClientHello can come here before start_tls has put TLS in between.
        It is the handshake's: kept for it, not framed as SIP."""
        self._held_raw.append(data)
        if self._raw is not None:
            self._raw.pause_reading()

    def _hand_raw_to_tls(self) -> None:
        self._raw_to_us = False
        held, self._held_raw = b"".join(self._held_raw), []
        raw = self._raw
        if not held or raw is None:
            return
        tls = raw.get_protocol()
        if hasattr(tls, "buffer_updated"):  # both loops' TLS protocols are buffered
            buffered = cast(asyncio.BufferedProtocol, tls)
            view = memoryview(held)
            while view:
                buf = memoryview(buffered.get_buffer(len(view)))
                n = min(len(buf), len(view))
                buf[:n] = view[:n]
                buffered.buffer_updated(n)
                view = view[n:]
        else:
            cast(asyncio.Protocol, tls).data_received(held)

    def connection_lost(self, exc: Exception | None) -> None:
        token = log_tag.set(self.log_tag)
        try:
            self.host.connection_closed(self)
        finally:
            log_tag.reset(token)
        self.transport = None

    def data_received(self, data: bytes) -> None:
        if self._raw_to_us:
            self._hold_raw(data)
            return
        now = self.last_activity = self.host.now()
        token = log_tag.set(self.log_tag)
        try:
            if self.partial_since is None:
                self.partial_since = now
            events = self.framer.feed(data)
            held = self.framer.buffered
            if held == 0:
                self.partial_since = None  # everything received was complete
            elif events:
                self.partial_since = now  # a new message began in this chunk
            if not self.host.buffered(self, held - self.buffered):
                self.buffered = held
                self.close()
                return
            self.buffered = held
            for event in events:
                if isinstance(event, MessageReceived):
                    self.host.message_received(self, event.message)
                elif isinstance(event, Frame):
                    self.host.frame_received(self, event)
                elif isinstance(event, KeepAlivePing):
                    self._write(PONG)
                elif isinstance(event, BadMessage):
                    self.host.bad_message(self, event)
                elif isinstance(event, FramingError | StreamBroken):
                    log.warning("closing %r: %s", self, event.reason)
                    self.close()
                    break
        except Exception:
            log.exception("error handling data from %r; closing it", self)
            self.close()
        finally:
            log_tag.reset(token)

    def eof_received(self) -> bool | None:
        return None  # close our side too

    def send(self, msg: Request | Response) -> None:
        data = msg.to_bytes()
        if TRACER.watched:
            tag = log_tag.get() or self.log_tag
            if tag in TRACER.watched:
                TRACER.record(
                    tag, "server", "phone", "sip", msg.summary(), data.decode("utf-8", "replace")
                )
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "sent to %s:%d:\n%s",
                self.peer_ip,
                self.peer_port,
                data.decode("utf-8", "replace"),
                # the handset a message is for, where one connection carries several
                extra={"tag": log_tag.get() or self.log_tag},
            )
        self._write(data)

    def send_raw(self, data: bytes) -> None:
        self._write(data)

    def _write(self, data: bytes) -> None:
        transport = self.transport
        if transport is None and self._raw is not None:
            # TLS is up and the peer's first message handled before start_tls
            # returned its transport: hold the answer for a moment.
            self._early.append(data)
            return
        if transport is None or transport.is_closing():
            return
        transport.write(data)
        if transport.get_write_buffer_size() > MAX_WRITE_BUFFER:
            log.warning(
                "closing %r: peer does not read (write buffer over %d bytes)",
                self,
                MAX_WRITE_BUFFER,
            )
            transport.abort()

    def local_address(self) -> tuple[str, int]:
        """Our address as the peer reaches it: for Via and Contact of requests
        we send (the WAN interface's public address when one is set)."""
        if self.public_address:
            return self.public_address, self.local_port
        return self.local_ip, self.local_port

    def close(self) -> None:
        if self.transport is not None and not self.transport.is_closing():
            self.transport.close()
        elif self._raw is not None:
            self._raw.abort()  # still in its TLS handshake

    def abort(self) -> None:
        for transport in (self.transport, self._raw):
            if transport is not None:
                transport.abort()

    @property
    def closed(self) -> bool:
        return self.transport is None or self.transport.is_closing()
