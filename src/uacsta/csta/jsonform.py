"""CSTA messages as JSON objects with the ECMA-323 names (sans-IO).

``{"type": "MakeCall", "callingDevice": "201", "calledDirectoryNumber": "202"}``
is the MakeCall service; every field has its ECMA-323 element name.  The
value types:

* a device identifier is its string (``"sip:201@pbx"``);
* an event device is its string, or ``{"choice": "notKnown"}`` (or
  ``restricted``, ``notRequired``, ``notSpecified``) when there is none;
* a ConnectionID is ``{"callID": "...", "deviceID": "..."}``;
* enumerations are their ECMA-323 values (``"connected"``, ``"forwardBusy"``);
* elements the model keeps as raw XML (userData, callCharacteristics,
  callOrigination, filters...) are JSON too, never strings of XML: an element
  with text only is its string; one with children or attributes is an object
  of its children by name (a list where one repeats), ``"@name"`` for an
  attribute and ``"#text"`` for text beside children.  The server writes the
  XML from it, names checked and text escaped, so nothing a client sends
  reaches a phone as markup;
* a CSTAErrorCode is ``{"type": "CSTAErrorCode", "category": "operation",
  "value": "serviceNotSupported"}``.

Fields that are absent or null are left out.  ``from_json`` checks every type
and says which field is wrong, and bounds every size (:data:`LIMITS`):
ECMA-323 keeps identifiers short, and a phone's CSTA stack is not made for
megabytes.  ``load_bounded`` reads the JSON text itself, refusing deep
nesting and oversized documents before Python's parser sees them.
"""

from __future__ import annotations

import enum
import json
import re
import typing
from typing import Any

from lxml import etree

from .codec import Field, field_plan
from .errors import CSTAErrorCode, ErrorCategory
from .model import BY_ROOT, CstaMessage
from .types import ConnectionID, DeviceChoice, DeviceID, EventDevice, RawXml

JsonObject = dict[str, Any]

# The bounds of what a client may send (docs/clients.md says the same).
LIMITS = {
    "document bytes": 65536,  # one JSON message or request body
    "nesting": 32,  # arrays and objects inside each other
    "text": 256,  # one identifier or value (deviceID, callID, correlatorData...)
    "list items": 64,
    "raw element bytes": 4096,  # one userData, callCharacteristics... as XML
    "raw element depth": 8,
}
MAX_DOCUMENT = LIMITS["document bytes"]
MAX_NESTING = LIMITS["nesting"]
MAX_TEXT = LIMITS["text"]
MAX_ITEMS = LIMITS["list items"]
MAX_RAW = LIMITS["raw element bytes"]
MAX_RAW_DEPTH = LIMITS["raw element depth"]
# Characters XML 1.0 cannot carry (a phone's parser would refuse the message).
_NOT_XML = re.compile("[^\t\n\r\x20-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")
_NAME = re.compile(r"^[A-Za-z_][A-Za-z0-9_.\-]{0,63}$")


class JsonFormError(ValueError):
    """A JSON object that is not a CSTA message, with the reason."""


def load_bounded(data: bytes | str, max_size: int = MAX_DOCUMENT) -> Any:
    """JSON text to a value, refusing documents over ``max_size`` bytes or
    nested deeper than :data:`MAX_NESTING` (json.loads would recurse into a
    RecursionError) with a JsonFormError."""
    raw = data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data
    if len(raw) > max_size:
        raise JsonFormError(f"larger than {max_size} bytes")
    check_nesting(raw)
    try:
        return json.loads(raw)
    except (ValueError, RecursionError):
        raise JsonFormError("not JSON") from None


_BRACKETS = re.compile(rb'"(?:[^"\\]|\\.)*"|[\[\]{}]', re.S)


def check_nesting(raw: bytes) -> None:
    depth = 0
    for m in _BRACKETS.finditer(raw):
        token = m.group()
        if token in (b"[", b"{"):
            depth += 1
            if depth > MAX_NESTING:
                raise JsonFormError(f"nested deeper than {MAX_NESTING}")
        elif token in (b"]", b"}"):
            depth -= 1


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
        return _raw_to_json(value)
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
            if len(raw) > MAX_ITEMS:
                raise JsonFormError(f"{here}: more than {MAX_ITEMS} items")
            values[key] = [_in(f.base, v, f"{here}[{i}]", f.item) for i, v in enumerate(raw)]
        else:
            values[key] = _in(f.base, raw, here, f.xml)
    missing = [f.attr for f in fields.values() if not f.optional and f.attr not in values]
    if missing:
        raise JsonFormError(f"{where}: missing {', '.join(missing)}")
    return cls(**values)


def _in(base: Any, raw: Any, where: str, element: str) -> Any:
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
        return _raw_from_json(element, raw, where)
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


def _text(raw: Any, where: str, *, empty: bool = False) -> str:
    if isinstance(raw, int) and not isinstance(raw, bool):
        raw = str(raw)  # numbers typed without quotes
    if not isinstance(raw, str):
        raise JsonFormError(f"{where}: expected a string")
    text = raw.strip()  # as the XML decoder reads it
    if not text and not empty:
        raise JsonFormError(f"{where}: expected a non-empty string")
    if len(text) > MAX_TEXT:
        raise JsonFormError(f"{where}: longer than {MAX_TEXT} characters")
    if _NOT_XML.search(text):
        raise JsonFormError(f"{where}: a character XML cannot carry")
    return text


# -- elements kept as raw XML, as JSON ------------------------------------------------------


def _raw_to_json(raw: RawXml) -> Any:
    try:
        el = etree.fromstring(raw.xml)
    except etree.XMLSyntaxError:
        return ""
    return _element_json(el)


def _local(tag: Any) -> str:
    return tag.rpartition("}")[2] if isinstance(tag, str) else ""


def _element_json(el: Any) -> Any:
    children = [c for c in el if isinstance(c.tag, str)]
    text = (el.text or "").strip()
    if not children and not el.attrib:
        return text
    out: JsonObject = {f"@{_local(k)}": v for k, v in el.attrib.items()}
    for child in children:
        name, value = _local(child.tag), _element_json(child)
        if name in out:
            out[name] = out[name] if isinstance(out[name], list) else [out[name]]
            out[name].append(value)
        else:
            out[name] = value
    if text:
        out["#text"] = text
    return out


def _raw_from_json(element: str, raw: Any, where: str) -> RawXml:
    parts: list[str] = []
    _element_xml(parts, element, raw, where, 0)
    xml = "".join(parts).encode("utf-8")
    if len(xml) > MAX_RAW:
        raise JsonFormError(f"{where}: larger than {MAX_RAW} bytes as XML")
    return RawXml(xml)


def _element_xml(out: list[str], name: str, value: Any, where: str, depth: int) -> None:
    if depth > MAX_RAW_DEPTH:
        raise JsonFormError(f"{where}: nested deeper than {MAX_RAW_DEPTH}")
    if not _NAME.match(name):
        raise JsonFormError(f"{where}: {name!r} is not an element name")
    if isinstance(value, list):
        raise JsonFormError(f"{where}: a list stands only inside an object")
    if not isinstance(value, dict):
        out.append(f"<{name}>{_esc(_text(value, where, empty=True))}</{name}>")
        return
    attrs = []
    for key, v in value.items():
        if key.startswith("@"):
            if not _NAME.match(key[1:]):
                raise JsonFormError(f"{where}: {key!r} is not an attribute name")
            attrs.append(f' {key[1:]}="{_esc(_text(v, where, empty=True))}"')
    out.append(f"<{name}{''.join(attrs)}>")
    for key, v in value.items():
        if key.startswith("@"):
            continue
        if key == "#text":
            out.append(_esc(_text(v, where, empty=True)))
            continue
        items = v if isinstance(v, list) else [v]
        if len(items) > MAX_ITEMS:
            raise JsonFormError(f"{where}.{key}: more than {MAX_ITEMS} items")
        for item in items:
            if isinstance(item, list):
                raise JsonFormError(f"{where}.{key}: a list inside a list")
            _element_xml(out, key, item, f"{where}.{key}", depth + 1)
    out.append(f"</{name}>")


def _esc(text: str) -> str:
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )
