"""Hypothesis strategies derived from the model's annotations: every message
type gets generated without writing a strategy per type."""

from __future__ import annotations

import dataclasses
import types
import typing
from typing import Any

from hypothesis import strategies as st

from uacsta.csta.errors import VALUES, CSTAErrorCode, ErrorCategory
from uacsta.csta.model import CstaMessage
from uacsta.csta.types import (
    ConnectionID,
    DeviceChoice,
    DeviceForm,
    DeviceID,
    EventDevice,
    OpenEnum,
    RawXml,
)

# No whitespace at either end (values are trimmed), XML-special characters included.
TEXT = st.text(
    alphabet=st.sampled_from("abcXYZ0189@:+;=._-<>&'\"/|#*~äé中"), min_size=1, max_size=20
)
# The value types are named tuples: built explicitly (builds() would invent
# values for their defaulted fields).
DEVICE = st.tuples(
    TEXT,
    st.none() | st.sampled_from(["dialingNumber", "deviceNumber", "other"]),
    st.sampled_from(list(DeviceForm)),
).map(lambda t: DeviceID(*t))
EVENT_DEVICE = st.one_of(
    DEVICE.map(lambda d: EventDevice(DeviceChoice.DEVICE_IDENTIFIER, d)),
    st.sampled_from(
        [EventDevice(c) for c in DeviceChoice if c is not DeviceChoice.DEVICE_IDENTIFIER]
    ),
)
CALL_ID = st.one_of(st.integers(-99, 99999).map(str), TEXT)
CONNECTION = st.one_of(
    st.tuples(CALL_ID, st.none() | DEVICE).map(lambda t: ConnectionID(t[0], t[1])),
    DEVICE.map(lambda d: ConnectionID(None, d)),
    CALL_ID.map(lambda c: ConnectionID(c, None, True)),
)


def for_type(t: Any) -> st.SearchStrategy[Any]:
    origin = typing.get_origin(t)
    if origin in (typing.Union, types.UnionType):
        args = [a for a in typing.get_args(t) if a is not type(None)]
        return st.none() | for_type(args[0])
    if origin is list:
        return st.lists(for_type(typing.get_args(t)[0]), max_size=3)
    if t is str:
        return TEXT
    if t is int:
        return st.integers(0, 10**9)
    if t is bool:
        return st.booleans()
    if t is DeviceID:
        return DEVICE
    if t is EventDevice:
        return EVENT_DEVICE
    if t is ConnectionID:
        return CONNECTION
    if t is RawXml:
        return st.none()  # relayed raw: tested with explicit documents
    if isinstance(t, type) and issubclass(t, OpenEnum):
        return st.sampled_from(list(t))
    if dataclasses.is_dataclass(t):
        return for_class(t)  # type: ignore[arg-type]
    raise TypeError(t)


def for_class(cls: type) -> st.SearchStrategy[Any]:
    hints = typing.get_type_hints(cls)
    kwargs: dict[str, st.SearchStrategy[Any]] = {}
    for f in dataclasses.fields(cls):
        if f.name in ("unknown", "extensions") or hints[f.name] is RawXml:
            continue
        t = hints[f.name]
        if typing.get_origin(t) in (typing.Union, types.UnionType) and RawXml in typing.get_args(t):
            continue
        kwargs[f.name] = for_type(t)
    return st.builds(cls, **kwargs)


def message(cls: type[CstaMessage]) -> st.SearchStrategy[CstaMessage]:
    return for_class(cls)


ERROR = st.one_of(
    *[
        st.builds(CSTAErrorCode.of, st.just(cat), st.sampled_from([m.value for m in kind]))
        for cat, kind in VALUES.items()
        if kind is not None
    ],
    st.builds(CSTAErrorCode.of, st.just(ErrorCategory.UNSPECIFIED), st.just("")),
    st.builds(CSTAErrorCode.of, st.just(ErrorCategory.PRIVATE_DATA), TEXT),
)
