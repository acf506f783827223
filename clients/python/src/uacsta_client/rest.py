"""The REST face (blocking, httpx): devices, call controls, and the events of
devices as Server-Sent Events, resumed after a dropped connection."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import httpx

from .events import Call, Event, SessionLost

CALL_HEADER = "X-Call-Reference"


class RestError(Exception):
    """A refusal of the REST face: HTTP ``status``, ``error`` and ``detail``
    of its error body.  ``error`` is a short code (``notFound``...) or, when
    the switching function or the phone refused, the CSTA error value
    (``noConnectionToClear``), with the CSTAErrorCode itself in ``csta``."""

    def __init__(self, status: int, body: dict[str, Any]) -> None:
        self.status = status
        error = body.get("error", "")
        self.csta: dict[str, Any] | None = error if isinstance(error, dict) else None
        if self.csta is not None:
            error = self.csta.get("value") or self.csta.get("category", "")
        self.error = str(error)
        self.detail = str(body.get("detail", ""))
        super().__init__(f"{status} {self.error}: {self.detail}")


class Rest:
    """``Rest("http://127.0.0.1:8090", "crm", "secret")``; calls by their
    reference (``event.call``, ``Call``) or the phone's callID."""

    def __init__(
        self, base_url: str, user: str, password: str, *, verify: Any = True, timeout: float = 30.0
    ) -> None:
        self.http = httpx.Client(
            base_url=base_url.rstrip("/"), auth=(user, password), verify=verify, timeout=timeout
        )

    def __enter__(self) -> Rest:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> httpx.Response:
        response = self.http.request(method, f"/api/v1{path}", json=body)
        if response.status_code >= 400:
            try:
                detail = response.json()
            except ValueError:
                detail = {"error": "http", "detail": response.text[:200]}
            raise RestError(response.status_code, detail if isinstance(detail, dict) else {})
        return response

    def devices(self) -> list[dict[str, Any]]:
        return list(self._call("GET", "/devices").json())

    def device(self, device: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/devices/{device}").json())

    def snapshot(self, device: str) -> dict[str, Any]:
        return dict(self._call("GET", f"/devices/{device}/snapshot").json())

    def make_call(self, device: str, to: str) -> Call:
        response = self._call("POST", f"/devices/{device}/calls", {"to": to})
        conn = response.json().get("callingDevice") or {}
        return Call(response.headers.get(CALL_HEADER), conn.get("callID"), conn.get("deviceID"))

    def _on_call(self, device: str, call: Call | str, verb: str, body: Any = None) -> None:
        self._call("POST", f"/devices/{device}/calls/{call}/{verb}", body)

    def answer(self, device: str, call: Call | str) -> None:
        self._on_call(device, call, "answer")

    def clear(self, device: str, call: Call | str) -> None:
        self._on_call(device, call, "clear")

    def hold(self, device: str, call: Call | str) -> None:
        self._on_call(device, call, "hold")

    def retrieve(self, device: str, call: Call | str) -> None:
        self._on_call(device, call, "retrieve")

    def deflect(self, device: str, call: Call | str, to: str) -> None:
        self._on_call(device, call, "deflect", {"to": to})

    def blind_transfer(self, device: str, call: Call | str, to: str) -> None:
        self._on_call(device, call, "transfer", {"to": to})

    def digits(self, device: str, call: Call | str, digits: str) -> None:
        self._on_call(device, call, "digits", {"digits": digits})

    def set_dnd(self, device: str, on: bool) -> None:
        self._call("PUT", f"/devices/{device}/dnd", {"on": on})

    def events(
        self, devices: list[str], *, reconnect_for: float = 30.0, idle: float | None = None
    ) -> Iterator[Event]:
        """The devices' events as they come, in order, each once: a dropped
        stream is resumed by Last-Event-ID (for up to ``reconnect_for`` s).
        ``idle``: stop after that many seconds without an event."""
        last: str | None = None
        lost_since: float | None = None
        while True:
            headers = {"Last-Event-ID": last} if last else {}
            params = None if last else {"devices": ",".join(devices)}
            try:
                with self.http.stream(
                    "GET", "/api/v1/events", params=params, headers=headers, timeout=idle
                ) as response:
                    if response.status_code == 409:
                        raise SessionLost(response.read().decode("utf-8", "replace"))
                    if response.status_code >= 400:
                        raise RestError(response.status_code, json.loads(response.read() or b"{}"))
                    lost_since = None
                    for name, data, event_id in _sse(response.iter_lines()):
                        if name == "csta":
                            last = event_id or last
                            yield Event.from_frame(json.loads(data))
                        elif name == "closed":
                            raise SessionLost(json.loads(data).get("reason", "closed"))
            except httpx.ReadTimeout:
                return  # idle for longer than asked
            except (httpx.TransportError, httpx.RemoteProtocolError) as exc:
                now = time.monotonic()
                lost_since = lost_since or now
                if last is None or now - lost_since > reconnect_for:
                    raise SessionLost(f"stream lost: {exc}") from exc
                time.sleep(0.2)


def _sse(lines: Iterator[str]) -> Iterator[tuple[str, str, str | None]]:
    """(event, data, id) of each Server-Sent Event, as a browser parses them."""
    name, event_id = "message", None
    data: list[str] = []
    for line in lines:
        if not line:
            if data:
                yield name, "\n".join(data), event_id
            name, data, event_id = "message", [], None
            continue
        if line.startswith(":"):
            continue
        field, _, value = line.partition(":")
        value = value.removeprefix(" ")
        if field == "event":
            name = value
        elif field == "data":
            data.append(value)
        elif field == "id":
            event_id = value
