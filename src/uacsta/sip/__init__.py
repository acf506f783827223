"""Our own sans-IO SIP layer: messages, stream framing, digest, transactions, dialogs.

Nothing in this package opens a socket, touches asyncio or reads the clock.
"""

from .address import NameAddr, Via, parse_name_addr, parse_via
from .errors import SipParseError
from .framer import BadMessage, FramingError, KeepAlivePing, MessageReceived, StreamFramer
from .headers import Headers
from .message import CSeq, Request, Response, build_response, parse_message
from .uri import SipUri, TelUri, parse_uri

__all__ = [
    "BadMessage",
    "CSeq",
    "FramingError",
    "Headers",
    "KeepAlivePing",
    "MessageReceived",
    "NameAddr",
    "Request",
    "Response",
    "SipParseError",
    "SipUri",
    "StreamFramer",
    "TelUri",
    "Via",
    "build_response",
    "parse_message",
    "parse_name_addr",
    "parse_uri",
    "parse_via",
]
