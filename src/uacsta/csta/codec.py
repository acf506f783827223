"""ECMA-323 XML <-> the typed model of ``model.py``.

Decoding matches elements by local name whatever the namespace (ed2 to ed6,
Yealink's misspelled one, none), takes children in any order, and returns a
:class:`DecodeError` value for anything it cannot read: nothing raises out of
:func:`decode`.  Encoding writes schema order in the edition asked for.

The parser is hardened once here: no DTD, no entities, no network, no huge
trees, and any DOCTYPE refused before parsing.
"""

from __future__ import annotations

import dataclasses
import functools
import re
import types
import typing
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, cast

from lxml import etree

from .errors import VALUES, CSTAErrorCode, ErrorCategory
from .model import BY_ROOT, CstaMessage
from .types import (
    ConnectionID,
    DeviceChoice,
    DeviceForm,
    DeviceID,
    EventDevice,
    OpenEnum,
    RawXml,
)

NAMESPACES = {
    2: "http://www.ecma.ch/standards/ecma-323/csta/ed2",
    3: "http://www.ecma-international.org/standards/ecma-323/csta/ed3",
    4: "http://www.ecma-international.org/standards/ecma-323/csta/ed4",
    5: "http://www.ecma-international.org/standards/ecma-323/csta/ed5",
    6: "http://www.ecma-international.org/standards/ecma-323/csta/ed6",
}
# Yealink answers several requests in this (misspelled) namespace.
YEALINK_NAMESPACE = "http://www.ecmainternational.org/standards/ecma-323/csta/ed5"
XML_DECLARATION = b'<?xml version="1.0" encoding="UTF-8"?>'
MAX_SIZE = 256 * 1024
_FORBIDDEN = re.compile(rb"<!\s*(DOCTYPE|ENTITY)", re.IGNORECASE)
_PARSER = etree.XMLParser(
    resolve_entities=False,
    no_network=True,
    load_dtd=False,
    dtd_validation=False,
    huge_tree=False,
    remove_comments=True,
    remove_pis=True,
    collect_ids=False,
)


@dataclass(frozen=True, slots=True)
class DecodeError:
    """Why a body is not a CSTA message we can use; ``root`` when known."""

    reason: str
    root: str | None = None

    def __str__(self) -> str:
        return f"{self.root}: {self.reason}" if self.root else self.reason


class _Invalid(Exception):
    pass


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    return tag.rpartition("}")[2]


def edition_of(namespace: str | None) -> int | None:
    if not namespace:
        return None
    if namespace == YEALINK_NAMESPACE:
        return 5
    for edition, ns in NAMESPACES.items():
        if ns == namespace:
            return edition
    return None


# -- field plans, built once per class from its annotations --------------------------


@dataclass(frozen=True, slots=True)
class _Field:
    attr: str
    xml: str
    base: Any
    optional: bool
    item: str | None  # list item element name


@functools.cache
def _plan(cls: type) -> tuple[_Field, ...]:
    hints = typing.get_type_hints(cls)
    out: list[_Field] = []
    for f in dataclasses.fields(cls):
        if f.metadata.get("skip") or f.name == "extensions":
            continue
        t = hints[f.name]
        optional = False
        origin = typing.get_origin(t)
        if origin in (typing.Union, types.UnionType):
            args = [a for a in typing.get_args(t) if a is not type(None)]
            optional = len(args) < len(typing.get_args(t))
            t = args[0]
            origin = typing.get_origin(t)
        item = None
        if origin is list:
            item = f.metadata["item"]
            t = typing.get_args(t)[0]
            optional = True
        out.append(_Field(f.name, f.metadata.get("xml", f.name), t, optional, item))
    return tuple(out)


@functools.cache
def _by_xml(cls: type) -> dict[str, _Field]:
    return {f.xml: f for f in _plan(cls)}


# -- decoding ---------------------------------------------------------------------------------


def decode(data: bytes | str) -> CstaMessage | CSTAErrorCode | DecodeError:
    """A CSTA message, a CSTAErrorCode, or a DecodeError saying why not."""
    if isinstance(data, str):
        data = data.encode("utf-8")
    if len(data) > MAX_SIZE:
        return DecodeError(f"message larger than {MAX_SIZE} bytes")
    if _FORBIDDEN.search(data):
        return DecodeError("DOCTYPE and entity declarations are not accepted")
    try:
        root = etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError as exc:
        return DecodeError(f"not well-formed XML: {exc}")
    except (ValueError, TypeError) as exc:
        return DecodeError(f"not XML: {exc}")
    name = _local(root)
    try:
        if name == "CSTAErrorCode":
            return _decode_error(root)
        cls = BY_ROOT.get(name)
        if cls is None:
            return DecodeError("not a CSTA message this server knows", name)
        msg = _decode_struct(cls, root, name)
        assert isinstance(msg, CstaMessage)
        return msg
    except _Invalid as exc:
        return DecodeError(str(exc), name)
    except RecursionError:
        return DecodeError("nesting too deep", name)


def _text(el: etree._Element) -> str:
    return (el.text or "").strip()


def _decode_struct(cls: type, el: etree._Element, where: str) -> Any:
    plan = _by_xml(cls)
    values: dict[str, Any] = {}
    unknown: list[RawXml] = []
    has_unknown = any(f.name == "unknown" for f in dataclasses.fields(cls))
    for child in el:
        if not isinstance(child.tag, str):
            continue
        name = _local(child)
        f = plan.get(name)
        if f is None:
            if name == "extensions" and has_unknown:
                values["extensions"] = RawXml(etree.tostring(child))
            elif has_unknown:
                unknown.append(RawXml(etree.tostring(child)))
            continue
        if f.attr in values:
            continue  # a repeated element: the first one counts
        if f.item is not None:
            values[f.attr] = [
                _decode_value(f.base, item, f"{where}/{name}")
                for item in child
                if isinstance(item.tag, str) and _local(item) == f.item
            ]
        else:
            values[f.attr] = _decode_value(f.base, child, f"{where}/{name}")
    for f in _plan(cls):
        if f.attr not in values and not f.optional:
            raise _Invalid(f"missing {f.xml}")
    if has_unknown and unknown:
        values["unknown"] = unknown
    try:
        return cls(**values)
    except TypeError as exc:
        raise _Invalid(str(exc)) from None


def _decode_value(base: Any, el: etree._Element, where: str) -> Any:
    decoder = _DECODERS.get(base)
    if decoder is not None:
        return decoder(el, where)
    if isinstance(base, type) and issubclass(base, OpenEnum):
        text = _text(el)
        try:
            return base(text)
        except ValueError:
            raise _Invalid(f"{where}: bad value {text[:40]!r}") from None
    if dataclasses.is_dataclass(base):
        return _decode_struct(base, el, where)  # type: ignore[arg-type]
    raise _Invalid(f"{where}: cannot decode {base!r}")  # pragma: no cover - model bug


def _decode_int(el: etree._Element, where: str) -> int:
    text = _text(el)
    try:
        return int(text)
    except ValueError:
        raise _Invalid(f"{where}: {text[:40]!r} is not a number") from None


def _decode_bool(el: etree._Element, where: str) -> bool:
    text = _text(el).lower()
    if text in ("true", "1"):
        return True
    if text in ("false", "0"):
        return False
    raise _Invalid(f"{where}: {text[:40]!r} is not true or false")


_ID_FORMS = {
    "staticID": DeviceForm.STATIC_ID,
    "dynamicID": DeviceForm.DYNAMIC_ID,
    "device": DeviceForm.DEVICE,
}


def _decode_device(el: etree._Element, where: str) -> DeviceID:
    children = [c for c in el if isinstance(c.tag, str)]
    ton = el.get("typeOfNumber")
    if not children:
        value = _text(el)
        if not value:
            raise _Invalid(f"{where}: empty device identifier")
        return DeviceID(value, ton)
    child = children[0]
    form = _ID_FORMS.get(_local(child))
    if form is None or len(children) > 1:
        raise _Invalid(f"{where}: unexpected {_local(child)!r} in a device identifier")
    return DeviceID(_text(child), ton or child.get("typeOfNumber"), form)


def _decode_event_device(el: etree._Element, where: str) -> EventDevice:
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        text = _text(el)
        if text:  # some phones write the identifier directly
            return EventDevice(DeviceChoice.DEVICE_IDENTIFIER, DeviceID(text))
        raise _Invalid(f"{where}: empty device")
    child = children[0]
    try:
        choice = DeviceChoice(_local(child))
    except ValueError:
        raise _Invalid(f"{where}: unexpected {_local(child)!r}") from None
    if choice is DeviceChoice.DEVICE_IDENTIFIER:
        return EventDevice(choice, _decode_device(child, where))
    return EventDevice(choice)


def _decode_connection(el: etree._Element, where: str) -> ConnectionID:
    call_id: str | None = None
    device: DeviceID | None = None
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        text = _text(el)
        if not text:
            raise _Invalid(f"{where}: empty connection identifier")
        return ConnectionID(text, None, callID_as_text=True)
    for child in children:
        name = _local(child)
        if name == "callID" and call_id is None:
            call_id = _text(child)
        elif name == "deviceID" and device is None:
            device = _decode_device(child, f"{where}/deviceID")
    if call_id is None and device is None:
        raise _Invalid(f"{where}: neither callID nor deviceID")
    return ConnectionID(call_id, device)


def _decode_raw(el: etree._Element, where: str) -> RawXml:
    return RawXml(etree.tostring(el))


def _decode_str(el: etree._Element, where: str) -> str:
    return _text(el)


_DECODERS: dict[Any, Callable[[etree._Element, str], Any]] = {
    str: _decode_str,
    int: _decode_int,
    bool: _decode_bool,
    DeviceID: _decode_device,
    EventDevice: _decode_event_device,
    ConnectionID: _decode_connection,
    RawXml: _decode_raw,
}


def _decode_error(root: etree._Element) -> CSTAErrorCode:
    children = [c for c in root if isinstance(c.tag, str)]
    if not children:
        raise _Invalid("no error category")
    child = children[0]
    try:
        category = ErrorCategory(_local(child))
    except ValueError:
        raise _Invalid(f"unknown error category {_local(child)!r}") from None
    unknown = [RawXml(etree.tostring(c)) for c in children[1:]]
    if category is ErrorCategory.PRIVATE_ERROR_CODE:
        return CSTAErrorCode(category=category, raw=RawXml(etree.tostring(child)), unknown=unknown)
    kind = VALUES[category]
    text = _text(child)
    value = str(kind(text)) if kind is not None and text else text
    return CSTAErrorCode(category=category, value=value, unknown=unknown)


# -- encoding ---------------------------------------------------------------------------------


def encode(msg: CstaMessage | CSTAErrorCode, edition: int = 5) -> bytes:
    """The XML document for ``msg`` in the namespace of ``edition`` (3 to 6)."""
    ns = NAMESPACES[edition]
    q = functools.partial(_qname, ns)
    if isinstance(msg, CSTAErrorCode):
        root = etree.Element(q("CSTAErrorCode"), nsmap={None: ns})
        if msg.category is ErrorCategory.PRIVATE_ERROR_CODE and msg.raw is not None:
            root.append(etree.fromstring(msg.raw.xml, _PARSER))
        else:
            child = etree.SubElement(root, q(msg.category.value))
            if msg.value:
                child.text = msg.value
        _append_raw(root, msg.unknown)
    else:
        root = etree.Element(q(msg.root()), nsmap={None: ns})
        _encode_struct(q, root, msg)
        _append_raw(root, msg.unknown)
        if msg.extensions is not None:
            _append_raw(root, [msg.extensions])
    return XML_DECLARATION + etree.tostring(root, encoding="UTF-8", xml_declaration=False)


@functools.cache
def _qname(ns: str, name: str) -> str:
    return f"{{{ns}}}{name}"


def _append_raw(parent: etree._Element, raws: list[RawXml]) -> None:
    for raw in raws:
        parent.append(etree.fromstring(raw.xml, _PARSER))


def _encode_struct(q: Callable[[str], str], parent: etree._Element, obj: Any) -> None:
    for f in _plan(cast(type, type(obj))):
        value = getattr(obj, f.attr)
        if value is None:
            continue
        if f.item is not None:
            if not value:
                continue
            wrapper = etree.SubElement(parent, q(f.xml))
            for item in value:
                _encode_value(q, etree.SubElement(wrapper, q(f.item)), f.base, item)
            continue
        if f.base is RawXml:
            parent.append(etree.fromstring(value.xml, _PARSER))
            continue
        _encode_value(q, etree.SubElement(parent, q(f.xml)), f.base, value)


def _encode_value(q: Callable[[str], str], el: etree._Element, base: Any, value: Any) -> None:
    if base is bool:
        el.text = "true" if value else "false"
    elif base is str or base is int:
        el.text = str(value)
    elif isinstance(value, OpenEnum):
        el.text = value.value
    elif base is DeviceID:
        _encode_device(q, el, value)
    elif base is EventDevice:
        child = etree.SubElement(el, q(value.choice.value))
        if value.device is not None:
            _encode_device(q, child, value.device)
    elif base is ConnectionID:
        if value.callID_as_text and value.deviceID is None:
            el.text = value.callID
        else:
            if value.callID is not None:
                etree.SubElement(el, q("callID")).text = value.callID
            if value.deviceID is not None:
                _encode_device(q, etree.SubElement(el, q("deviceID")), value.deviceID)
    elif base is RawXml:  # pragma: no cover - handled by the caller
        raise AssertionError("raw values are appended whole")
    else:
        _encode_struct(q, el, value)


def _encode_device(q: Callable[[str], str], el: etree._Element, device: DeviceID) -> None:
    if device.form is DeviceForm.TEXT:
        el.text = device.value
        if device.typeOfNumber is not None:
            el.set("typeOfNumber", device.typeOfNumber)
        return
    child = etree.SubElement(el, q(device.form.value))
    child.text = device.value
    if device.typeOfNumber is not None:
        child.set("typeOfNumber", device.typeOfNumber)
