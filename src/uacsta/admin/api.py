"""The admin REST API under /api/: what scripts use.  Every handler goes
through :class:`AdminService`, as the pages do, so a value the API refuses is
refused by the form with the same words."""

# No "from __future__ import annotations": FastAPI reads the signatures at run time.
import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.responses import Response, StreamingResponse
from pydantic import BaseModel, Field

from ..provisioning.provisioner import Target
from ..settings import SECTIONS, parse_mac_list
from .web import Admin, Service

router = APIRouter()


class Enabled(BaseModel):
    enabled: bool


class Password(BaseModel):
    password: str = Field(min_length=1, max_length=256)


class FindRequest(BaseModel):
    interface: str = Field("", description="This host's IP address to search from (broadcast)")
    addresses: str = Field(
        "", description="Addresses to ask as well: IPs, ranges a-b, networks a/n"
    )
    duration: float = Field(3.0, description="Seconds to listen for answers")


class PhoneRef(BaseModel):
    ip: str
    vendor: str = ""
    mac: str = ""
    web_port: int = Field(80, ge=1, le=65535)


class ProvideRequest(BaseModel):
    phones: list[PhoneRef] = Field(min_length=1, max_length=10_000)


class Selection(BaseModel):
    macs: list[str] = Field(min_length=1, max_length=10_000)


class VendorLogin(BaseModel):
    user: str = Field(min_length=1, max_length=64)
    password: str = Field("", max_length=256)


class ClientChange(BaseModel):
    password: str | None = Field(None, max_length=256)
    allowed_devices: list[str] | None = None


@router.get("/api/settings", tags=["settings"])
async def api_settings(session: Admin, service: Service) -> dict[str, Any]:
    return {name: (await service.settings(name)).model_dump(mode="json") for name in SECTIONS}


@router.get("/api/settings/{section}", tags=["settings"])
async def api_section(section: str, session: Admin, service: Service) -> dict[str, Any]:
    return (await service.settings(section)).model_dump(mode="json")


@router.patch("/api/settings/{section}", tags=["settings"])
async def api_update(
    section: str, changes: dict[str, Any], session: Admin, service: Service
) -> dict[str, Any]:
    """Change some settings of a section (a partial object); all or nothing."""
    return (await service.update(section, changes)).model_dump(mode="json")


@router.put("/api/phone-password", status_code=204, tags=["settings"])
async def api_phone_password(body: Password, session: Admin, service: Service) -> None:
    await service.set_phone_password(body.password)


@router.get("/api/phones", tags=["telephones"])
async def api_phones(session: Admin, service: Service) -> list[dict[str, Any]]:
    return service.phones()


@router.post("/api/phones/restart", status_code=202, tags=["telephones"])
async def api_restart_phones(body: Selection, session: Admin, service: Service) -> dict[str, Any]:
    """Restart the selected phones through their web interfaces; follow the
    run at ``/api/provisioning/jobs/{id}``."""
    return (await service.restart_phones(body.macs)).as_json()


@router.get("/api/phones/{mac}", tags=["telephones"])
async def api_phone_details(mac: str, session: Admin, service: Service) -> dict[str, Any]:
    """One phone in detail: its row of the list, lifecycle phase and why,
    registration, identities and their monitors."""
    return service.phone(mac)


@router.patch("/api/phones/{mac}", status_code=204, tags=["telephones"])
async def api_phone(mac: str, body: Enabled, session: Admin, service: Service) -> None:
    await service.set_enabled(mac, body.enabled)


@router.delete("/api/phones/{mac}", status_code=204, tags=["telephones"])
async def api_remove_phone(mac: str, session: Admin, service: Service) -> None:
    await service.remove_phone(mac)


@router.get("/api/provisioning/interfaces", tags=["provisioning"])
async def api_interfaces(session: Admin, service: Service) -> list[dict[str, str]]:
    """This host's IPv4 addresses that a search can start from."""
    return service.interfaces()


@router.post("/api/provisioning/find", status_code=202, tags=["provisioning"])
async def api_find(body: FindRequest, session: Admin, service: Service) -> dict[str, Any]:
    """Start a search; follow it at ``/api/provisioning/jobs/{id}``."""
    return service.find(body.interface, body.addresses, body.duration).as_json()


@router.post("/api/provisioning/push", status_code=202, tags=["provisioning"])
async def api_push(body: ProvideRequest, session: Admin, service: Service) -> dict[str, Any]:
    """Provide the telephones with the uaCSTA account (the stored options)."""
    targets = [Target(p.ip, p.vendor, p.mac, p.web_port) for p in body.phones]
    return service.provide("push", targets).as_json()


@router.post("/api/provisioning/delete", status_code=202, tags=["provisioning"])
async def api_delete(body: ProvideRequest, session: Admin, service: Service) -> dict[str, Any]:
    """Delete provisioning: remove exactly what was written."""
    targets = [Target(p.ip, p.vendor, p.mac, p.web_port) for p in body.phones]
    return service.provide("delete", targets).as_json()


@router.get("/api/provisioning/jobs/{job_id}", tags=["provisioning"])
async def api_job(job_id: str, session: Admin, service: Service) -> dict[str, Any]:
    return service.job(job_id).as_json()


@router.get("/api/provisioning/records", tags=["provisioning"])
async def api_records(session: Admin, service: Service) -> list[dict[str, Any]]:
    """What provisioning wrote to each telephone (secrets shown as "(set)")."""
    return await service.provisioned()


@router.put("/api/provisioning/web-password", status_code=204, tags=["provisioning"])
async def api_web_password(body: Password, session: Admin, service: Service) -> None:
    await service.set_web_password(body.password)


@router.put("/api/provisioning/web-login/{vendor}", status_code=204, tags=["provisioning"])
async def api_vendor_login(
    vendor: str, body: VendorLogin, session: Admin, service: Service
) -> None:
    """A vendor's own web login, for phones that do not take the common one."""
    await service.set_vendor_login(vendor, body.user, body.password)


@router.delete("/api/provisioning/web-login/{vendor}", status_code=204, tags=["provisioning"])
async def api_remove_vendor_login(vendor: str, session: Admin, service: Service) -> None:
    await service.set_vendor_login(vendor, "", "")


@router.get("/api/clients", tags=["clients"])
async def api_clients(session: Admin, service: Service) -> list[dict[str, Any]]:
    return await service.clients()


@router.put("/api/clients/{name}", status_code=204, tags=["clients"])
async def api_client(name: str, body: ClientChange, session: Admin, service: Service) -> None:
    await service.set_client(name, body.password, body.allowed_devices)


@router.delete("/api/clients/{name}", status_code=204, tags=["clients"])
async def api_remove_client(name: str, session: Admin, service: Service) -> None:
    await service.remove_client(name)


@router.get("/api/certificate", tags=["certificate"])
async def api_certificate(session: Admin, service: Service) -> dict[str, Any]:
    return service.certificate()


@router.get("/api/certificate/ca.pem", tags=["certificate"])
async def api_ca(session: Admin, service: Service) -> Response:
    pem = service.ca_pem()
    if not pem:
        raise HTTPException(404, "the certificate in use was not generated by uacsta")
    return Response(
        pem,
        media_type="application/x-pem-file",
        headers={"Content-Disposition": 'attachment; filename="uacsta-ca.pem"'},
    )


@router.get("/api/status", tags=["status"])
async def api_status(session: Admin, service: Service) -> dict[str, Any]:
    return service.status()


@router.post("/api/services/{which}/{action}", tags=["status"])
async def api_service(which: str, action: str, session: Admin, service: Service) -> dict[str, Any]:
    """Start, stop or restart the phone or client service (the web UI stays up)."""
    await service.service(which, action)
    return service.status()


@router.get("/api/logs", tags=["logs"])
async def api_logs(session: Admin, service: Service) -> list[dict[str, Any]]:
    return service.log_files()


@router.get("/api/logs/follow", tags=["logs"])
async def api_log_follow(
    request: Request, session: Admin, service: Service, macs: str = ""
) -> StreamingResponse:
    """New log records as they are written, one JSON object a line (of these
    MACs only, comma separated; all when empty)."""
    try:
        wanted = frozenset(parse_mac_list(macs))
    except ValueError as exc:
        raise HTTPException(422, str(exc)) from None
    records = service.tail(wanted)

    async def lines() -> AsyncIterator[bytes]:
        async for record in records:
            if await request.is_disconnected():
                return
            yield (json.dumps(record) + "\n").encode()

    return StreamingResponse(lines(), media_type="application/x-ndjson")


@router.get("/api/logs/{name}", tags=["logs"])
async def api_log(name: str, session: Admin, service: Service) -> Response:
    """A log file as it is now (the current one keeps growing while it is
    sent: exactly the bytes it had when asked are sent)."""
    path = service.log_path(name)
    size = path.stat().st_size

    def chunks() -> Iterator[bytes]:
        left = size
        with path.open("rb") as f:
            while left > 0:
                data = f.read(min(left, 1 << 16))
                if not data:
                    return
                left -= len(data)
                yield data

    return StreamingResponse(
        chunks(),
        media_type="text/plain",
        headers={
            "Content-Disposition": f'attachment; filename="{name}"',
            "Content-Length": str(size),
        },
    )
