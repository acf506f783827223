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
from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Annotated, Any

from fastapi import (
    Depends,
    FastAPI,
    Header,
    HTTPException,
    Request,
    WebSocket,
    WebSocketDisconnect,
)
from fastapi.exceptions import RequestValidationError
from fastapi.openapi.utils import get_openapi
from fastapi.responses import JSONResponse, RedirectResponse, StreamingResponse
from fastapi.security import HTTPBasic, HTTPBasicCredentials
from fastapi.staticfiles import StaticFiles
from pydantic import BaseModel, Field
from starlette.exceptions import HTTPException as StarletteHTTPException

from .. import __version__
from ..core.client_session import ClientClosed, ClientSession, FaceKind, ResumeError, Sequenced
from ..core.devices import Device, DeviceRights
from ..core.switching import Answer, DeviceState, SwitchingFunction
from ..csta import model as m
from ..csta.errors import CSTAErrorCode, ErrorCategory
from ..csta.jsonform import JsonFormError, from_json, load_bounded, to_json
from ..csta.schema import REF as SCHEMAS
from ..csta.schema import components, message_names
from ..csta.types import ConnectionID, DeviceID, ForwardingType
from ..logs import request_id
from ..net.apidocs import add_api_docs
from ..net.asgi import BoundedJson, SecurityHeaders
from ..settings import ClientConnection
from . import asyncapi
from .logins import ClientLogins
from .webhooks import MAX_DEVICES, WebhookError, Webhooks

log = logging.getLogger("uacsta.faces")
LOGIN_TIMEOUT = 10.0
REQUEST_ID_HEADER = "X-Request-ID"  # the server's correlation ID of a request
SWITCHBOARD = Path(__file__).with_name("switchboard")
CALL_HEADER = "X-Call-Reference"  # the server's reference of the call a response names
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


class ErrorBody(BaseModel):
    """Every refusal of the REST face, whatever refused it."""

    error: str | dict[str, Any] = Field(
        description="A CSTAErrorCode in JSON form when the switching function or the phone "
        "refused (e.g. {'type': 'CSTAErrorCode', 'category': 'operation', 'value': "
        "'invalidDeviceID'}); else a short code: badRequest, unauthorized, forbidden, notFound, "
        "conflict, tooLarge, badJson, invalidRequest, notSupported, unavailable"
    )
    detail: str = Field(description="What was wrong, in words")
    fields: list[dict[str, Any]] | None = Field(
        None, description="For invalidRequest: each field that was wrong, and why"
    )


ERROR_CODES = {
    400: "badRequest",
    401: "unauthorized",
    403: "forbidden",
    404: "notFound",
    405: "methodNotAllowed",
    409: "conflict",
    413: "tooLarge",
    422: "invalidRequest",
    501: "notSupported",
    503: "unavailable",
}
ERROR_RESPONSES: dict[int | str, dict[str, Any]] = {
    status: {"model": ErrorBody, "description": text}
    for status, text in (
        (400, "A malformed request (badJson: not JSON or nested too deep), or a CSTA refusal"),
        (401, "No client login, or a wrong one"),
        (403, "Not allowed by the server's settings (e.g. a webhook address)"),
        (404, "No such device for this login (invalidDeviceID), or no such call"),
        (409, "The call is not in a state for this (stateIncompatibility)"),
        (413, "The body is larger than 64 KiB"),
        (422, "A field is missing or wrong (invalidRequest, with fields)"),
        (501, "The phone's vendor lacks this service (serviceNotSupported)"),
        (503, "The phone is out of service or did not answer in time"),
    )
}


def answers(request: str | None = None) -> dict[int | str, dict[str, Any]]:
    """The 200 answer of a route: the CSTA response to ``request`` (ECMA-323
    names it ``<request>Response``), or any response; schemas from the model."""
    schema: dict[str, Any] = (
        {"$ref": f"{SCHEMAS}{request}Response"}
        if request
        else {"oneOf": [{"$ref": SCHEMAS + n} for n in message_names(m.Kind.RESPONSE)]}
    )
    return {
        200: {
            "description": "The CSTA response",
            "content": {"application/json": {"schema": schema}},
        }
    }


class CstaRefusal(Exception):
    """A request refused with a CSTAErrorCode before it reached a phone."""

    def __init__(self, error: CSTAErrorCode, detail: str) -> None:
        super().__init__(detail)
        self.error, self.detail = error, detail


def _refusal(
    error: CSTAErrorCode, detail: str, headers: dict[str, str] | None = None
) -> JSONResponse:
    """The error body of a CSTA refusal, with the status it maps to."""
    return JSONResponse(
        {"error": to_json(error), "detail": detail}, _http_status(error), headers=headers
    )


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
    webhooks: Webhooks | None = None,
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
        responses=ERROR_RESPONSES,
    )
    add_api_docs(
        app, docs_url="/api/v1/docs", openapi_url="/api/v1/openapi.json", title="uacsta client API"
    )

    _error_handlers(app)
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
            return _refusal(result, str(result), headers)
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
            raise CstaRefusal(CSTAErrorCode.operation("invalidDeviceID"), f"no device {spelling!r}")
        return device

    async def call(client: ClientSession, msg: m.CstaMessage) -> JSONResponse:
        result = await sf.request(client, msg)
        response = answer(result)
        reference = sf.response_call(msg, result)
        if reference:
            response.headers[CALL_HEADER] = reference
        return response

    @app.get("/api/v1/devices", response_model=list[DeviceInfo], tags=["devices"])
    async def devices(client: Client) -> list[DeviceInfo]:
        """Every device the login may use, with whether it is controllable now."""
        return [info(s) for s in sf.device_states(client)]

    @app.get("/api/v1/devices/{device}", response_model=DeviceInfo, tags=["devices"])
    async def device_info(device: str, client: Client) -> DeviceInfo:
        return info(sf.device_state(find(client, device)))

    @app.get(
        "/api/v1/devices/{device}/snapshot", tags=["devices"], responses=answers("SnapshotDevice")
    )
    async def snapshot(device: str, client: Client) -> JSONResponse:
        """SnapshotDevice: the device's calls and their states."""
        d = find(client, device)
        return await call(client, m.SnapshotDevice(snapshotObject=d.id))

    @app.post("/api/v1/devices/{device}/calls", tags=["calls"], responses=answers("MakeCall"))
    async def make_call(device: str, body: CallTo, client: Client) -> JSONResponse:
        """MakeCall from the device to a number."""
        d = find(client, device)
        return await call(
            client, m.MakeCall(callingDevice=d.id, calledDirectoryNumber=DeviceID(body.to))
        )

    _call_routes(app, Client, find, call)
    _feature_routes(app, Client, find, call)
    _event_routes(app, Client, sf, settings)
    if webhooks is not None:
        _webhook_routes(app, Client, webhooks)
    _with_csta_schemas(app)

    @app.websocket("/api/v1/ws")
    async def websocket(ws: WebSocket) -> None:
        await WebSocketConversation(ws, sf, logins, settings).run()

    # The receptionist console: static files on the WebSocket face, nothing else.
    @app.get("/switchboard", include_in_schema=False)
    async def switchboard() -> RedirectResponse:
        return RedirectResponse("/switchboard/", 308)

    app.mount("/switchboard", StaticFiles(directory=SWITCHBOARD, html=True), name="switchboard")
    return app


def _error_handlers(app: FastAPI) -> None:
    # One error body for every refusal (docs/clients.md), never FastAPI's bare
    # {"detail": ...}.
    @app.exception_handler(StarletteHTTPException)
    async def http_error(request: Request, exc: StarletteHTTPException) -> JSONResponse:
        return JSONResponse(
            {"error": ERROR_CODES.get(exc.status_code, "error"), "detail": str(exc.detail)},
            exc.status_code,
            headers=exc.headers,
        )

    @app.exception_handler(RequestValidationError)
    async def invalid(request: Request, exc: RequestValidationError) -> JSONResponse:
        fields = [
            {"field": ".".join(str(p) for p in e.get("loc", ())), "reason": str(e.get("msg"))}
            for e in exc.errors()
        ]
        detail = "; ".join(f"{f['field']}: {f['reason']}" for f in fields)
        return JSONResponse({"error": "invalidRequest", "detail": detail, "fields": fields}, 422)

    @app.exception_handler(CstaRefusal)
    async def refused(request: Request, exc: CstaRefusal) -> JSONResponse:
        return _refusal(exc.error, exc.detail)


def _call_routes(
    app: FastAPI,
    Client: Any,
    find: Callable[[ClientSession, str], Device],
    call: Callable[[ClientSession, m.CstaMessage], Awaitable[JSONResponse]],
) -> None:
    """The common call controls on a call the device is in."""

    def conn(device: Device, call_id: str) -> ConnectionID:
        return ConnectionID(call_id, device.id)

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/answer",
        tags=["calls"],
        responses=answers("AnswerCall"),
    )
    async def answer_call(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.AnswerCall(callToBeAnswered=conn(d, call_id)))

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/clear",
        tags=["calls"],
        responses=answers("ClearConnection"),
    )
    async def clear(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.ClearConnection(connectionToBeCleared=conn(d, call_id)))

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/hold",
        tags=["calls"],
        responses=answers("HoldCall"),
    )
    async def hold(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.HoldCall(callToBeHeld=conn(d, call_id)))

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/retrieve",
        tags=["calls"],
        responses=answers("RetrieveCall"),
    )
    async def retrieve(device: str, call_id: str, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.RetrieveCall(callToBeRetrieved=conn(d, call_id)))

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/deflect",
        tags=["calls"],
        responses=answers("DeflectCall"),
    )
    async def deflect(device: str, call_id: str, body: CallTo, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(
            client,
            m.DeflectCall(callToBeDiverted=conn(d, call_id), newDestination=DeviceID(body.to)),
        )

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/transfer",
        tags=["calls"],
        responses=answers("SingleStepTransferCall"),
    )
    async def transfer(device: str, call_id: str, body: CallTo, client: Client) -> JSONResponse:
        """SingleStepTransferCall of the call to a number."""
        d = find(client, device)
        return await call(
            client,
            m.SingleStepTransferCall(activeCall=conn(d, call_id), transferredTo=DeviceID(body.to)),
        )

    @app.post(
        "/api/v1/devices/{device}/calls/{call_id}/digits",
        tags=["calls"],
        responses=answers("GenerateDigits"),
    )
    async def digits(device: str, call_id: str, body: Digits, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(
            client,
            m.GenerateDigits(connectionToSendDigits=conn(d, call_id), charactersToSend=body.digits),
        )


def _with_csta_schemas(app: FastAPI) -> None:
    """The OpenAPI document with every CSTA message's schema (from the model)
    beside FastAPI's own, so that the answers' references resolve; and the
    WebSocket face's AsyncAPI document from the same schemas."""

    @app.get("/api/v1/asyncapi.json", include_in_schema=False)
    async def asyncapi_document() -> dict[str, Any]:
        return asyncapi.document()

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            doc = get_openapi(
                title=app.title,
                version=app.version,
                description=app.description,
                routes=app.routes,
            )
            schemas = doc.setdefault("components", {}).setdefault("schemas", {})
            for name, schema in components().items():
                schemas.setdefault(name, schema)
            app.openapi_schema = doc
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


class WebhookRequest(BaseModel):
    url: str = Field(
        min_length=1,
        max_length=2048,
        description="Where to post: under one of the server's webhook targets",
    )
    devices: list[str] = Field(
        min_length=1, max_length=MAX_DEVICES, description="Devices to monitor"
    )


def _webhook_routes(app: FastAPI, Client: Any, webhooks: Webhooks) -> None:
    """Webhooks: a login's devices' events posted to its URL (``webhooks.py``)."""

    @app.post("/api/v1/webhooks", status_code=201, tags=["events"])
    async def subscribe(body: WebhookRequest, client: Client) -> dict[str, Any]:
        """Start posting the events of these devices to the URL. The answer
        holds the key that signs each post (``X-Uacsta-Signature: sha256=HMAC``),
        shown this once."""
        try:
            delivery = await webhooks.subscribe(client, body.url, body.devices)
        except WebhookError as exc:
            raise HTTPException(exc.status, str(exc)) from None
        return delivery.as_json(key=True)

    @app.get("/api/v1/webhooks", tags=["events"])
    async def subscriptions(client: Client) -> list[dict[str, Any]]:
        """The login's webhooks, each with what was delivered, retried and given up."""
        return [d.as_json() for d in webhooks.of(client.login)]

    @app.delete("/api/v1/webhooks/{hook_id}", status_code=204, tags=["events"])
    async def unsubscribe(hook_id: str, client: Client) -> None:
        if not await webhooks.remove(client.login, hook_id):
            raise HTTPException(404, f"no webhook {hook_id!r} of this login")


def _event_routes(
    app: FastAPI,
    Client: Any,
    sf: SwitchingFunction,
    settings: Callable[[], ClientConnection],
) -> None:
    """Monitoring over HTTP: Server-Sent Events."""

    @app.get(
        "/api/v1/events",
        tags=["events"],
        response_class=StreamingResponse,
        responses={200: {"content": {"text/event-stream": {}}, "description": "The events"}},
    )
    async def events(
        request: Request,
        client: Client,
        devices: str = "",
        last_event_id: Annotated[str | None, Header()] = None,
    ) -> StreamingResponse:
        """Monitor over HTTP: Server-Sent Events of the devices given
        (``devices=201,202``; a MonitorStart each, shared with every other
        client as always), each ``id: SESSION.SEQ``, ``event: csta`` and the
        event in JSON form. A reconnect with ``Last-Event-ID`` (browsers send
        it by themselves) resumes the session within the resume window: the
        events after it come again, none lost, none twice. The first event,
        ``welcome``, names the session and the monitors."""
        stream = SseStream(sf, settings, request, client)
        if last_event_id:
            await stream.resume(last_event_id)
        else:
            await stream.monitor([d for d in devices.split(",") if d.strip()])
        return StreamingResponse(
            stream.run(), media_type="text/event-stream", headers={"Cache-Control": "no-store"}
        )


def _feature_routes(
    app: FastAPI,
    Client: Any,
    find: Callable[[ClientSession, str], Device],
    call: Callable[[ClientSession, m.CstaMessage], Awaitable[JSONResponse]],
) -> None:
    """Do not disturb, forwarding, message waiting, and any CSTA request as JSON."""

    @app.get(
        "/api/v1/devices/{device}/dnd", tags=["features"], responses=answers("GetDoNotDisturb")
    )
    async def get_dnd(device: str, client: Client) -> JSONResponse:
        return await call(client, m.GetDoNotDisturb(device=find(client, device).id))

    @app.put(
        "/api/v1/devices/{device}/dnd", tags=["features"], responses=answers("SetDoNotDisturb")
    )
    async def set_dnd(device: str, body: OnOff, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(client, m.SetDoNotDisturb(device=d.id, doNotDisturbOn=body.on))

    @app.get(
        "/api/v1/devices/{device}/forwarding", tags=["features"], responses=answers("GetForwarding")
    )
    async def get_forwarding(device: str, client: Client) -> JSONResponse:
        return await call(client, m.GetForwarding(device=find(client, device).id))

    @app.put(
        "/api/v1/devices/{device}/forwarding", tags=["features"], responses=answers("SetForwarding")
    )
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

    @app.get(
        "/api/v1/devices/{device}/mwi",
        tags=["features"],
        responses=answers("GetMessageWaitingIndicator"),
    )
    async def get_mwi(device: str, client: Client) -> JSONResponse:
        return await call(client, m.GetMessageWaitingIndicator(device=find(client, device).id))

    @app.put(
        "/api/v1/devices/{device}/mwi",
        tags=["features"],
        responses=answers("SetMessageWaitingIndicator"),
    )
    async def set_mwi(device: str, body: OnOff, client: Client) -> JSONResponse:
        d = find(client, device)
        return await call(
            client, m.SetMessageWaitingIndicator(device=d.id, messageWaitingOn=body.on)
        )

    @app.post("/api/v1/csta", tags=["csta"], responses=answers())
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


def json_session(
    sf: SwitchingFunction,
    settings: Callable[[], ClientConnection],
    login: str,
    rights: DeviceRights,
    peer: str,
    session_id: str = "",
) -> ClientSession:
    """A client session of the JSON faces (WebSocket, Server-Sent Events,
    webhooks): its events kept as JSON text, its queue bounded as set;
    ``session_id``: one taken over from another node of a cluster."""
    return sf.attach(
        login,
        FaceKind.JSON,
        rights,
        peer=peer,
        max_queue=settings().max_queued_events,
        encode=event_json,
        session_id=session_id,
    )


SSE_KEEP_ALIVE = 15.0
MAX_SSE_DEVICES = 500


class SseStream:
    """One REST monitoring stream: a client session of the JSON face whose
    events go out as Server-Sent Events, resumable by ``Last-Event-ID``."""

    def __init__(
        self,
        sf: SwitchingFunction,
        settings: Callable[[], ClientConnection],
        request: Request,
        login: ClientSession,
    ) -> None:
        self.sf, self.settings, self.request, self.login = sf, settings, request, login
        self.client: ClientSession | None = None
        self.monitors: dict[str, str] = {}
        self.seq = 0

    async def monitor(self, devices: list[str]) -> None:
        if not devices:
            raise HTTPException(422, "name the devices to monitor: ?devices=201,202")
        if len(devices) > MAX_SSE_DEVICES:
            raise HTTPException(422, f"at most {MAX_SSE_DEVICES} devices a stream")
        found = []
        for spelling in devices:
            device = self.sf.find_device(spelling.strip(), self.login)
            if device is None:
                raise CstaRefusal(
                    CSTAErrorCode.operation("invalidDeviceID"), f"no device {spelling.strip()!r}"
                )
            found.append(device)
        client = self.client = json_session(
            self.sf, self.settings, self.login.login, self.login.rights, self.login.peer
        )
        for device in found:
            start = m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=device.id))
            answer = await self.sf.request(client, start)
            if isinstance(answer, m.MonitorStartResponse):
                self.monitors[device.id.value] = answer.monitorCrossRefID
            else:
                self.sf.logout(client, "a monitor of the stream was refused")
                error = answer if isinstance(answer, CSTAErrorCode) else None
                raise CstaRefusal(
                    error or CSTAErrorCode.of(ErrorCategory.UNSPECIFIED),
                    f"cannot monitor {device.id.value}",
                )
        self.seq = client.last_seq

    async def resume(self, last_event_id: str) -> None:
        session, _, seq = last_event_id.strip().rpartition(".")
        login = self.login
        try:
            self.client = await self.sf.resume_anywhere(
                login.login,
                session,
                int(seq),
                login.rights,
                lambda sid: json_session(
                    self.sf, self.settings, login.login, login.rights, login.peer, sid
                ),
            )
        except (ResumeError, ValueError) as exc:
            raise HTTPException(409, f"cannot resume: {exc}") from None
        self.seq = int(seq)

    async def run(self) -> AsyncIterator[bytes]:
        client = self.client
        assert client is not None
        welcome = {"session": client.id, "seq": self.seq, "monitors": self.monitors}
        yield f"event: welcome\ndata: {json.dumps(welcome)}\n\n".encode()
        events = client.events()
        reason = "stream closed"
        # The next event is awaited across keep-alives (cancelling it would
        # end the session's event generator).
        pending: asyncio.Future[Sequenced] | None = None
        try:
            while True:
                if pending is None:
                    pending = asyncio.ensure_future(anext(events))
                done, _ = await asyncio.wait({pending}, timeout=SSE_KEEP_ALIVE)
                if not done:
                    if await self.request.is_disconnected():
                        return
                    yield b": keep-alive\n\n"
                    continue
                item, pending = pending.result(), None
                data = f'{{"seq":{item.seq},{item.call_member()}"csta":{item.payload!s}}}'
                frame = f"id: {client.id}.{item.seq}\nevent: csta\ndata: {data}\n\n"
                yield frame.encode()
        except ClientClosed as exc:
            reason = str(exc)
            yield f"event: closed\ndata: {json.dumps({'reason': reason})}\n\n".encode()
        finally:
            if pending is not None:
                pending.cancel()
            if client.closed_because is not None:
                self.sf.logout(client, client.closed_because)
            else:
                self.sf.detach(client, reason, keep=True)


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
        if isinstance(resume, dict):
            try:
                client = await self.sf.resume_anywhere(
                    user,
                    str(resume.get("session")),
                    int(resume.get("seq", 0)),
                    rights,
                    lambda sid: json_session(self.sf, self.settings, user, rights, self.peer, sid),
                )
            except (ResumeError, ValueError, TypeError) as exc:
                await self._refuse(f"cannot resume: {exc}", code=4409)
                return None
            seq = int(resume.get("seq", 0))
        else:
            client = json_session(self.sf, self.settings, user, rights, self.peer)
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
                call = item.call_member()
                frame = f'{{"op":"event","seq":{item.seq},{call}"csta":{item.payload!s}}}'
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
        try:
            result = await self.sf.request(client, msg)
            log.debug("answer %s to %s: %s", rid, client.tag, result, extra={"tag": client.tag})
            frame: dict[str, Any] = {"op": "response", "id": rid, "request": request_id.get()}
            call = self.sf.response_call(msg, result)
            if call:
                frame["call"] = call
            frame["csta"] = to_json(result)
            with contextlib.suppress(WebSocketDisconnect, RuntimeError, OSError):
                await self.send(frame)
        finally:
            client.release()
