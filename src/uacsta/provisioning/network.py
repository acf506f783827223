"""This host's side of discovery: its interfaces and the UDP sockets that
send the OPTIONS probe and hear the phones' plug-and-play SUBSCRIBEs."""

from __future__ import annotations

import asyncio
import ipaddress
import logging
import socket
import sys
from dataclasses import dataclass

import psutil

from ..net.multicast import join_sip_mcast
from ..sip.datagram import SIP_PORT
from .discovery import Sighting, options_request, read_datagram

log = logging.getLogger("uacsta.provisioning")
IP_MULTICAST_ALL = 49  # Linux <linux/in.h>; not in Python's socket module


@dataclass(frozen=True, slots=True)
class LocalInterface:
    """An IPv4 address of this host that discovery can search from."""

    name: str
    ip: str
    broadcast: str
    network: str  # a.b.c.d/n

    def reaches(self, ip: str) -> bool:
        """Whether ``ip`` is on this interface's network (IPv4)."""
        try:
            return ipaddress.ip_address(ip) in ipaddress.ip_network(self.network)
        except ValueError:
            return False


def local_interfaces() -> list[LocalInterface]:
    out = []
    for name, addrs in sorted(psutil.net_if_addrs().items()):
        for a in addrs:
            if a.family != socket.AF_INET or not a.netmask:
                continue
            net = ipaddress.IPv4Network(f"{a.address}/{a.netmask}", strict=False)
            broadcast = a.broadcast or str(net.broadcast_address)
            out.append(LocalInterface(name, a.address, broadcast, str(net)))
    return out


class Datagrams(asyncio.DatagramProtocol):
    def __init__(self, queue: asyncio.Queue[tuple[bytes, str]]) -> None:
        self.queue = queue

    def datagram_received(self, data: bytes, addr: tuple[str | object, ...]) -> None:
        self.queue.put_nowait((data, str(addr[0])))

    def error_received(self, exc: Exception) -> None:
        log.debug("discovery socket: %s", exc)


def probe_socket(local_ip: str | None) -> socket.socket:
    """Where discovery's OPTIONS leave from: broadcast allowed, multicast out of
    ``local_ip``'s interface and no further than this network."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
        sock.bind((local_ip or "0.0.0.0", 0))
        if local_ip:
            sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(local_ip))
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_TTL, 1)
    except BaseException:
        sock.close()
        raise
    return sock


def pnp_socket(local_ip: str | None) -> socket.socket | None:
    """Booting snom, Yealink and Poly phones SUBSCRIBE to sip.mcast.net:5060."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    try:
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        sock.bind(("0.0.0.0", SIP_PORT))
        join_sip_mcast(sock, local_ip or "0.0.0.0")
        if sys.platform.startswith("linux"):
            # Without this, Linux hands the socket every group joined by any
            # socket on any interface (IP_MULTICAST_ALL defaults to 1).
            sock.setsockopt(socket.IPPROTO_IP, IP_MULTICAST_ALL, 0)
    except OSError as exc:
        log.info("plug-and-play listener unavailable: %s", exc)
        sock.close()
        return None
    return sock


async def sip_probe(ip: str, wait: float = 1.0) -> Sighting | None:
    """The phone at ``ip`` as its answer to one OPTIONS shows it (None: no answer)."""
    loop = asyncio.get_running_loop()
    queue: asyncio.Queue[tuple[bytes, str]] = asyncio.Queue()
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    try:
        transport, _ = await loop.create_datagram_endpoint(
            lambda: Datagrams(queue), family=family, remote_addr=(ip, SIP_PORT)
        )
    except OSError:
        return None
    try:
        local_ip, local_port = transport.get_extra_info("sockname")[:2]
        transport.sendto(options_request(local_ip, local_port, ip))
        deadline = loop.time() + wait
        while (left := deadline - loop.time()) > 0:
            try:
                data, source = await asyncio.wait_for(queue.get(), left)
            except TimeoutError:
                return None
            seen = read_datagram(data, source)
            if seen is not None:
                return seen
        return None
    finally:
        transport.close()


def route_to(ip: str) -> str:
    """This host's address on the way to ``ip`` (no packet is sent)."""
    family = socket.AF_INET6 if ":" in ip else socket.AF_INET
    with socket.socket(family, socket.SOCK_DGRAM) as s:
        s.connect((ip, SIP_PORT))
        return str(s.getsockname()[0])
