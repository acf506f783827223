"""CSTA messages as JSON objects with the ECMA-323 names (sans-IO).

``{"type": "MakeCall", "callingDevice": "201", "calledDirectoryNumber": "202"}``
is the MakeCall service; every field has its ECMA-323 element name.  The
value types:

* a device identifier is its string (``"sip:201@pbx"``);
* an event device is its string, or ``{"choice": "notKnown"}`` (or
  ``restricted``, ``notRequired``, ``notSpecified``) when there is none;
* a ConnectionID is ``{"callID": "...", "deviceID": "..."}``;
* enumerations are their ECMA-323 values (``"connected"``, ``"forwardBusy"``);
* elements the model keeps as raw XML are strings of XML;
* a CSTAErrorCode is ``{"type": "CSTAErrorCode", "category": "operation",
  "value": "serviceNotSupported"}``.

Fields that are absent or null are left out.  ``from_json`` checks every type
and says which field is wrong.
"""

from __future__ import annotations

import enum
import typing
from typing import Any

from .codec import Field, field_plan
from .errors import CSTAErrorCode, ErrorCategory
from .model import BY_ROOT, CstaMessage
from .types import ConnectionID, DeviceChoice, DeviceID, EventDevice, RawXml

JsonObject = dict[str, Any]


class JsonFormError(ValueError):
    """A JSON object that is not a CSTA message, with the reason."""


def to_json(msg: CstaMessage | CSTAErrorCode) -> JsonObject:
    if isinstance(msg, CSTAErrorCode):
        return {"type": "CSTAErrorCode", "category": msg.category.value, "value": msg.value}
    return {"type": msg.root(), **_members(msg)}


def _members(obj: Any) -> JsonObject:
    """The fields of a message or a nested structure that are set."""
    out: JsonObject = {}
    for f in _fields(type(obj)).values():
        value = getattr(obj, f.attr)
        if value is None or (f.item is not None and not value):
            continue
        out[f.attr] = [_out(v) for v in value] if f.item is not None else _out(value)
    return out


def _out(value: Any) -> Any:
    if isinstance(value, DeviceID):
        return value.value
    if isinstance(value, EventDevice):
        if value.device is not None:
            return value.device.value
        return {"choice": value.choice.value}
    if isinstance(value, ConnectionID):
        conn: JsonObject = {}
        if value.callID is not None:
            conn["callID"] = value.callID
        if value.deviceID is not None:
            conn["deviceID"] = value.deviceID.value
        return conn
    if isinstance(value, enum.Enum):
        return value.value
    if isinstance(value, RawXml):
        return value.xml.decode("utf-8", "replace")
    if isinstance(value, bool | int | str):
        return value
    return _members(value)


def from_json(data: Any) -> CstaMessage | CSTAErrorCode:
    if not isinstance(data, dict):
        raise JsonFormError("a CSTA message is a JSON object")
    name = data.get("type")
    if name == "CSTAErrorCode":
        try:
            category = ErrorCategory(data.get("category"))
            return CSTAErrorCode.of(category, str(data.get("value", "")))
        except ValueError as exc:
            raise JsonFormError(f"CSTAErrorCode: {exc}") from None
    if not isinstance(name, str):
        raise JsonFormError('"type" must name a CSTA message, e.g. "MakeCall"')
    cls = BY_ROOT.get(name)
    if cls is None:
        raise JsonFormError(f"{name!r} is not a CSTA message this server knows")
    return typing.cast(CstaMessage, _build(cls, data, name, skip=("type",)))


_FIELDS: dict[type, dict[str, Field]] = {}


def _fields(cls: type) -> dict[str, Field]:
    fields = _FIELDS.get(cls)
    if fields is None:
        fields = _FIELDS[cls] = {f.attr: f for f in field_plan(cls)}
    return fields


def _build(cls: type, data: Any, where: str, skip: tuple[str, ...] = ()) -> Any:
    if not isinstance(data, dict):
        raise JsonFormError(f"{where}: expected an object")
    fields = _fields(cls)
    values: dict[str, Any] = {}
    for key, raw in data.items():
        if key in skip or raw is None:
            continue
        f = fields.get(key)
        if f is None:
            raise JsonFormError(f"{where}: unknown field {key!r}")
        here = f"{where}.{key}"
        if f.item is not None:
            if not isinstance(raw, list):
                raise JsonFormError(f"{here}: expected a list")
            values[key] = [_in(f.base, v, f"{here}[{i}]") for i, v in enumerate(raw)]
        else:
            values[key] = _in(f.base, raw, here)
    missing = [f.attr for f in fields.values() if not f.optional and f.attr not in values]
    if missing:
        raise JsonFormError(f"{where}: missing {', '.join(missing)}")
    return cls(**values)


def _in(base: Any, raw: Any, where: str) -> Any:
    if base is DeviceID:
        return DeviceID(_text(raw, where))
    if base is EventDevice:
        if isinstance(raw, dict) and set(raw) == {"choice"}:
            try:
                return EventDevice(DeviceChoice(raw["choice"]))
            except ValueError:
                raise JsonFormError(f"{where}: unknown choice {raw['choice']!r}") from None
        return EventDevice.of(_text(raw, where))
    if base is ConnectionID:
        if not isinstance(raw, dict) or not set(raw) <= {"callID", "deviceID"} or not raw:
            raise JsonFormError(f'{where}: expected {{"callID": ..., "deviceID": ...}}')
        call = raw.get("callID")
        device = raw.get("deviceID")
        return ConnectionID(
            _text(call, f"{where}.callID") if call is not None else None,
            DeviceID(_text(device, f"{where}.deviceID")) if device is not None else None,
        )
    if base is RawXml:
        return RawXml(_text(raw, where).encode("utf-8"))
    if base is bool:
        if not isinstance(raw, bool):
            raise JsonFormError(f"{where}: expected true or false")
        return raw
    if base is int:
        if isinstance(raw, bool) or not isinstance(raw, int):
            raise JsonFormError(f"{where}: expected an integer")
        return raw
    if base is str:
        return _text(raw, where)
    if isinstance(base, type) and issubclass(base, enum.Enum):
        try:
            return base(_text(raw, where))
        except ValueError:
            raise JsonFormError(f"{where}: {raw!r} is not a valid value") from None
    return _build(base, raw, where)


def _text(raw: Any, where: str) -> str:
    if isinstance(raw, str) and raw:
        return raw
    if isinstance(raw, int) and not isinstance(raw, bool):
        return str(raw)  # numbers typed without quotes
    raise JsonFormError(f"{where}: expected a non-empty string")
