"""One session of the JSON face over WebSocket: login, requests and their
responses, the event frames in order, and resuming after a dropped
connection without losing or repeating an event."""

from __future__ import annotations

import asyncio
import contextlib
import itertools
import json
import ssl
from collections.abc import AsyncIterator, Sequence
from types import TracebackType
from typing import Any, Self

from websockets.asyncio.client import ClientConnection, connect
from websockets.exceptions import ConnectionClosed
from websockets.protocol import State

from .events import LoginError, SessionLost


class _Lost:
    """The reader of ``ws`` saw its connection end."""

    def __init__(self, ws: ClientConnection | None) -> None:
        self.ws = ws  # None: the session was closed


class Session:
    """The WebSocket conversation, frames as JSON objects."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reconnect_for: float = 30.0,
        request_timeout: float = 30.0,
        other_urls: Sequence[str] = (),
    ) -> None:
        self.url = url
        # the other nodes of a cluster: a resume tries them in turn when this
        # node does not answer (the session resumes on any of them)
        self.urls = [url, *other_urls]
        self.user = user
        self.password = password
        self.ssl_context = ssl_context
        self.reconnect_for = reconnect_for
        self.request_timeout = request_timeout
        self.session: str | None = None
        self.last_seq = 0
        self._ws: ClientConnection | None = None
        self._ids = itertools.count(1)
        self._waiting: dict[int, asyncio.Future[dict[str, Any]]] = {}
        self._frames: asyncio.Queue[dict[str, Any] | _Lost | BaseException] = asyncio.Queue()
        self._reader: asyncio.Task[None] | None = None
        self._closing = False
        self._resuming: asyncio.Lock | None = None

    async def connect(self, *, resume: bool = False) -> None:
        ws = await connect(self.url, ssl=self.ssl_context, max_size=2**22)
        login: dict[str, Any] = {"op": "login", "user": self.user, "password": self.password}
        if resume and self.session is not None:
            login["resume"] = {"session": self.session, "seq": self.last_seq}
        await ws.send(json.dumps(login))
        welcome = json.loads(await ws.recv())
        if welcome.get("op") != "welcome":
            await ws.close()
            reason = welcome.get("reason", "refused")
            if resume:
                raise SessionLost(reason)
            raise LoginError(reason)
        self.session = welcome["session"]
        if not resume:
            self.last_seq = int(welcome["seq"])
        self._closing = False
        self._ws = ws
        self._reader = asyncio.get_running_loop().create_task(self._read(ws))

    async def reconnect(self) -> None:
        """A new session after SessionLost (monitors must be started again)."""
        self.session = None
        self._frames = asyncio.Queue()
        await self.connect()

    async def close(self) -> None:
        """Log out: the server ends the session and stops its monitors."""
        self._closing = True
        if self._ws is not None:
            with contextlib.suppress(ConnectionClosed):
                await self._ws.send(json.dumps({"op": "logout"}))
            await self._ws.close()
        if self._reader is not None:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await self._reader
        self._frames.put_nowait(_Lost(None))  # ends frames()

    async def drop(self) -> None:
        """Close the connection without logging out (the session waits for a resume)."""
        if self._ws is not None:
            await self._ws.close()

    async def leave(self) -> None:
        """Close the connection without logging out and without resuming:
        the server keeps the session for its resume window, then ends it."""
        self._closing = True
        await self.drop()

    async def _read(self, ws: ClientConnection) -> None:
        try:
            async for raw in ws:
                data = json.loads(raw)
                op = data.get("op")
                if op == "event":
                    self._frames.put_nowait(data)
                elif op in ("response", "error") and data.get("id") in self._waiting:
                    fut = self._waiting.pop(data["id"])
                    if not fut.done():
                        fut.set_result(data)
                elif op == "error":
                    self._frames.put_nowait(SessionLost(data.get("reason", "error")))
        except ConnectionClosed:
            pass
        finally:
            for fut in self._waiting.values():
                if not fut.done():
                    fut.set_exception(ConnectionError("connection to the server lost"))
            self._waiting.clear()
            if not self._closing:
                self._frames.put_nowait(_Lost(ws))

    async def _ensure(self) -> None:
        """An open connection: resumed when the last one was lost (once, for
        the event reader and the requests alike)."""
        if self._resuming is None:
            self._resuming = asyncio.Lock()
        async with self._resuming:
            if self._ws is not None and self._ws.state is State.OPEN:
                return
            if self._closing or self.session is None:
                raise ConnectionError("not connected")
            await self._resume()

    async def _resume(self) -> None:
        deadline = asyncio.get_running_loop().time() + self.reconnect_for
        delay = 0.1
        tries = 0
        while True:
            try:
                await self.connect(resume=True)
                return
            except (OSError, ConnectionClosed, TimeoutError) as exc:
                if asyncio.get_running_loop().time() + delay > deadline:
                    raise SessionLost(f"could not reconnect: {exc}") from exc
                tries += 1
                self.url = self.urls[tries % len(self.urls)]  # the next node, if any
                if tries % len(self.urls) == 0:
                    await asyncio.sleep(delay)
                    delay = min(delay * 2, 2.0)

    async def frames(self) -> AsyncIterator[dict[str, Any]]:
        """Every event frame, in order, each once; reconnects and resumes by itself."""
        while True:
            item = await self._frames.get()
            if isinstance(item, dict):
                seq = int(item["seq"])
                if seq <= self.last_seq:
                    continue  # already seen before a resume
                self.last_seq = seq
                yield item
            elif isinstance(item, _Lost):
                if self._closing:
                    return
                if item.ws is self._ws:  # not one a request has resumed already
                    await self._ensure()
            else:
                raise item

    async def request(self, csta: dict[str, Any]) -> dict[str, Any]:
        """Send a CSTA request (JSON); the response frame (``csta``, ``call``,
        ``request``), or ValueError when the server could not take it."""
        await self._ensure()
        assert self._ws is not None
        rid = next(self._ids)
        fut: asyncio.Future[dict[str, Any]] = asyncio.get_running_loop().create_future()
        self._waiting[rid] = fut
        await self._ws.send(json.dumps({"op": "request", "id": rid, "csta": csta}))
        data = await asyncio.wait_for(fut, self.request_timeout)
        if data.get("op") == "error":
            raise ValueError(data.get("reason"))
        return data


class Linked:
    """A client over one :class:`Session`: logging in, resuming, logging out.
    The friendly :class:`~uacsta_client.Client` is one; so is any client
    with messages of its own over the same JSON face."""

    def __init__(
        self,
        url: str,
        user: str,
        password: str,
        *,
        ssl_context: ssl.SSLContext | None = None,
        reconnect_for: float = 30.0,
        request_timeout: float = 30.0,
        other_urls: Sequence[str] = (),
    ) -> None:
        self.link = Session(
            url,
            user,
            password,
            ssl_context=ssl_context,
            reconnect_for=reconnect_for,
            request_timeout=request_timeout,
            other_urls=other_urls,
        )

    @property
    def session_id(self) -> str | None:
        """The server's ID of this session (what a resume names)."""
        return self.link.session

    async def __aenter__(self) -> Self:
        await self.connect()
        return self

    async def __aexit__(
        self, et: type[BaseException] | None, e: BaseException | None, tb: TracebackType | None
    ) -> None:
        await self.close()

    async def connect(self) -> None:
        await self.link.connect()

    async def close(self) -> None:
        """Log out: the server ends the session and stops its monitors."""
        await self.link.close()

    async def drop(self) -> None:
        """Lose the connection without logging out (the session resumes)."""
        await self.link.drop()

    async def leave(self) -> None:
        """Lose the connection and do not resume (the server ends the session
        after its resume window)."""
        await self.link.leave()

    async def reconnect(self) -> None:
        """A new session after SessionLost; start the monitors again."""
        await self.link.reconnect()
