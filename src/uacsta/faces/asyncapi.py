"""The WebSocket face described for machines and people, from the model.

:func:`document` is the AsyncAPI 3.0 document served at
``/api/v1/asyncapi.json``: the conversation (login, welcome, request,
response, event, error, logout) and every CSTA message with its fields, the
schemas being ``csta.schema``'s.  :func:`catalogue` writes the same as
Markdown: ``docs/csta-messages.md`` is its output (a test keeps it so), for a
developer who reads rather than generates.

    python -m uacsta.faces.asyncapi > docs/csta-messages.md
"""

from __future__ import annotations

import sys
from typing import Any

from .. import __version__
from ..csta.model import Kind
from ..csta.schema import REF, Schema, components, message_names

OP = "#/components/messages/"


def _one_of(kind: Kind, *extra: str) -> Schema:
    return {"oneOf": [{"$ref": REF + n} for n in (*message_names(kind), *extra)]}


def _frame(op: str, description: str, properties: Schema, required: list[str]) -> Schema:
    return {
        "name": op,
        "title": op,
        "summary": description,
        "payload": {
            "type": "object",
            "properties": {"op": {"const": op}, **properties},
            "required": ["op", *required],
        },
    }


def messages() -> dict[str, Schema]:
    seq = {"type": "integer", "minimum": 0, "description": "The session's event number"}
    rid = {"description": "Yours: any JSON value, given back in the response"}
    server_id = {"type": "string", "description": "The server's correlation ID (for support)"}
    call = {
        "type": "string",
        "description": "The server's call reference: one for the call at every phone in it, "
        "accepted in place of a callID",
    }
    return {
        "login": _frame(
            "login",
            "The first message: a client login, optionally resuming a session",
            {
                "user": {"type": "string"},
                "password": {"type": "string"},
                "resume": {
                    "type": "object",
                    "properties": {"session": {"type": "string"}, "seq": seq},
                    "required": ["session", "seq"],
                },
            },
            ["user", "password"],
        ),
        "welcome": _frame(
            "welcome",
            "Logged in: the session and the last event number",
            {"session": {"type": "string"}, "seq": seq},
            ["session", "seq"],
        ),
        "request": _frame(
            "request",
            "A CSTA request; requests may overlap",
            {"id": rid, "csta": _one_of(Kind.REQUEST)},
            ["csta"],
        ),
        "response": _frame(
            "response",
            "The answer to a request, when the phone has answered",
            {
                "id": rid,
                "request": server_id,
                "call": call,
                "csta": _one_of(Kind.RESPONSE, "CSTAErrorCode"),
            },
            ["csta"],
        ),
        "event": _frame(
            "event",
            "A CSTA event of a monitored device, numbered in order",
            {"seq": seq, "call": call, "csta": _one_of(Kind.EVENT)},
            ["seq", "csta"],
        ),
        "error": _frame(
            "error",
            "Something the server could not take; the session goes on (unless closed)",
            {"id": rid, "request": server_id, "reason": {"type": "string"}},
            ["reason"],
        ),
        "logout": _frame("logout", "End the session and its monitors", {}, []),
    }


def document() -> dict[str, Any]:
    sent = ("login", "request", "logout")
    received = ("welcome", "response", "event", "error")
    return {
        "asyncapi": "3.0.0",
        "info": {
            "title": "uacsta client API: CSTA as JSON over WebSocket",
            "version": __version__,
            "description": "Every CSTA service and event of the server in ECMA-323 names "
            "(docs/clients.md). Log in with a client login, then send requests and receive "
            "responses and the events of the devices you monitor.",
        },
        "servers": {
            "lan": {
                "host": "{host}:8090",
                "protocol": "ws",
                "pathname": "/api/v1/ws",
                "variables": {"host": {"default": "127.0.0.1"}},
            },
            "lan-tls": {
                "host": "{host}:8091",
                "protocol": "wss",
                "pathname": "/api/v1/ws",
                "variables": {"host": {"default": "127.0.0.1"}},
            },
        },
        "channels": {
            "session": {
                "address": "/api/v1/ws",
                "messages": {name: {"$ref": OP + name} for name in (*sent, *received)},
            }
        },
        "operations": {
            **{
                f"send_{name}": {
                    "action": "send",
                    "channel": {"$ref": "#/channels/session"},
                    "messages": [{"$ref": f"#/channels/session/messages/{name}"}],
                }
                for name in sent
            },
            **{
                f"receive_{name}": {
                    "action": "receive",
                    "channel": {"$ref": "#/channels/session"},
                    "messages": [{"$ref": f"#/channels/session/messages/{name}"}],
                }
                for name in received
            },
        },
        "components": {"schemas": components(), "messages": messages()},
    }


def _type(schema: Schema) -> str:
    if "$ref" in schema:
        name = schema["$ref"].removeprefix(REF)
        return f"[{name}](#{name.lower()})"
    if schema.get("type") == "array":
        return f"list of {_type(schema['items'])}"
    return str(schema.get("type", "any"))


def catalogue() -> str:
    """Every message and value type, with its fields, as Markdown."""
    schemas = components()
    lines = [
        "# CSTA messages in their JSON form",
        "",
        "Generated from the model (`python -m uacsta.faces.asyncapi`): every request, response",
        "and event the server knows, with its fields in ECMA-323 names. The same schemas are in",
        "the client API's OpenAPI document (`/api/v1/openapi.json`) and the WebSocket face's",
        "AsyncAPI document (`/api/v1/asyncapi.json`). A field marked *required* must be there;",
        "the others are left out when absent. `docs/clients.md` explains the faces.",
        "",
    ]
    for kind, title in (
        (Kind.REQUEST, "Requests"),
        (Kind.RESPONSE, "Responses"),
        (Kind.EVENT, "Events"),
    ):
        lines += [f"## {title}", ""]
        for name in message_names(kind):
            lines += _section(name, schemas[name])
    lines += ["## Value types", ""]
    for name in sorted(n for n in schemas if n not in set(message_names())):
        lines += _section(name, schemas[name])
    return "\n".join(lines).rstrip() + "\n"


def _section(name: str, schema: Schema) -> list[str]:
    out = [f"### {name}", ""]
    if schema.get("description"):
        out += [str(schema["description"]), ""]
    if "enum" in schema:
        out += ["One of: " + ", ".join(f"`{v}`" for v in schema["enum"]), ""]
    elif "examples" in schema and schema.get("type") == "string":
        out += ["For example: " + ", ".join(f"`{v}`" for v in schema["examples"]), ""]
    props = {
        k: v for k, v in schema.get("properties", {}).items() if k != "type" or "const" not in v
    }
    if props:
        required = set(schema.get("required", []))
        out += ["| field | type | |", "|---|---|---|"]
        for field, value in props.items():
            out.append(
                f"| `{field}` | {_type(value)} | {'required' if field in required else ''} |"
            )
        out.append("")
    elif "oneOf" in schema:
        out += ["Either " + " or ".join(_type(s) for s in schema["oneOf"]), ""]
    return out


if __name__ == "__main__":
    sys.stdout.write(catalogue())
