"""Multicast membership for sip.mcast.net (discovery's listener, the
simulated phones' plug-and-play)."""

from __future__ import annotations

import socket
import struct

from ..sip.datagram import SIP_MCAST


def join_sip_mcast(sock: socket.socket, on_ip: str) -> None:
    """Join sip.mcast.net on the interface that has ``on_ip`` (0.0.0.0: the default one)."""
    mreq = struct.pack("4s4s", socket.inet_aton(SIP_MCAST), socket.inet_aton(on_ip))
    sock.setsockopt(socket.IPPROTO_IP, socket.IP_ADD_MEMBERSHIP, mreq)
