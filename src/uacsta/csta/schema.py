"""JSON Schemas of the CSTA messages in their JSON form (``jsonform.py``),
generated from the model: the client API's OpenAPI responses, the AsyncAPI
document of the WebSocket face and the event catalogue in the docs all come
from here, so none is a hand-written copy that can drift.

The schemas follow ``jsonform`` value by value: a device identifier is a
string, a ConnectionID ``{"callID", "deviceID"}``, an event device a string or
``{"choice": …}``, an enumeration its ECMA-323 values, an element kept as raw
XML any JSON (its text, or an object of its children).
"""

from __future__ import annotations

import dataclasses
import enum
from typing import Any

from .codec import field_plan
from .jsonform import MAX_ITEMS, MAX_TEXT
from .model import BY_ROOT, CstaMessage, Kind
from .types import ConnectionID, DeviceChoice, DeviceID, EventDevice, OpenEnum, RawXml

Schema = dict[str, Any]
REF = "#/components/schemas/"

_SHARED: dict[str, Schema] = {
    "DeviceID": {
        "type": "string",
        "minLength": 1,
        "maxLength": MAX_TEXT,
        "description": "A device identifier: a number or SIP URI (sip:201@pbx.example)",
        "examples": ["sip:201@pbx.example", "201"],
    },
    "ConnectionID": {
        "type": "object",
        "description": "One device in one call (ECMA-269 connection)",
        "properties": {
            "callID": {"type": "string", "maxLength": MAX_TEXT},
            "deviceID": {"$ref": REF + "DeviceID"},
        },
        "additionalProperties": False,
        "minProperties": 1,
    },
    "EventDevice": {
        "description": "A device named in an event, or why there is none",
        "oneOf": [
            {"$ref": REF + "DeviceID"},
            {
                "type": "object",
                "properties": {
                    "choice": {
                        "enum": [c.value for c in DeviceChoice if c.value != "deviceIdentifier"]
                    }
                },
                "required": ["choice"],
                "additionalProperties": False,
            },
        ],
    },
    "RawElement": {
        "description": "An element relayed as it is (userData, callCharacteristics...): its "
        "text, or an object of its children by name ('@name' for an attribute, '#text' "
        "for text beside children)",
        "oneOf": [{"type": "string"}, {"type": "object"}],
    },
    "CSTAErrorCode": {
        "type": "object",
        "description": "A refused request (ECMA-269 section 9)",
        "properties": {
            "type": {"const": "CSTAErrorCode"},
            "category": {"type": "string", "examples": ["operation", "stateIncompatibility"]},
            "value": {"type": "string", "examples": ["invalidDeviceID", "serviceNotSupported"]},
        },
        "required": ["type", "category", "value"],
    },
}


def message_names(kind: Kind | None = None) -> list[str]:
    """Every message the server knows by its ECMA-323 name (one spelling each)."""
    seen: dict[type[CstaMessage], str] = {}
    for name, cls in BY_ROOT.items():
        if cls.root() == name and (kind is None or cls.KIND is kind):
            seen.setdefault(cls, name)
    return sorted(seen.values())


def components() -> dict[str, Schema]:
    """Every message, every structure and enumeration they use, and the
    shared value types, by name: ``components.schemas`` of an OpenAPI or
    AsyncAPI document."""
    out: dict[str, Schema] = dict(_SHARED)
    for name in message_names():
        _object(BY_ROOT[name], out, message=name)
    return out


def _type_name(cls: type) -> str:
    """A value type's schema name; "…Type" where a message has its name
    (ECMA-323's SystemStatus is a message and an enumeration)."""
    return cls.__name__ + "Type" if cls.__name__ in BY_ROOT else cls.__name__


def _object(cls: type, out: dict[str, Schema], message: str | None = None) -> str:
    name = message or _type_name(cls)
    if name in out:
        return name
    out[name] = {}  # a placeholder while its fields are made (structures may nest)
    properties: Schema = {}
    required: list[str] = []
    if message is not None:
        properties["type"] = {"const": message}
        required.append("type")
    for f in field_plan(cls):
        value = _value(f.base, out)
        if f.item is not None:
            value = {"type": "array", "items": value, "maxItems": MAX_ITEMS}
        properties[f.attr] = value
        if not f.optional:
            required.append(f.attr)
    schema: Schema = {"type": "object", "properties": properties, "required": required}
    doc = (cls.__doc__ or "").strip()
    if doc and not doc.startswith(cls.__name__ + "("):  # not the dataclass default
        schema["description"] = doc
    if message is not None:
        kind = BY_ROOT[message].KIND.value
        schema["title"] = message
        schema.setdefault("description", f"ECMA-323 {message} ({kind})")
        schema["additionalProperties"] = False
    out[name] = schema
    return name


def _value(base: Any, out: dict[str, Schema]) -> Schema:
    if base is DeviceID:
        return {"$ref": REF + "DeviceID"}
    if base is ConnectionID:
        return {"$ref": REF + "ConnectionID"}
    if base is EventDevice:
        return {"$ref": REF + "EventDevice"}
    if base is RawXml:
        return {"$ref": REF + "RawElement"}
    if base is bool:
        return {"type": "boolean"}
    if base is int:
        return {"type": "integer"}
    if base is str:
        return {"type": "string", "maxLength": MAX_TEXT}
    if isinstance(base, type) and issubclass(base, OpenEnum):
        # an open enumeration: what a phone sends beyond ECMA's values is relayed
        name = _type_name(base)
        known = [m.value for m in base]
        out.setdefault(
            name,
            {
                "type": "string",
                "examples": known,
                "description": f"ECMA-323 values {', '.join(known)}; others are relayed as sent",
            },
        )
        return {"$ref": REF + name}
    if isinstance(base, type) and issubclass(base, enum.Enum):
        name = _type_name(base)
        out.setdefault(name, {"type": "string", "enum": [m.value for m in base]})
        return {"$ref": REF + name}
    if dataclasses.is_dataclass(base) and isinstance(base, type):
        return {"$ref": REF + _object(base, out)}
    raise TypeError(f"no JSON schema for {base!r}")  # a new field type: teach it here
