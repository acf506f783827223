"""The phone side's SIP user agent: what each request from a phone gets."""

from __future__ import annotations

import logging
import secrets
import time
from collections.abc import Callable

from ..csta.codec import CSTA_TYPE
from ..dialog.core import DIALOG_ALLOW
from ..logs import log_tag
from ..net.connection import SipConnection
from ..sip.address import Via
from ..sip.errors import SipParseError
from ..sip.message import Request, Response, build_response
from ..sip.uas import UasPolicy, precheck_request
from ..sip.uri import SipUri
from ..trace import TRACER
from ..vendors import normalise_user
from .registrar import SERVER_HEADER, Registrar
from .session_manager import SessionManager

log = logging.getLogger("uacsta.sip")
# What a phone may send: its registrations, and the uaCSTA dialog's methods.
ALLOW = f"REGISTER, {DIALOG_ALLOW}"
POLICY = UasPolicy(allow=tuple(ALLOW.split(", ")))


def stamp_received(req: Request, ip: str, port: int) -> None:
    """RFC 3261 18.2.1 and RFC 3581: note where the request really came from."""
    vias = req.headers.get_all("Via")
    if not vias or "," in vias[0]:
        return  # several values on the first line: rare, left as they are
    top = req.vias[0]  # parsed (and checked) already
    top = Via(top.transport, top.host, top.port, dict(top.params), top.protocol)
    changed = False
    if top.host.strip("[]") != ip:
        top.params["received"] = ip
        changed = True
    if "rport" in top.params and top.params["rport"] is None:
        top.params["rport"] = str(port)
        changed = True
    if changed:
        all_vias = req.headers.get_all("Via")
        req.headers.remove("Via")
        req.headers.add("Via", str(top))
        for v in all_vias[1:]:
            req.headers.add("Via", v)


class PhoneEndpoint:
    def __init__(
        self, registrar: Registrar, sessions: SessionManager, clock: Callable[[], float]
    ) -> None:
        self.registrar = registrar
        self.sessions = sessions
        self.clock = clock

    def _tag_for(self, conn: SipConnection, msg: Request | Response) -> str:
        """The phone a message is about: by its dialog, else by the phone's
        user name in it (From of its requests, To of its answers), else by the
        connection.  One DECT base carries several handsets on one connection:
        each line is filed under its own handset."""
        mac = self.sessions.mac_for(msg.call_id)
        if mac:
            return mac
        try:
            uri = msg.to.uri if isinstance(msg, Response) else msg.from_.uri
        except SipParseError:
            return conn.log_tag
        if isinstance(uri, SipUri) and uri.user:
            return normalise_user(uri.user) or conn.log_tag
        return conn.log_tag

    def handle(self, conn: SipConnection, msg: Request | Response) -> None:
        tag = self._tag_for(conn, msg)
        # Everything logged while handling this message (the response too)
        # carries the phone's MAC, so that the MAC filter keeps a failed login.
        token = log_tag.set(tag)
        try:
            self._handle(conn, msg, tag)
        finally:
            log_tag.reset(token)

    def _handle(self, conn: SipConnection, msg: Request | Response, tag: str) -> None:
        if tag in TRACER.watched:
            text = msg.to_bytes().decode("utf-8", "replace")
            TRACER.record(tag, "phone", "server", "sip", msg.summary(), text)
        if log.isEnabledFor(logging.DEBUG):
            log.debug(
                "received from %s:%d:\n%s",
                conn.peer_ip,
                conn.peer_port,
                msg.to_bytes().decode("utf-8", "replace"),
                extra={"tag": tag},
            )
        if isinstance(msg, Response):
            if not self.sessions.response_received(msg):
                log.debug("response %d for %s with no request of ours", msg.status, msg.cseq)
            return
        if msg.to.tag is not None and self.sessions.request_received(msg):
            return  # in a dialog: the phone's uaCSTA session answered it
        stamp_received(msg, conn.peer_ip, conn.peer_port)
        to_tag = secrets.token_hex(6)
        response = precheck_request(msg, POLICY, to_tag)
        if response is None:
            response = self._dispatch(conn, msg, to_tag)
        if response is not None:
            conn.send(response)

    def _dispatch(self, conn: SipConnection, req: Request, to_tag: str) -> Response | None:
        method = req.method
        if method == "REGISTER":
            return self.registrar.handle_register(req, conn, self.clock(), time.time(), to_tag)
        if method == "OPTIONS":
            return build_response(
                req,
                200,
                to_tag=to_tag,
                extra=[("Allow", ALLOW), ("Accept", CSTA_TYPE), SERVER_HEADER],
            )
        if method == "ACK":
            return None
        if method in ("INFO", "BYE", "CANCEL"):
            return build_response(req, 481, to_tag=to_tag, extra=[SERVER_HEADER])
        return build_response(req, 405, to_tag=to_tag, extra=[("Allow", ALLOW), SERVER_HEADER])
