"""The JSON face: every CSTA service and event over a WebSocket, and REST for
devices, snapshots and the common call controls (for scripts and ``curl``).

Messages are the CSTA messages of :mod:`uacsta.csta.jsonform`.  The WebSocket
conversation (``/api/v1/ws``):

* client: ``{"op": "login", "user": ..., "password": ...}``, or to pick up a
  session after a dropped connection ``{"op": "login", ..., "resume":
  {"session": ..., "seq": <last event seen>}}``;
* server: ``{"op": "welcome", "session": ..., "seq": ...}``;
* client: ``{"op": "request", "id": <any>, "csta": {...}}``, answered by
  ``{"op": "response", "id": <same>, "csta": {...}}`` (a CSTAErrorCode
  when the request failed);
* server: ``{"op": "event", "seq": n, "csta": {...}}``, n counting up by one;
* client: ``{"op": "logout"}`` ends the session at once (monitors stopped);
  a dropped connection keeps it for the resume window.

Anything malformed is answered with ``{"op": "error", "id": ..., "reason":
...}`` and the conversation goes on.
"""

# No "from __future__ import annotations" here: FastAPI reads the route
# signatures at run time, and their dependency aliases are local names.
import asyncio
import contextlib
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Annotated, Any

from fastapi import Depends, FastAPI, HTTPException, Request, WebSocket, WebSocketDisconnect
from fastapi.responses import JSONResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from pydantic import BaseModel, Field

from .. import __version__
from ..core.client_session import ClientClosed, ClientSession, FaceKind, ResumeError
from ..core.devices import Device
from ..core.switching import Answer, DeviceState, SwitchingFunction
from ..csta import model as m
from ..csta.errors import CSTAErrorCode, ErrorCategory
from ..csta.jsonform import JsonFormError, from_json, load_bounded, to_json
from ..csta.types import ConnectionID, DeviceID, ForwardingType
from ..logs import request_id
from ..net.apidocs import add_api_docs
from ..net.asgi import BoundedJson, SecurityHeaders
from ..settings import ClientConnection
from .logins import ClientLogins

log = logging.getLogger("uacsta.faces")
LOGIN_TIMEOUT = 10.0
REQUEST_ID_HEADER = "X-Request-ID"  # the server's correlation ID of a request
# Services that need an event stream: only over the WebSocket.
STREAM_ONLY = (m.MonitorStart, m.MonitorStop, m.GetSwitchingFunctionDevices, m.SystemRegister)


class DeviceInfo(BaseModel):
    device: str = Field(description="The device identifier as its phone reports it")
    number: str
    mac: str = Field(description="MAC address (or handset ID) of the phone that owns it")
    vendor: str
    online: bool = Field(description="The phone's uaCSTA dialog is up: the device is controllable")
    monitored: bool = Field(description="A monitor runs in the phone for this device")


class CallTo(BaseModel):
    to: str = Field(min_length=1, max_length=256, description="Number or SIP URI to call")


class Digits(BaseModel):
    digits: str = Field(min_length=1, max_length=64, pattern=r"^[0-9*#A-Da-d,]+$")


class OnOff(BaseModel):
    on: bool


class ForwardingChange(BaseModel):
    type: ForwardingType = ForwardingType.FORWARD_IMMEDIATE
    on: bool
    to: str | None = Field(None, min_length=1, max_length=256)
    ring_count: int | None = Field(None, ge=1, le=99)


def _http_status(error: CSTAErrorCode) -> int:
    if error.value in ("invalidDeviceID", "invalidCallID", "invalidConnectionID"):
        return 404
    if error.value == "serviceNotSupported":
        return 501
    if error.category in (
        ErrorCategory.SYSTEM_RESOURCE_AVAILABILITY,
        ErrorCategory.PERFORMANCE_MANAGEMENT,
    ):
        return 503
    if error.category is ErrorCategory.STATE_INCOMPATIBILITY:
        return 409
    return 400


def create_app(
    sf: SwitchingFunction,
    logins: ClientLogins,
    settings: Callable[[], ClientConnection],
) -> FastAPI:
    app = FastAPI(
        title="uacsta client API",
        version=__version__,
        description="CSTA services, responses and events as JSON (ECMA-269/323 names). "
        "REST for devices, snapshots and common call controls; the WebSocket at "
        "/api/v1/ws carries every service and event.",
        docs_url=None,
        openapi_url="/api/v1/openapi.json",
        redoc_url=None,
    )
    add_api_docs(
        app, docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json", title="uacsta client API"
    )
    app.add_middleware(BoundedJson)
    app.add_middleware(SecurityHeaders)
    basic = HTTPBasic(realm="uacsta")

    async def login(
        request: Request, creds: Annotated[HTTPBasicCredentials, Depends(basic)]
    ) -> ClientSession:
        source = request.client.host if request.client else "?"
        rights = logins.check_password(creds.username, creds.password, source, "rest")
        if rights is None:
            raise HTTPException(
                401, "wrong client login or password", {"WWW-Authenticate": 'Basic realm="uacsta"'}
            )
        return ClientSession(creds.username, FaceKind.JSON, rights, peer=source)

    Client = Annotated[ClientSession, Depends(login)]

    def answer(result: Answer) -> JSONResponse:
        # The request's correlation ID, for the client to quote to support.
        headers = {REQUEST_ID_HEADER: request_id.get()}
        if isinstance(result, CSTAErrorCode):
            return JSONResponse(
                {"error": to_json(result), "detail": str(result)},
                _http_status(result),
                headers=headers,
            )
        return JSONResponse(to_json(result), headers=headers)

    def info(state: DeviceState) -> DeviceInfo:
        return DeviceInfo(
            device=state.device.id.value,
            number=state.device.number,
            mac=state.device.mac,
            vendor=state.vendor,
            online=state.online,
            monitored=state.monitored,
        )

    def find(client: ClientSession, spelling: str) -> Device:
        device = sf.find_device(spelling, client)
        if device is None:
            raise HTTPException(404, f"no device {spelling!r}")
        return device

    async def call(client: ClientSession, msg: m.CstaMessage) -> JSONResponse:
        return answer(await sf.request(client, msg))

    def conn(device: Device, call_id: str) -> ConnectionID:
        return ConnectionID(call_id, device.id)

    @app.get("/api/v1/devices", response_model=list[DeviceInfo], tags=["devices"])
    async def devices(client: Client) -> list[DeviceInfo]:
        """Every device the login may use, with whether it is controllable now."""
        return [info(s) for s in sf.device_states(client)]

    @app.get("/api/v1/devices/{device}", response_model=DeviceInfo, tags=["devices"])
    async def device_info(device: str, client: Client) -> DeviceInfo:
        return info(sf.device_state(find(client, device)))

    @app.get("/api/v1/devices/{device}/snapshot", tags=["devices"])
    async def snapshot(device: str, client: Client) -> JSONResponse:
        """SnapshotDevice: the device's calls and their states."""
        d = find(client, device)
        return await call(client, m.SnapshotDevice(snapshotObject=d.id))

    @app.post("/api/v1/devices/{device}/calls", tags=["calls"])
    async def make_call(device: str, body: CallTo, client: Client) -> JSONResponse:
        """MakeCall from the device to a number."""
        d = find(client, device)
        return await call(
            client, m.MakeCall(callingDevice=d.id, calledDirectoryNumber=DeviceID(body.to))
        )

    @app.post("/api/v1/devices/{device}/calls/{call_id}/answer", tags=["calls"])
    async def answer_call(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.AnswerCall(callToBeAnswered=conn(d, call_id)))

    @app.post("/api/v1/devices/{device}/calls/{call_id}/clear", tags=["calls"])
    async def clear(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.ClearConnection(connectionToBeCleared=conn(d, call_id)))

    @app.post("/api/v1/devices/{device}/calls/{call_id}/hold", tags=["calls"])
    async def hold(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.HoldCall(callToBeHeld=conn(d, call_id)))

    @app.post("/api/v1/devices/{device}/calls/{call_id}/retrieve", tags=["calls"])
    async def retrieve(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.RetrieveCall(callToBeRetrieved=conn(d, call_id)))

    @app.post("/api/v1/devices/{device}/calls/{call_id}/deflect", tags=["calls"])
    async def deflect(device: str, call_id: str, body: CallTo, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(
            client,
            m.DeflectCall(callToBeDiverted=conn(d, call_id), newDestination=DeviceID(body.to)),
        )

    @app.post("/api/v1/devices/{device}/calls/{call_id}/transfer", tags=["calls"])
    async def transfer(device: str, call_id: str, body: CallTo, client: Client) -> JSONResponse:
        """SingleStepTransferCall of the call to a number."""
        d = find(client, device)
        return await call(
            client,
            m.SingleStepTransferCall(activeCall=conn(d, call_id), transferredTo=DeviceID(body.to)),
        )

    @app.post("/api/v1/devices/{device}/calls/{call_id}/digits", tags=["calls"])
    async def digits(device: str, call_id: str, body: Digits, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(
            client,
            m.GenerateDigits(connectionToSendDigits=conn(d, call_id), charactersToSend=body.digits),
        )

    _feature_routes(app, Client, find, call)

    @app.websocket("/api/v1/ws")
    async def websocket(ws: WebSocket) -> None:
        await WebSocketConversation(ws, sf, logins, settings).run()

    return app


def _feature_routes(
    app: FastAPI,
    Client: Any,
    find: Callable[[ClientSession, str], Device],
    call: Callable[[ClientSession, m.CstaMessage], Awaitable[JSONResponse]],
) -> None:
    """Do not disturb, forwarding, message waiting, and any CSTA request as JSON."""

    @app.get("/api/v1/devices/{device}/dnd", tags=["features"])
    async def get_dnd(device: str, client: Client) -> JSONResponse:
        return await call(client, m.GetDoNotDisturb(device=find(client, device).id))

    @app.put("/api/v1/devices/{device}/dnd", tags=["features"])
    async def set_dnd(device: str, body: OnOff, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.SetDoNotDisturb(device=d.id, doNotDisturbOn=body.on))

    @app.get("/api/v1/devices/{device}/forwarding", tags=["features"])
    async def get_forwarding(device: str, client: Client) -> JSONResponse:
        return await call(client, m.GetForwarding(device=find(client, device).id))

    @app.put("/api/v1/devices/{device}/forwarding", tags=["features"])
    async def set_forwarding(device: str, body: ForwardingChange, client: Client) -> JSONResponse:
        d = find(client, device)
        if body.on and body.to is None:
            raise HTTPException(422, "forwarding on needs a destination ('to')")
        return await call(
            client,
            m.SetForwarding(
                device=d.id,
                forwardingType=body.type,
                activateForward=body.on,
                forwardDN=DeviceID(body.to) if body.to else None,
                ringCount=body.ring_count,
            ),
        )

    @app.get("/api/v1/devices/{device}/mwi", tags=["features"])
    async def get_mwi(device: str, client: Client) -> JSONResponse:
        return await call(client, m.GetMessageWaitingIndicator(device=find(client, device).id))

    @app.put("/api/v1/devices/{device}/mwi", tags=["features"])
    async def set_mwi(device: str, body: OnOff, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(
            client, m.SetMessageWaitingIndicator(device=d.id, messageWaitingOn=body.on)
        )

    @app.post("/api/v1/csta", tags=["csta"])
    async def csta(body: dict[str, Any], client: Client) -> JSONResponse:
        """Any CSTA request as JSON (services that report events, such as
        MonitorStart, need the WebSocket)."""
        try:
            msg = from_json(body)
        except JsonFormError as exc:
            raise HTTPException(422, str(exc)) from None
        if isinstance(msg, STREAM_ONLY):
            raise HTTPException(400, f"{msg.root()} needs the WebSocket (/api/v1/ws)")
        if isinstance(msg, CSTAErrorCode) or msg.KIND is not m.Kind.REQUEST:
            raise HTTPException(422, "not a CSTA request")
        return await call(client, msg)


def event_json(event: m.CstaMessage) -> str:
    return json.dumps(to_json(event), separators=(",", ":"))


class WebSocketConversation:
    def __init__(
        self,
        ws: WebSocket,
        sf: SwitchingFunction,
        logins: ClientLogins,
        settings: Callable[[], ClientConnection],
    ) -> None:
        self.ws = ws
        self.sf = sf
        self.logins = logins
        self.settings = settings
        self.client: ClientSession | None = None
        self._send_lock = asyncio.Lock()
        self._requests: set[asyncio.Task[None]] = set()
        self.peer = f"{ws.client.host}:{ws.client.port}" if ws.client else "?"

    async def send(self, data: dict[str, Any]) -> None:
        async with self._send_lock:
            await self.ws.send_json(data)

    async def run(self) -> None:
        await self.ws.accept()
        try:
            self.client = await self._login()
        except (WebSocketDisconnect, TimeoutError, ValueError, KeyError):
            return
        if self.client is None:
            return
        client = self.client
        writer = asyncio.get_running_loop().create_task(self._write_events(client))
        logged_out = False
        reason = "connection closed"
        try:
            logged_out = await self._read(client)
        except WebSocketDisconnect as exc:
            reason = f"connection closed ({exc.code})"
        finally:
            writer.cancel()
            for task in list(self._requests):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await writer
            if logged_out:
                self.sf.logout(client, "logged out")
            elif client.closed_because is not None:
                self.sf.logout(client, client.closed_because)
            else:
                self.sf.detach(client, reason, keep=True)

    async def _login(self) -> ClientSession | None:
        try:
            first = await asyncio.wait_for(self._receive_json(), LOGIN_TIMEOUT)
        except JsonFormError as exc:
            await self._refuse(str(exc))
            return None
        if not isinstance(first, dict) or first.get("op") != "login":
            await self._refuse('the first message must be {"op": "login", ...}')
            return None
        user, password = first.get("user"), first.get("password")
        if not isinstance(user, str) or not isinstance(password, str):
            await self._refuse("login needs user and password")
            return None
        source = self.ws.client.host if self.ws.client else "?"
        rights = self.logins.check_password(user, password, source, "websocket")
        if rights is None:
            await self._refuse("wrong client login or password", code=4401)
            return None
        resume = first.get("resume")
        conf = self.settings()
        if isinstance(resume, dict):
            try:
                client = self.sf.resume(user, str(resume.get("session")), int(resume.get("seq", 0)))
            except (ResumeError, ValueError, TypeError) as exc:
                await self._refuse(f"cannot resume: {exc}", code=4409)
                return None
            client.rights = rights
            seq = int(resume.get("seq", 0))
        else:
            client = self.sf.attach(
                user,
                FaceKind.JSON,
                rights,
                peer=self.peer,
                max_queue=conf.max_queued_events,
                encode=event_json,
            )
            seq = client.last_seq
        await self.send({"op": "welcome", "session": client.id, "seq": seq})
        return client

    async def _receive_json(self) -> Any:
        """The next message as JSON, size and nesting bounded (JsonFormError)."""
        message = await self.ws.receive()
        if message["type"] == "websocket.disconnect":
            raise WebSocketDisconnect(message.get("code", 1000))
        text = message.get("text")
        return load_bounded(text if text is not None else message.get("bytes") or b"")

    async def _refuse(self, reason: str, code: int = 4400) -> None:
        log.info("WebSocket client %s refused: %s", self.peer, reason)
        with contextlib.suppress(Exception):
            await self.send({"op": "error", "reason": reason})
            await self.ws.close(code, reason[:120])

    async def _write_events(self, client: ClientSession) -> None:
        try:
            async for item in client.events():
                frame = f'{{"op":"event","seq":{item.seq},"csta":{item.payload!s}}}'
                async with self._send_lock:
                    await self.ws.send_text(frame)
        except ClientClosed as exc:
            with contextlib.suppress(Exception):
                await self.send({"op": "error", "reason": f"session closed: {exc}"})
                await self.ws.close(4429 if "slow" in str(exc) else 1000, str(exc)[:120])
        except (WebSocketDisconnect, RuntimeError, OSError):
            return  # the reader notices too

    async def _read(self, client: ClientSession) -> bool:
        """Read the client's messages; True when it logged out."""
        while True:
            try:
                data = await self._receive_json()
            except JsonFormError as exc:
                await self.send({"op": "error", "reason": str(exc)})
                continue
            if not isinstance(data, dict):
                await self.send({"op": "error", "reason": "expected a JSON object"})
                continue
            op = data.get("op")
            if op == "logout":
                return True
            if op != "request":
                reason = f"unknown op {op!r}"
                await self.send({"op": "error", "id": data.get("id"), "reason": reason})
                continue
            task = asyncio.get_running_loop().create_task(self._request(client, data))
            self._requests.add(task)
            task.add_done_callback(self._requests.discard)

    async def _request(self, client: ClientSession, data: dict[str, Any]) -> None:
        try:
            await self._answer(client, data)
        except Exception:
            # A bug here must not pass silently (nor end the client's session):
            # the traceback goes to the JSON log, the client gets an error.
            log.exception("request %r from %s failed", data.get("id"), client.tag)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.send(
                    {
                        "op": "error",
                        "id": data.get("id"),
                        "request": request_id.get(),
                        "reason": "internal error (logged on the server)",
                    }
                )

    async def _answer(self, client: ClientSession, data: dict[str, Any]) -> None:
        rid = data.get("id")
        try:
            msg = from_json(data.get("csta"))
        except JsonFormError as exc:
            await self.send({"op": "error", "id": rid, "reason": str(exc)})
            return
        if isinstance(msg, CSTAErrorCode) or msg.KIND is not m.Kind.REQUEST:
            await self.send({"op": "error", "id": rid, "reason": "not a CSTA request"})
            return
        log.debug("request %s from %s: %s", rid, client.tag, msg, extra={"tag": client.tag})
        result = await self.sf.request(client, msg)
        log.debug("answer %s to %s: %s", rid, client.tag, result, extra={"tag": client.tag})
        with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
            await self.send(
                {"op": "response", "id": rid, "request": request_id.get(), "csta": to_json(result)}
            )
        client.release()
