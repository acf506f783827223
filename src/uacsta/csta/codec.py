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
from collections.abc import Callable, Mapping
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
# How CSTA XML travels in SIP (protocol notes 1.2): the one header set for
# INVITE and INFO bodies, phones' and clients' and the simulator's alike.
CSTA_TYPE = "application/csta+xml"
CSTA_HEADERS = [("Content-Type", CSTA_TYPE), ("Content-Disposition", "signal;handling=required")]
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


_LOCAL_NAMES: dict[str, str] = {}


def _local(el: etree._Element) -> str:
    tag = el.tag
    if not isinstance(tag, str):
        return ""
    name = _LOCAL_NAMES.get(tag)
    if name is None:
        name = tag.rpartition("}")[2]
        if len(_LOCAL_NAMES) < 10000:  # bounded: peers choose the tags
            _LOCAL_NAMES[tag] = name
    return name


def edition_of(namespace: str | None) -> int | None:
    if not namespace:
        return None
    if namespace == YEALINK_NAMESPACE:
        return 5
    for edition, ns in NAMESPACES.items():
        if ns == namespace:
            return edition
    return None


_XMLNS = re.compile(rb'xmlns\s*=\s*["\']([^"\']{1,200})["\']')


def sniff_edition(data: bytes, default: int = 5) -> int:
    """The edition a peer writes in (the default namespace of its body), so
    that it is answered in the same; ``default`` when there is none (ed2 is
    answered in ed3, the oldest we write)."""
    m = _XMLNS.search(data[:1024])
    edition = edition_of(m.group(1).decode("ascii", "replace")) if m else None
    if edition is None:
        return default
    return max(edition, 3)


# -- field plans, built once per class from its annotations --------------------------


@dataclass(frozen=True, slots=True)
class Field:
    attr: str
    xml: str
    base: Any
    optional: bool
    item: str | None  # list item element name

    @property
    def decoder(self) -> Callable[[etree._Element, str], Any]:
        return _decoder_for(self.base)


@functools.cache
def field_plan(cls: type) -> tuple[Field, ...]:
    hints = typing.get_type_hints(cls)
    out: list[Field] = []
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
        out.append(Field(f.name, f.metadata.get("xml", f.name), t, optional, item))
    return tuple(out)


@dataclass(frozen=True, slots=True)
class _Meta:
    by_xml: dict[str, tuple[Field, Callable[[etree._Element, str], Any]]]
    required: tuple[Field, ...]
    has_unknown: bool
    cls: type
    defaults: dict[str, Any]
    # Plain (not frozen, no slots, no list fields) classes are built without
    # their generated keyword-only __init__, a third of decoding time; the
    # others through __init__, which gives each instance its own lists.
    direct: bool

    def build(self, values: dict[str, Any]) -> Any:
        if not self.direct:
            try:
                return self.cls(**values)
            except TypeError as exc:
                raise _Invalid(str(exc)) from None
        obj: Any = object.__new__(self.cls)
        state = obj.__dict__
        state.update(self.defaults)
        state.update(values)
        return obj


@functools.cache
def _meta(cls: type) -> _Meta:
    plan = field_plan(cls)
    fields = dataclasses.fields(cls)
    has_lists = any(
        f.default_factory is not dataclasses.MISSING and f.name != "unknown" for f in fields
    )
    params = cls.__dataclass_params__  # type: ignore[attr-defined]
    return _Meta(
        by_xml={f.xml: (f, f.decoder) for f in plan},
        required=tuple(f for f in plan if not f.optional),
        has_unknown=any(f.name == "unknown" for f in fields),
        cls=cls,
        defaults={f.name: f.default for f in fields if f.default is not dataclasses.MISSING},
        direct=not (has_lists or params.frozen or hasattr(cls, "__slots__")),
    )


# -- decoding ---------------------------------------------------------------------------------


def decode(
    data: bytes | str, roots: Mapping[str, type[CstaMessage]] = BY_ROOT
) -> CstaMessage | CSTAErrorCode | DecodeError:
    """A CSTA message, a CSTAErrorCode, or a DecodeError saying why not.
    ``roots``: the messages to know by their root element (ECMA-323's by
    default; the TCP face adds ECMA-354's application session services)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    if len(data) > MAX_SIZE:
        return DecodeError(f"message larger than {MAX_SIZE} bytes")
    refusal = _not_utf8(data)
    if refusal:
        return DecodeError(refusal)
    if b"<!" in data and _FORBIDDEN.search(data):
        return DecodeError("DOCTYPE and entity declarations are not accepted")
    try:
        return _decode(data, roots)
    except Exception as exc:  # the codec never raises on what a peer sends
        return DecodeError(f"{INTERNAL} ({type(exc).__name__})")


# A reason the fuzzers look for: a decode that got this far is a bug.
INTERNAL = "internal error reading the message"
_BOMS = (b"\xff\xfe", b"\xfe\xff", b"\x00\x00\xfe\xff")
_DECLARED = re.compile(
    rb"^(?:\xef\xbb\xbf)?\s*<\?xml[^>]{0,200}?encoding\s*=\s*[\"']([^\"']{0,40})"
)
_UTF8_NAMES = frozenset({"utf-8", "utf8", "us-ascii", "ascii"})


def _not_utf8(data: bytes) -> str:
    """Why a body is not UTF-8 (its BOM, a NUL, its declaration), or "".

    Only UTF-8 is read: a UTF-16 or UTF-32 body would slip past the byte-level
    DOCTYPE check above and be decoded by the parser all the same."""
    if data.startswith(_BOMS) or b"\x00" in data:
        return "only UTF-8 is accepted (UTF-16 or UTF-32 body)"
    declared = _DECLARED.match(data)
    if declared and declared.group(1).decode("ascii", "replace").lower() not in _UTF8_NAMES:
        return "only UTF-8 is accepted (declared encoding)"
    return ""


def _decode(
    data: bytes, roots: Mapping[str, type[CstaMessage]]
) -> CstaMessage | CSTAErrorCode | DecodeError:
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
        cls = roots.get(name)
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
    meta = _meta(cls)
    by_xml = meta.by_xml
    values: dict[str, Any] = {}
    unknown: list[RawXml] = []
    names = _LOCAL_NAMES
    for child in el:
        name = names.get(child.tag) or _local(child)  # type: ignore[arg-type]
        if not name:
            continue
        entry = by_xml.get(name)
        if entry is None:
            if meta.has_unknown:
                if name == "extensions":
                    values["extensions"] = _raw(child, where)
                else:
                    unknown.append(_raw(child, where))
            continue
        f, decoder = entry
        if f.attr in values:
            continue  # a repeated element: the first one counts
        if f.item is not None:
            item_name = f.item
            values[f.attr] = [decoder(item, where) for item in child if _local(item) == item_name]
        else:
            values[f.attr] = decoder(child, where)
    for f in meta.required:
        if f.attr not in values:
            raise _Invalid(f"missing {f.xml}")
    if meta.has_unknown:
        values["unknown"] = unknown
    return meta.build(values)


@functools.cache
def _decoder_for(base: Any) -> Callable[[etree._Element, str], Any]:
    decoder = _DECODERS.get(base)
    if decoder is not None:
        return decoder
    if isinstance(base, type) and issubclass(base, OpenEnum):
        enum_cls = base

        members = enum_cls._value2member_map_

        def decode_enum(el: etree._Element, where: str) -> Any:
            text = (el.text or "").strip()
            member = members.get(text)
            if member is not None:
                return member
            try:
                return enum_cls(text)
            except ValueError:
                raise _Invalid(f"{where}: bad value {text[:40]!r}") from None

        return decode_enum
    if dataclasses.is_dataclass(base):
        struct_cls = cast(type, base)
        return lambda el, where: _decode_struct(struct_cls, el, f"{where}/{_local(el)}")
    raise TypeError(f"cannot decode {base!r}")  # pragma: no cover - a model bug


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
    ton = el.get("typeOfNumber")
    if not len(el):
        value = (el.text or "").strip()
        if not value:
            raise _Invalid(f"{where}: empty device identifier")
        return DeviceID(value, ton)
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:  # comments or processing instructions only
        value = (el.text or "").strip()
        if not value:
            raise _Invalid(f"{where}: empty device identifier")
        return DeviceID(value, ton)
    child = children[0]
    form = _ID_FORMS.get(_local(child))
    if form is None or len(children) > 1:
        raise _Invalid(f"{where}: unexpected {_local(child)!r} in a device identifier")
    return DeviceID(_text(child), ton or child.get("typeOfNumber"), form)


_CHOICES = {c.value: c for c in DeviceChoice}


def _decode_event_device(el: etree._Element, where: str) -> EventDevice:
    children = [c for c in el if isinstance(c.tag, str)]
    if not children:
        text = _text(el)
        if text:  # some phones write the identifier directly
            return EventDevice(DeviceChoice.DEVICE_IDENTIFIER, DeviceID(text))
        raise _Invalid(f"{where}: empty device")
    child = children[0]
    choice = _CHOICES.get(_local(child))
    if choice is None:
        raise _Invalid(f"{where}: unexpected {_local(child)!r}")
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


def raw_tree(raw: RawXml) -> etree._Element | None:
    """A kept element as a tree, read by the one hardened parser (None when
    it does not parse: it came from a peer)."""
    try:
        return etree.fromstring(raw.xml, _PARSER)
    except etree.XMLSyntaxError:
        return None


def _raw(el: etree._Element, where: str) -> RawXml:
    """An element kept to be relayed: it must stand on its own as XML (the
    fuzzer found namespace URIs libxml2 reads once but not twice)."""
    data = etree.tostring(el)
    try:
        etree.fromstring(data, _PARSER)
    except etree.XMLSyntaxError:
        raise _Invalid(f"{where}: element {_local(el)!r} cannot be relayed as XML") from None
    return RawXml(data)


def _decode_str(el: etree._Element, where: str) -> str:
    return (el.text or "").strip()


_DECODERS: dict[Any, Callable[[etree._Element, str], Any]] = {
    str: _decode_str,
    int: _decode_int,
    bool: _decode_bool,
    DeviceID: _decode_device,
    EventDevice: _decode_event_device,
    ConnectionID: _decode_connection,
    RawXml: _raw,
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
    try:
        value = str(kind(text)) if kind is not None and text else text
    except ValueError:
        raise _Invalid(f"bad {category.value} error value {text[:40]!r}") from None
    return CSTAErrorCode(category=category, value=value, unknown=unknown)


# -- encoding ---------------------------------------------------------------------------------


def encode(
    msg: CstaMessage | CSTAErrorCode, edition: int = 5, *, namespace: str | None = None
) -> bytes:
    """The XML document for ``msg`` in the namespace of ``edition`` (3 to 6),
    or in ``namespace`` (to write as a peer does, e.g. Yealink's misspelling).

    Built as text (escaped here) rather than as an lxml tree: several times
    faster, and the output is the same canonical form.
    """
    ns = namespace or NAMESPACES[edition]
    out: list[str] = []
    if isinstance(msg, CSTAErrorCode):
        root = "CSTAErrorCode"
        if msg.category is ErrorCategory.PRIVATE_ERROR_CODE and msg.raw is not None:
            out.append(_raw_text(msg.raw))
        elif msg.value:
            out.append(f"<{msg.category.value}>{_esc(msg.value)}</{msg.category.value}>")
        else:
            out.append(f"<{msg.category.value}/>")
        out.extend(_raw_text(r) for r in msg.unknown)
    else:
        root = msg.root()
        _encode_struct(out, msg)
        out.extend(_raw_text(r) for r in msg.unknown)
        if msg.extensions is not None:
            out.append(_raw_text(msg.extensions))
    text = f'<{root} xmlns="{ns}">' + "".join(out) + f"</{root}>"
    return XML_DECLARATION + text.encode("utf-8")


# Raw strings: the escapes are the pattern's, so no surrogate is in the source
# (which mypyc refuses to compile).
_SPECIAL = re.compile(r'[&<>"\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]')
_NOT_XML = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\ud800-\udfff\ufffe\uffff]")


class EncodeError(ValueError):
    """A value that XML 1.0 cannot carry (control characters, lone surrogates)."""


def _esc(text: str) -> str:
    if _SPECIAL.search(text) is None:  # most values: nothing to escape
        return text
    bad = _NOT_XML.search(text)
    if bad is not None:
        raise EncodeError(f"character {bad.group()!r} cannot be sent in CSTA XML")
    return (
        text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;").replace('"', "&quot;")
    )


def _raw_text(raw: RawXml) -> str:
    return raw.xml.decode("utf-8")


Emit = Callable[[list[str], Any], None]


@functools.cache
def _encoders(cls: type) -> tuple[tuple[str, Emit], ...]:
    """(attribute, emitter) per field, each emitter specialised for its type."""
    out: list[tuple[str, Emit]] = []
    for f in field_plan(cls):
        emit = _emitter(f.xml, f.base)
        if f.item is not None:
            out.append((f.attr, _list_emitter(f.xml, _emitter(f.item, f.base))))
        else:
            out.append((f.attr, emit))
    return tuple(out)


def _encode_struct(out: list[str], obj: Any) -> None:
    _compiled_encoder(obj.__class__)(out, obj)


@functools.cache
def _compiled_encoder(cls: type) -> Callable[[list[str], Any], None]:
    """One straight-line function per class: the generic per-field loop costs
    as much as the XML itself.  Text fields are inlined; the others call their
    emitter (bound by name in the function's namespace)."""
    lines = ["def encode(out, obj):", "    append = out.append"]
    namespace: dict[str, Any] = {"esc": _esc}
    choice: tuple[str, ...] = getattr(cls, "CHOICE", ())
    choice_list, choice_others = (choice[0], choice[1:]) if choice else ("", ())
    for i, (f, (attr, emit)) in enumerate(zip(field_plan(cls), _encoders(cls), strict=True)):
        lines.append(f"    v = obj.{attr}")
        lines.append("    if v is not None:")
        start, end = f"<{f.xml}>", f"</{f.xml}>"
        if f.item is None and f.base is str:
            lines.append(f"        append({start!r} + esc(v) + {end!r})")
        elif f.item is None and isinstance(f.base, type) and issubclass(f.base, OpenEnum):
            lines.append(f"        append({start!r} + esc(v.value) + {end!r})")
        elif f.item is None and f.base is bool:
            lines.append(
                f"        append({start + 'true' + end!r} if v else {start + 'false' + end!r})"
            )
        else:
            namespace[f"emit{i}"] = emit
            lines.append(f"        emit{i}(out, v)")
        if f.item is not None and f.attr == choice_list:
            # A CHOICE whose other alternatives are absent: the list stands,
            # even empty (ECMA-323 snapshotData of an idle device).
            others = " and ".join(f"obj.{o} is None" for o in choice_others) or "True"
            lines.append(f"    if not v and {others}:")
            lines.append(f"        append({'<' + f.xml + '/>'!r})")
    code = "\n".join(lines) + "\n"
    exec(compile(code, f"<csta encoder {cls.__name__}>", "exec"), namespace)
    encoder: Callable[[list[str], Any], None] = namespace["encode"]
    return encoder


def _list_emitter(name: str, item: Emit) -> Emit:
    start, end = f"<{name}>", f"</{name}>"

    def emit(out: list[str], values: Any) -> None:
        if values:
            out.append(start)
            for value in values:
                item(out, value)
            out.append(end)

    return emit


def _emitter(name: str, base: Any) -> Emit:
    start, end = f"<{name}>", f"</{name}>"
    if base is bool:
        yes, no = f"{start}true{end}", f"{start}false{end}"
        return lambda out, v: out.append(yes if v else no)
    if base is str:
        return lambda out, v: out.append(start + _esc(v) + end)
    if base is int:
        return lambda out, v: out.append(f"{start}{v}{end}")
    if isinstance(base, type) and issubclass(base, OpenEnum):
        return lambda out, v: out.append(start + _esc(v.value) + end)
    if base is RawXml:
        return lambda out, v: out.append(_raw_text(v))
    if base is DeviceID:
        return lambda out, v: _encode_device(out, name, v)
    if base is EventDevice:

        def emit_event_device(out: list[str], v: EventDevice) -> None:
            if v.device is None:
                out.append(f"{start}<{v.choice.value}/>{end}")
            else:
                out.append(start)
                _encode_device(out, v.choice.value, v.device)
                out.append(end)

        return emit_event_device
    if base is ConnectionID:

        def emit_connection(out: list[str], v: ConnectionID) -> None:
            if v.callID_as_text and v.deviceID is None:
                out.append(start + _esc(v.callID or "") + end)
                return
            out.append(start)
            if v.callID is not None:
                out.append("<callID>" + _esc(v.callID) + "</callID>")
            if v.deviceID is not None:
                _encode_device(out, "deviceID", v.deviceID)
            out.append(end)

        return emit_connection

    def emit_struct(out: list[str], v: Any) -> None:
        out.append(start)
        _encode_struct(out, v)
        out.append(end)

    return emit_struct


def _encode_device(out: list[str], name: str, device: DeviceID) -> None:
    ton = f' typeOfNumber="{_esc(device.typeOfNumber)}"' if device.typeOfNumber is not None else ""
    if device.form is DeviceForm.TEXT:
        out.append(f"<{name}{ton}>{_esc(device.value)}</{name}>")
    else:
        form = device.form.value
        out.append(f"<{name}><{form}{ton}>{_esc(device.value)}</{form}></{name}>")
