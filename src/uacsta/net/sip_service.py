"""A SIP service: the listeners of one side (phone or client connection), its
connections, per-source limits and the idle sweep."""

from __future__ import annotations

import asyncio
import errno
import heapq
import itertools
import logging
import socket
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass

from ..csta.framing import Frame
from ..logs import OncePer, log_tag
from ..settings import ConnectionSettings, Interface
from ..sip.framer import BadMessage, StreamFramer
from ..sip.message import Request, Response, build_error_response_raw
from .connection import Framer, SipConnection

log = logging.getLogger("uacsta.net")


class ListenerError(Exception):
    pass


def bind(
    name: str, host: str, port: int, send_buffer: int | None = None, *, share: bool = False
) -> socket.socket:
    """A listening TCP socket, or a ListenerError an administrator can act on.
    ``send_buffer`` fixes the kernel's send buffer of every accepted
    connection (they inherit it): a peer that stops reading then holds that
    much, not the several MiB autotuning would grow to.  ``share``: the
    workers of ``uacsta serve --workers`` listen on the same port
    (SO_REUSEPORT: the kernel spreads new connections over them)."""
    family = socket.AF_INET6 if ":" in host else socket.AF_INET
    # proto named, not 0: asyncio sets TCP_NODELAY on an accepted connection
    # only when its socket says IPPROTO_TCP (base_events._set_nodelay), and
    # accepted sockets copy the listener's.  Without it Nagle's algorithm
    # meets the peer's delayed ACK: 40 ms on a small write after a small
    # read (a WebSocket ping's pong, a phone's 200 OK) -- the relay's p99.
    sock = socket.socket(family, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        if share:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        if send_buffer is not None:
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, send_buffer)
        if family == socket.AF_INET6:
            sock.setsockopt(socket.IPPROTO_IPV6, socket.IPV6_V6ONLY, 1)
        sock.bind((host, port))
        sock.listen(4096)
        sock.setblocking(False)
    except OSError as exc:
        sock.close()
        if exc.errno == errno.EADDRINUSE:
            raise ListenerError(f"{name} port {port} on {host} is already in use") from None
        if exc.errno == errno.EACCES:
            raise ListenerError(
                f"{name} port {port} on {host}: permission denied (ports below 1024 "
                "need privileges)"
            ) from None
        if exc.errno == errno.EADDRNOTAVAIL:
            raise ListenerError(f"{name}: {host} is not an address of this machine") from None
        raise ListenerError(f"{name} on {host}:{port}: {exc.strerror}") from None
    return sock


def _sip_ports(iface: Interface) -> list[tuple[str, int | None]]:
    return [("TCP", iface.tcp_port), ("TLS", iface.tls_port)]


@dataclass(frozen=True)
class Listening:
    name: str  # e.g. "phone LAN TLS"
    interface: str
    transport: str
    host: str
    port: int


class SipService:
    def __init__(
        self,
        side: str,
        on_message: Callable[[SipConnection, Request | Response], None],
        on_closed: Callable[[SipConnection], None],
        *,
        max_per_source: int,
        tls_handshake_timeout: float,
        idle_timeout: Callable[[SipConnection], float],
        max_connections: int = 20000,
        max_buffered: int = 64 * 1024 * 1024,
        message_deadline: float = 20.0,
        framer: Callable[[], Framer] = StreamFramer,
        on_frame: Callable[[SipConnection, Frame], None] | None = None,
        ports: Callable[[Interface], list[tuple[str, int | None]]] | None = None,
        share_ports: bool = False,
    ) -> None:
        self.side = side
        self.share_ports = share_ports
        self._on_message = on_message
        self._on_closed = on_closed
        # The same listener, limits and sweeps serve CSTA over TCP: its framer
        # makes frames instead of SIP messages, its ports are other settings.
        self._framer = framer
        self._on_frame = on_frame
        self._ports = ports or _sip_ports
        self.max_per_source = max_per_source
        self.tls_handshake_timeout = tls_handshake_timeout
        self.idle_timeout = idle_timeout
        self.max_connections = max_connections
        self.max_buffered = max_buffered
        self.message_deadline = message_deadline
        self.buffered_bytes = 0  # held in partly received messages, all connections
        self.refused: Counter[str] = Counter()  # refusals by reason, for the status
        self._say = OncePer(60.0)
        self.connections: set[SipConnection] = set()
        # The sweep looks at what may be due, not at every connection each
        # second: those holding part of a message (for the deadline), and a
        # heap of when each connection is next to be looked at for idleness.
        self._partial: set[SipConnection] = set()
        self._idle: list[tuple[float, int, SipConnection]] = []
        self._order = itertools.count()
        self._per_source: Counter[str] = Counter()
        self._servers: list[asyncio.Server] = []
        self.listening: list[Listening] = []
        self._loop: asyncio.AbstractEventLoop | None = None

    # -- ConnectionHost ---------------------------------------------------------

    def now(self) -> float:
        assert self._loop is not None
        return self._loop.time()

    def _refuse(self, reason: str, source: str, text: str) -> None:
        """Count a refusal; log it once per source and minute."""
        self.refused[reason] += 1
        suppressed = self._say(f"{reason} {source}", self.now())
        if suppressed is not None:
            more = f" ({suppressed} more like it in the last minute)" if suppressed else ""
            log.warning("%s%s", text, more)

    def connection_opened(self, conn: SipConnection) -> bool:
        if len(self.connections) >= self.max_connections:
            self._refuse(
                "connections",
                conn.peer_ip,
                f"refusing connection from {conn.peer_ip}: {self.max_connections} "
                f"{self.side} connections open (max_connections)",
            )
            return False
        if self._per_source[conn.peer_ip] >= self.max_per_source:
            self._refuse(
                "per-source",
                conn.peer_ip,
                f"refusing connection from {conn.peer_ip}: {self.max_per_source} connections "
                "from it already (max_connections_per_source)",
            )
            return False
        self._per_source[conn.peer_ip] += 1
        self.connections.add(conn)
        due = conn.last_activity + self.idle_timeout(conn)
        heapq.heappush(self._idle, (due, next(self._order), conn))
        log.debug(
            "%s connection from %s:%d (%s)",
            conn.transport_name,
            conn.peer_ip,
            conn.peer_port,
            conn.interface,
        )
        return True

    def connection_closed(self, conn: SipConnection) -> None:
        if conn in self.connections:
            self.connections.discard(conn)
            self._partial.discard(conn)
            self.buffered_bytes -= conn.buffered
            conn.buffered = 0
            self._per_source[conn.peer_ip] -= 1
            if self._per_source[conn.peer_ip] <= 0:
                del self._per_source[conn.peer_ip]
            log.debug("connection from %s:%d closed", conn.peer_ip, conn.peer_port)
            self._on_closed(conn)

    def message_received(self, conn: SipConnection, msg: Request | Response) -> None:
        self._on_message(conn, msg)

    def frame_received(self, conn: SipConnection, frame: Frame) -> None:
        if self._on_frame is None:
            conn.close()  # a SIP listener never makes frames: nothing to do with one
            return
        self._on_frame(conn, frame)

    def buffered(self, conn: SipConnection, delta: int) -> bool:
        """A connection holds ``delta`` more bytes of partial messages; False
        (close it) when all of them together would pass the budget."""
        self.buffered_bytes += delta
        if conn.buffered + delta > 0:
            self._partial.add(conn)
        else:
            self._partial.discard(conn)
        if delta > 0 and self.buffered_bytes > self.max_buffered:
            self._refuse(
                "buffered",
                conn.peer_ip,
                f"closing {conn!r}: partial messages of all {self.side} connections "
                f"exceed {self.max_buffered} bytes (max_buffered_bytes)",
            )
            return False
        return True

    def bad_message(self, conn: SipConnection, event: BadMessage) -> None:
        self.refused["bad message"] += 1
        suppressed = self._say(f"bad {conn.peer_ip}", self.now())
        if suppressed is not None:
            more = f" ({suppressed} more from it in the last minute)" if suppressed else ""
            log.info(
                "bad message from %s:%d: %s%s",
                conn.peer_ip,
                conn.peer_port,
                event.error.reason,
                more,
            )
        if log.isEnabledFor(logging.DEBUG):
            log.debug("bad message was:\n%s", event.raw.decode("utf-8", "replace"))
        answer = build_error_response_raw(event.raw, event.error.status, event.error.reason)
        if answer is not None:
            conn.send_raw(answer)

    # -- listeners ----------------------------------------------------------------

    async def start(self, settings: ConnectionSettings, tls: ssl.SSLContext | None) -> None:
        self._loop = asyncio.get_running_loop()
        try:
            for iface_name, iface in (("lan", settings.lan), ("wan", settings.wan)):
                if not iface.enabled:
                    continue
                for transport, port in self._ports(iface):
                    if port is None:
                        continue
                    await self._listen(
                        iface_name, transport, iface.address, port, tls, iface.public_address
                    )
        except BaseException:
            await self.stop()
            raise

    async def _listen(
        self,
        iface: str,
        transport: str,
        host: str,
        port: int,
        tls: ssl.SSLContext | None,
        public_address: str | None = None,
    ) -> None:
        assert self._loop is not None
        name = f"{self.side} {iface.upper()} {transport}"
        if transport == "TLS" and tls is None:
            raise ListenerError(f"{name}: no TLS certificate loaded")

        context = tls if transport == "TLS" else None

        def factory() -> SipConnection:
            # The connection runs its own TLS handshake once it is counted.
            return SipConnection(
                self,
                iface,
                transport,
                public_address,
                context,
                self.tls_handshake_timeout,
                self._framer,
            )

        server = await self._loop.create_server(
            factory, sock=bind(name, host, port, share=self.share_ports)
        )
        self._servers.append(server)
        bound = server.sockets[0].getsockname()
        self.listening.append(Listening(name, iface, transport, host, int(bound[1])))
        log.info("%s listening on %s port %d", name, host, bound[1])

    def port(self, interface: str, transport: str) -> int:
        for item in self.listening:
            if item.interface == interface and item.transport == transport:
                return item.port
        raise KeyError((interface, transport))

    @property
    def running(self) -> bool:
        return bool(self._servers)

    async def stop(self) -> None:
        for server in self._servers:
            server.close()
        for conn in list(self.connections):
            conn.abort()
        for server in self._servers:
            await server.wait_closed()
        self._servers.clear()
        self.listening.clear()

    def sweep(self) -> int:
        """Close connections idle for longer than their timeout, and those
        whose message has not completed within the deadline from its first
        byte (one byte every few seconds resets no idle timer that matters)."""
        now = self.now()
        closed = 0
        for conn in list(self._partial):
            began = conn.partial_since
            if began is not None and now - began > self.message_deadline:
                self._refuse(
                    "deadline",
                    conn.peer_ip,
                    f"closing {conn!r}: a message not complete {self.message_deadline:g} s "
                    "after its first byte (message_deadline)",
                )
                self._partial.discard(conn)
                conn.close()
                closed += 1
        heap = self._idle
        while heap and heap[0][0] <= now:
            _, _, conn = heapq.heappop(heap)
            if conn not in self.connections:
                continue
            timeout = self.idle_timeout(conn)
            if now - conn.last_activity > timeout:
                token = log_tag.set(conn.log_tag)
                log.info("closing idle connection %r", conn)
                log_tag.reset(token)
                conn.close()
                closed += 1
            else:  # active meanwhile: look again when it could be idle
                due = max(conn.last_activity + timeout, now + 0.5)
                heapq.heappush(heap, (due, next(self._order), conn))
        return closed
