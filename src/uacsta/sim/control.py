"""The simulator's control interface: JSON over HTTP on loopback, for driving
simulated phones by hand as a person would (``uacsta sim --control``).

    GET  /phones                      every phone: lines, registration, DND, calls
    POST /phones/{mac}/dial           {"to": "202", "line": optional}  -> {"callID": ...}
    POST /phones/{mac}/answer         {"callID": optional}: the ringing call
    POST /phones/{mac}/hang-up        {"callID": optional}
    POST /phones/{mac}/hold           {"callID": optional}
    POST /phones/{mac}/retrieve       {"callID": optional}
    POST /phones/{mac}/transfer       the held and the active call are joined
    PUT  /phones/{mac}/dnd            {"on": true}
    PUT  /phones/{mac}/forwarding     {"type": "forwardImmediate", "to": "203" | null, "rings": 3}
    PUT  /phones/{mac}/mwi            {"on": true}

A phone that cannot do what is asked (no call ringing, no call held) answers
409 with the reason; an unknown MAC 404.
"""

# No "from __future__ import annotations": FastAPI reads the signatures at run time.
from typing import Any

from fastapi import FastAPI, HTTPException
from pydantic import BaseModel, Field

from ..csta.types import ForwardingType
from ..net.apidocs import add_api_docs
from .phone import SimPhone


class Dial(BaseModel):
    to: str = Field(min_length=1, max_length=64)
    line: str | None = None


class CallRef(BaseModel):
    callID: str | None = None


class OnOff(BaseModel):
    on: bool


class Forwarding(BaseModel):
    type: ForwardingType = ForwardingType.FORWARD_IMMEDIATE
    to: str | None = Field(None, max_length=64)
    rings: int | None = Field(None, ge=1, le=99)


def describe(phone: SimPhone) -> dict[str, Any]:
    return {
        "mac": phone.mac,
        "vendor": phone.config.vendor,
        "lines": list(phone.config.identities),
        "registered": phone.registered,
        "dialog": phone.dialog is not None,
        "dnd": phone.dnd,
        "message_waiting": phone.message_waiting,
        "forwarding": {k.value: v[0] for k, v in phone.forwarding.items()},
        "calls": [{"callID": c, "state": s} for c, s in phone.calls()],
    }


def create_control_app(phones: list[SimPhone]) -> FastAPI:
    app = FastAPI(title="uacsta sim control", docs_url=None, redoc_url=None)
    add_api_docs(app, docs_url="/docs", openapi_url="/openapi.json", title="uacsta sim control")
    by_mac = {p.mac: p for p in phones}

    def phone(mac: str) -> SimPhone:
        found = by_mac.get(mac.upper()) or by_mac.get(mac)
        if found is None:
            raise HTTPException(404, f"no simulated phone {mac!r}")
        return found

    def done(ok: bool, what: str, p: SimPhone) -> dict[str, Any]:
        if not ok:
            raise HTTPException(409, f"{p.mac}: {what}")
        return describe(p)

    @app.get("/phones")
    async def list_phones() -> list[dict[str, Any]]:
        return [describe(p) for p in phones]

    @app.get("/phones/{mac}")
    async def one(mac: str) -> dict[str, Any]:
        return describe(phone(mac))

    @app.post("/phones/{mac}/dial")
    async def dial(mac: str, body: Dial) -> dict[str, Any]:
        p = phone(mac)
        if body.line is not None and body.line not in p.config.identities:
            raise HTTPException(422, f"{p.mac} has no line {body.line!r}")
        call_id = p.dial(body.to, body.line)
        if call_id is None:
            raise HTTPException(409, f"{p.mac}: the call could not be made")
        return {"callID": call_id, **describe(p)}

    @app.post("/phones/{mac}/answer")
    async def answer(mac: str, body: CallRef | None = None) -> dict[str, Any]:
        p = phone(mac)
        return done(p.answer(body.callID if body else None), "no call is ringing", p)

    @app.post("/phones/{mac}/hang-up")
    async def hang_up(mac: str, body: CallRef | None = None) -> dict[str, Any]:
        p = phone(mac)
        return done(p.hang_up(body.callID if body else None), "no call to hang up", p)

    @app.post("/phones/{mac}/hold")
    async def hold(mac: str, body: CallRef | None = None) -> dict[str, Any]:
        p = phone(mac)
        return done(p.hold(body.callID if body else None), "no active call", p)

    @app.post("/phones/{mac}/retrieve")
    async def retrieve(mac: str, body: CallRef | None = None) -> dict[str, Any]:
        p = phone(mac)
        return done(p.retrieve(body.callID if body else None), "no held call", p)

    @app.post("/phones/{mac}/transfer")
    async def transfer(mac: str) -> dict[str, Any]:
        p = phone(mac)
        return done(p.transfer(), "a transfer needs one held and one active call", p)

    @app.put("/phones/{mac}/dnd")
    async def dnd(mac: str, body: OnOff) -> dict[str, Any]:
        p = phone(mac)
        p.set_dnd(body.on)
        return describe(p)

    @app.put("/phones/{mac}/forwarding")
    async def forwarding(mac: str, body: Forwarding) -> dict[str, Any]:
        p = phone(mac)
        p.set_forwarding(body.type, body.to, body.rings)
        return describe(p)

    @app.put("/phones/{mac}/mwi")
    async def mwi(mac: str, body: OnOff) -> dict[str, Any]:
        p = phone(mac)
        p.set_message_waiting(body.on)
        return describe(p)

    return app
