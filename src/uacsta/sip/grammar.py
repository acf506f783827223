"""Small lexical helpers shared by the header and URI parsers (RFC 3261 section 25)."""

from __future__ import annotations

import re

from .errors import SipParseError

# token = 1*(alphanum / "-" / "." / "!" / "%" / "*" / "_" / "+" / "`" / "'" / "~")
TOKEN_CHARS = frozenset("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-.!%*_+`'~")
_TOKEN_RE = re.compile(r"[A-Za-z0-9\-.!%*_+`'~]+")
# Characters a host name, IPv4 address or bracketed IPv6 reference may hold.
_HOST_RE = re.compile(r"^(\[[0-9A-Fa-f:.]+\]|[A-Za-z0-9\-.]+)$")
_LWS = " \t"
# The common spelling of a parameter list: ``;name`` or ``;name=value`` with token
# values (plus the ``[]:`` of IPv6 addresses), no quotes and no white space.  It
# parses to the same dict as the general loop below, which handles the rest.
_PLAIN_PARAMS_RE = re.compile(r"(?:;[A-Za-z0-9\-.!%*_+`'~]+(?:=[A-Za-z0-9\-.!%*_+`'~\[\]:]+)?)+")


def is_token(text: str) -> bool:
    return bool(text) and _TOKEN_RE.fullmatch(text) is not None


def check_host(host: str) -> str:
    if not _HOST_RE.match(host):
        raise SipParseError(f"bad host {host!r}")
    return host


def is_digits(text: str) -> bool:
    """RFC 3261's 1*DIGIT: ASCII digits only (str.isdigit() also takes '²' and
    other Unicode digits, which int() then refuses)."""
    return text.isascii() and text.isdigit()


def parse_port(text: str) -> int:
    if not is_digits(text) or len(text) > 5 or int(text) > 65535:
        raise SipParseError(f"bad port {text!r}")
    return int(text)


def split_host_port(hostport: str) -> tuple[str, int | None]:
    """``host[:port]`` with IPv6 references in brackets."""
    if hostport.startswith("["):
        end = hostport.find("]")
        if end < 0:
            raise SipParseError(f"bad IPv6 reference {hostport!r}")
        host, rest = hostport[: end + 1], hostport[end + 1 :]
        if not rest:
            return check_host(host), None
        if not rest.startswith(":"):
            raise SipParseError(f"bad host and port {hostport!r}")
        return check_host(host), parse_port(rest[1:])
    host, sep, port = hostport.partition(":")
    return check_host(host), (parse_port(port) if sep else None)


def split_top_level(text: str, sep: str) -> list[str]:
    """Split at ``sep`` outside quoted strings and angle brackets."""
    if sep not in text or ('"' not in text and "<" not in text):
        return text.split(sep)
    parts: list[str] = []
    depth = 0
    in_quote = False
    start = 0
    i = 0
    n = len(text)
    while i < n:
        c = text[i]
        if in_quote:
            if c == "\\":
                i += 1
            elif c == '"':
                in_quote = False
        elif c == '"':
            in_quote = True
        elif c == "<":
            depth += 1
        elif c == ">":
            depth = max(0, depth - 1)
        elif c == sep and depth == 0:
            parts.append(text[start:i])
            start = i + 1
        i += 1
    if in_quote:
        raise SipParseError("unterminated quoted string")
    parts.append(text[start:])
    return parts


def read_quoted(text: str, start: int) -> tuple[str, int]:
    """Read the quoted-string beginning at ``text[start] == '"'``.

    Returns the unescaped content and the index after the closing quote.
    """
    end = text.find('"', start + 1)
    if end > 0 and "\\" not in text[start + 1 : end]:
        return text[start + 1 : end], end + 1
    out: list[str] = []
    i = start + 1
    n = len(text)
    while i < n:
        c = text[i]
        if c == "\\":
            if i + 1 >= n:
                break
            out.append(text[i + 1])
            i += 2
            continue
        if c == '"':
            return "".join(out), i + 1
        out.append(c)
        i += 1
    raise SipParseError("unterminated quoted string")


def quote(text: str) -> str:
    return '"' + text.replace("\\", "\\\\").replace('"', '\\"') + '"'


def parse_params(text: str, what: str) -> dict[str, str | None]:
    """``*( SEMI generic-param )`` where ``text`` starts at the first ``;`` (or is empty).

    LWS is allowed around SEMI and EQUAL.  Names are lower-cased (RFC 3261 says
    parameter names are case-insensitive); values are kept as received, quoted
    values unquoted.
    """
    if _PLAIN_PARAMS_RE.fullmatch(text):
        params: dict[str, str | None] = {}
        for item in text[1:].split(";"):
            name, eq, value = item.partition("=")
            params[name.lower()] = value if eq else None
        return params
    return parse_params_general(text, what)


def parse_params_general(text: str, what: str) -> dict[str, str | None]:
    """:func:`parse_params` for every spelling (LWS, quoted values, errors)."""
    params: dict[str, str | None] = {}
    rest = text.strip(_LWS)
    if not rest:
        return params
    if not rest.startswith(";"):
        raise SipParseError(f"unexpected {rest[:20]!r} in {what}")
    for raw in split_top_level(rest[1:], ";"):
        item = raw.strip(_LWS)
        if not item:
            raise SipParseError(f"empty parameter in {what}")
        name, eq, value = item.partition("=")
        name = name.strip(_LWS)
        if not is_token(name):
            raise SipParseError(f"bad parameter name {name!r} in {what}")
        if not eq:
            params[name.lower()] = None
            continue
        value = value.strip(_LWS)
        if value.startswith('"'):
            inner, end = read_quoted(value, 0)
            if value[end:].strip(_LWS):
                raise SipParseError(f"junk after quoted value in {what}")
            params[name.lower()] = inner
        elif value and all(c in TOKEN_CHARS or c in "[]:" for c in value):
            params[name.lower()] = value
        else:
            raise SipParseError(f"bad value for parameter {name!r} in {what}")
    return params


def format_params(params: dict[str, str | None]) -> str:
    out = []
    for name, value in params.items():
        if value is None:
            out.append(f";{name}")
        elif value and all(c in TOKEN_CHARS or c in "[]:" for c in value):
            out.append(f";{name}={value}")
        else:
            out.append(f";{name}={quote(value)}")
    return "".join(out)
