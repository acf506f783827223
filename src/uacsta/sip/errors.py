"""The one error type of the SIP core."""

from __future__ import annotations


class SipParseError(ValueError):
    """A message (or part of one) that does not follow RFC 3261.

    ``status`` is the response a server should send where an answer is possible
    (400 by default, 505 for an unknown protocol version, 416 for a URI scheme we
    do not serve); ``reason`` is sent as the reason phrase, so keep it short and
    free of CR/LF.
    """

    def __init__(self, reason: str, status: int = 400) -> None:
        super().__init__(reason)
        self.reason = reason.replace("\r", " ").replace("\n", " ")[:120]
        self.status = status
