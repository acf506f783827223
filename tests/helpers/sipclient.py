"""A CTI client speaking uaCSTA over SIP, as the ECSTA driver or a TR/87
client does: INVITE with RequestSystemStatus (answering the digest
challenge), requests in INFO, events as INFO from the server."""

from __future__ import annotations

import asyncio
import contextlib
import secrets
import ssl

from uacsta.csta.codec import decode, encode
from uacsta.csta.errors import CSTAErrorCode
from uacsta.csta.model import CstaMessage, RequestSystemStatus
from uacsta.sip.dialog import Dialog, new_tag
from uacsta.sip.digest import answer_challenge
from uacsta.sip.framer import MessageReceived, StreamFramer
from uacsta.sip.headers import Headers
from uacsta.sip.message import Request, Response, build_response
from uacsta.sip.transaction import new_branch

CSTA = [("Content-Type", "application/csta+xml")]


class SipCstaClient:
    def __init__(
        self,
        host: str,
        port: int,
        user: str,
        password: str,
        edition: int = 4,
        tls: ssl.SSLContext | None = None,
    ) -> None:
        self.host, self.port, self.user, self.password = host, port, user, password
        self.edition = edition
        self.tls = tls
        self.dialog: Dialog | None = None
        self.events: asyncio.Queue[CstaMessage | CSTAErrorCode] = asyncio.Queue()
        self.event_bodies: list[bytes] = []
        self.byes = 0
        self.answer_events = True
        self._waiting: dict[str, asyncio.Future[Response]] = {}
        self._reader_task: asyncio.Task[None] | None = None
        self._writer: asyncio.StreamWriter | None = None
        self._local = ("127.0.0.1", 0)
        self._call_id = f"{secrets.token_hex(8)}@cti"
        self._tag = new_tag()

    async def connect(self) -> Response:
        reader, self._writer = await asyncio.open_connection(
            self.host, self.port, ssl=self.tls, server_hostname="localhost" if self.tls else None
        )
        self._local = self._writer.get_extra_info("sockname")[:2]
        self._reader_task = asyncio.create_task(self._read(reader))
        body = encode(RequestSystemStatus(), self.edition)
        first = await self._transact(self._invite(1, body, None))
        if first.status != 401:
            return first
        auth = answer_challenge(
            first.headers.get("WWW-Authenticate", ""),
            method="INVITE",
            uri=f"sip:uacsta@{self.host}",
            username=self.user,
            password=self.password,
        )
        invite = self._invite(2, body, auth)
        final = await self._transact(invite)
        if final.status == 200:
            self.dialog = Dialog.from_uac(invite, final)
            self._send(self.dialog.create_request("ACK", via_host=self._via(), cseq=2))
        return final

    def _via(self) -> str:
        return f"{self._local[0]}:{self._local[1]}"

    def _invite(self, cseq: int, body: bytes, auth: str | None) -> Request:
        h = Headers()
        h.add("Via", f"SIP/2.0/{'TLS' if self.tls else 'TCP'} {self._via()};branch={new_branch()}")
        h.add("Max-Forwards", "70")
        h.add("From", f"<sip:{self.user}@{self.host}>;tag={self._tag}")
        h.add("To", f"<sip:uacsta@{self.host}>")
        h.add("Call-ID", self._call_id)
        h.add("CSeq", f"{cseq} INVITE")
        h.add("Contact", f"<sip:{self.user}@{self._via()};transport=tcp>")
        h.add("Content-Type", "application/csta+xml")
        if auth:
            h.add("Authorization", auth)
        return Request(headers=h, body=body, method="INVITE", uri=f"sip:uacsta@{self.host}")

    async def request(self, msg: CstaMessage) -> CstaMessage | CSTAErrorCode:
        assert self.dialog is not None
        info = self.dialog.create_request(
            "INFO", via_host=self._via(), extra=CSTA, body=encode(msg, self.edition)
        )
        response = await self._transact(info)
        assert response.status == 200, response.status
        answer = decode(response.body)
        assert isinstance(answer, CstaMessage | CSTAErrorCode), answer
        return answer

    async def raw_info(self, body: bytes) -> Response:
        assert self.dialog is not None
        info = self.dialog.create_request("INFO", via_host=self._via(), extra=CSTA, body=body)
        return await self._transact(info)

    async def bye(self) -> Response:
        assert self.dialog is not None
        return await self._transact(self.dialog.create_request("BYE", via_host=self._via()))

    async def next_event(self, timeout: float = 5.0) -> CstaMessage | CSTAErrorCode:
        return await asyncio.wait_for(self.events.get(), timeout)

    async def _transact(self, req: Request) -> Response:
        key = f"{req.cseq.number} {req.method}"
        fut: asyncio.Future[Response] = asyncio.get_running_loop().create_future()
        self._waiting[key] = fut
        self._send(req)
        try:
            return await asyncio.wait_for(fut, 10)
        finally:
            self._waiting.pop(key, None)

    def _send(self, msg: Request | Response) -> None:
        assert self._writer is not None
        self._writer.write(msg.to_bytes())

    async def _read(self, reader: asyncio.StreamReader) -> None:
        framer = StreamFramer()
        while data := await reader.read(65536):
            for event in framer.feed(data):
                if not isinstance(event, MessageReceived):
                    continue
                msg = event.message
                if isinstance(msg, Response):
                    fut = self._waiting.get(f"{msg.cseq.number} {msg.cseq.method}")
                    if fut is not None and not fut.done() and msg.status >= 200:
                        fut.set_result(msg)
                elif msg.method == "INFO":
                    self.event_bodies.append(msg.body)
                    decoded = decode(msg.body)
                    assert isinstance(decoded, CstaMessage | CSTAErrorCode)
                    self.events.put_nowait(decoded)
                    if self.answer_events:
                        self._send(build_response(msg, 200))
                elif msg.method == "BYE":
                    self.byes += 1
                    self._send(build_response(msg, 200))

    async def close(self) -> None:
        if self._writer is not None:
            self._writer.close()
            with contextlib.suppress(ConnectionError):
                await self._writer.wait_closed()
        if self._reader_task is not None:
            self._reader_task.cancel()
            with contextlib.suppress(asyncio.CancelledError, ConnectionError):
                await self._reader_task
