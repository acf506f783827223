"""A minimal SIP phone for tests, built on the project's sans-IO core and real
sockets: it registers with digest over TCP or TLS and reads what the server
sends.  (Independent peers — sipp, stunnel — are used in tests/interop.)"""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl

from uacsta.sip import Headers, Request, Response, StreamFramer
from uacsta.sip.digest import answer_challenge
from uacsta.sip.framer import KeepAlivePing, MessageReceived


class SipPhone:
    def __init__(self, mac: str, user_agent: str = "snomD785/10.1.54.13") -> None:
        self.mac = mac
        self.user_agent = user_agent
        self.call_id = f"{secrets.token_hex(8)}@test"
        self.cseq = 0
        self.from_tag = secrets.token_hex(4)
        self.framer = StreamFramer()
        self.reader: asyncio.StreamReader | None = None
        self.writer: asyncio.StreamWriter | None = None
        self.pending: list[Response | Request | KeepAlivePing] = []
        self.requests: list[Request] = []
        self.transport = "TCP"
        self.local = ("127.0.0.1", 0)

    async def connect(self, port: int, tls: ssl.SSLContext | None = None) -> None:
        self.reader, self.writer = await asyncio.open_connection(
            "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
        )
        self.transport = "TLS" if tls else "TCP"
        self.local = self.writer.get_extra_info("sockname")[:2]

    async def close(self) -> None:
        if self.writer:
            self.writer.close()
            with contextlib.suppress(ConnectionError, ssl.SSLError):
                await self.writer.wait_closed()

    def register_request(
        self, expires: int | None = 300, auth: str | None = None, user: str | None = None
    ) -> Request:
        self.cseq += 1
        user = user or self.mac
        h = Headers()
        h.add(
            "Via",
            f"SIP/2.0/{self.transport} {self.local[0]}:{self.local[1]}"
            f";branch=z9hG4bK{secrets.token_hex(6)};rport",
        )
        h.add("Max-Forwards", "70")
        h.add("From", f"<sip:{user}@uacsta.test>;tag={self.from_tag}")
        h.add("To", f"<sip:{user}@uacsta.test>")
        h.add("Call-ID", self.call_id)
        h.add("CSeq", f"{self.cseq} REGISTER")
        contact = f"<sip:{user}@{self.local[0]}:{self.local[1]};transport={self.transport.lower()}>"
        h.add("Contact", contact)
        if expires is not None:
            h.add("Expires", str(expires))
        h.add("User-Agent", self.user_agent)
        if auth:
            h.add("Authorization", auth)
        return Request(headers=h, method="REGISTER", uri="sip:uacsta.test")

    async def send(self, msg: Request | Response | bytes) -> None:
        assert self.writer is not None
        self.writer.write(msg if isinstance(msg, bytes) else msg.to_bytes())
        await self.writer.drain()

    async def receive(self, timeout: float = 5.0) -> Response | Request | KeepAlivePing:
        assert self.reader is not None
        while not self.pending:
            data = await asyncio.wait_for(self.reader.read(65536), timeout)
            if not data:
                raise ConnectionError("server closed the connection")
            for event in self.framer.feed(data):
                if isinstance(event, MessageReceived):
                    self.pending.append(event.message)
                elif isinstance(event, KeepAlivePing):
                    self.pending.append(event)
                else:
                    raise AssertionError(f"unexpected framer event {event}")
        return self.pending.pop(0)

    async def response(self, timeout: float = 5.0) -> Response:
        """The next response; requests from the server (its uaCSTA INVITE, which
        this minimal phone does not answer) are set aside in ``requests``."""
        while True:
            msg = await self.receive(timeout)
            if isinstance(msg, Response):
                return msg
            assert isinstance(msg, Request), msg
            self.requests.append(msg)

    async def register(
        self, password: str, expires: int | None = 300, user: str | None = None
    ) -> Response:
        """REGISTER, answer the challenge, return the final response."""
        await self.send(self.register_request(expires, user=user))
        first = await self.response()
        if first.status != 401:
            return first
        challenge = first.headers.get("WWW-Authenticate")
        assert challenge
        auth = answer_challenge(
            challenge,
            method="REGISTER",
            uri="sip:uacsta.test",
            username=user or self.mac,
            password=password,
        )
        await self.send(self.register_request(expires, auth=auth, user=user))
        return await self.response()
