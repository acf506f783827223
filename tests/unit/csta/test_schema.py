"""The JSON Schemas generated from the model describe what the JSON form
writes: every generated message of every type validates against its schema,
and the schemas refuse what the JSON form would refuse."""

from __future__ import annotations

import jsonschema_rs
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.unit.csta.strategies import message
from uacsta.csta.jsonform import to_json
from uacsta.csta.model import BY_ROOT, MESSAGE_TYPES, CstaMessage, Kind
from uacsta.csta.schema import components, message_names

COMPONENTS = components()


def validator(name: str) -> jsonschema_rs.Validator:
    return jsonschema_rs.validator_for(
        {"$ref": f"#/components/schemas/{name}", "components": {"schemas": COMPONENTS}}
    )


VALIDATORS = {cls: validator(cls.root()) for cls in MESSAGE_TYPES}


@pytest.mark.parametrize("cls", MESSAGE_TYPES, ids=lambda c: c.__name__)
@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_message_fits_its_schema(cls: type[CstaMessage], data: st.DataObject) -> None:
    doc = to_json(data.draw(message(cls)))
    errors = [e.message for e in VALIDATORS[cls].iter_errors(doc)]
    assert errors == [], (doc, errors)


def test_the_schemas_refuse_what_the_json_form_refuses() -> None:
    check = VALIDATORS[BY_ROOT["MakeCall"]]
    good = {"type": "MakeCall", "callingDevice": "201", "calledDirectoryNumber": "202"}
    assert check.is_valid(good)
    assert not check.is_valid({"type": "MakeCall", "callingDevice": "201"})  # missing field
    assert not check.is_valid({**good, "colour": "red"})  # unknown field
    assert not check.is_valid({**good, "callingDevice": ""})  # empty identifier
    assert not check.is_valid({**good, "type": "AnswerCall"})
    delivered = VALIDATORS[BY_ROOT["DeliveredEvent"]]
    event = {
        "type": "DeliveredEvent",
        "monitorCrossRefID": "1",
        "connection": {"callID": "2", "deviceID": "sip:202@pbx.example"},
        "alertingDevice": {"choice": "notKnown"},
        "callingDevice": "sip:201@pbx.example",
        "calledDevice": "sip:202@pbx.example",
        "lastRedirectionDevice": {"choice": "notRequired"},
        "cause": "newCall",
    }
    assert delivered.is_valid(event)
    assert not delivered.is_valid({**event, "alertingDevice": {"choice": "nobody"}})
    assert not delivered.is_valid({**event, "connection": {"call": "2"}})


def test_one_schema_per_message_and_kind() -> None:
    names = message_names()
    assert len(names) == len(MESSAGE_TYPES)  # one spelling each
    assert set(message_names(Kind.EVENT)) | set(message_names(Kind.REQUEST)) | set(
        message_names(Kind.RESPONSE)
    ) == set(names)
    assert all(COMPONENTS[n]["title"] == n for n in names)
