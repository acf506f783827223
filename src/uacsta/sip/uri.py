"""SIP, SIPS and tel URIs (RFC 3261 section 19.1, RFC 3966) and other absolute URIs."""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass, field

from .errors import SipParseError
from .grammar import format_params, parse_params, split_host_port

_SCHEME_RE = re.compile(r"^([A-Za-z][A-Za-z0-9+\-.]*):(.+)$", re.S)
# Characters that never appear unescaped in a URI (they end it in a header).
_FORBIDDEN = re.compile(r'[ \t\r\n<>"]')
_PHONE_RE = re.compile(r"^\+?[0-9A-Fa-f*#.\-()pPwW]+$")


@dataclass(frozen=True, slots=True)
class SipUri:
    """``sip:`` or ``sips:`` URI.  ``user`` stays escaped as received (RFC 3261 19.1.4)."""

    host: str
    user: str | None = None
    password: str | None = None
    port: int | None = None
    params: dict[str, str | None] = field(default_factory=dict)
    headers: str | None = None
    scheme: str = "sip"

    def __str__(self) -> str:
        out = [self.scheme, ":"]
        if self.user is not None:
            out.append(self.user)
            if self.password is not None:
                out.append(":" + self.password)
            out.append("@")
        out.append(self.host)
        if self.port is not None:
            out.append(f":{self.port}")
        out.append(format_params(self.params))
        if self.headers is not None:
            out.append("?" + self.headers)
        return "".join(out)

    @property
    def aor(self) -> str:
        """The address-of-record form: scheme, user and host only, host lower-cased."""
        user = f"{self.user}@" if self.user is not None else ""
        return f"{self.scheme}:{user}{self.host.lower()}"


@dataclass(frozen=True, slots=True)
class TelUri:
    number: str
    params: dict[str, str | None] = field(default_factory=dict)

    def __str__(self) -> str:
        return f"tel:{self.number}{format_params(self.params)}"

    @property
    def aor(self) -> str:
        return f"tel:{self.number}"


@dataclass(frozen=True, slots=True)
class AbsoluteUri:
    """Any other scheme: kept as text (RFC 3261 allows them in most headers)."""

    scheme: str
    rest: str

    def __str__(self) -> str:
        return f"{self.scheme}:{self.rest}"

    @property
    def aor(self) -> str:
        return str(self)


Uri = SipUri | TelUri | AbsoluteUri


@functools.lru_cache(maxsize=8192)
def parse_uri(text: str) -> Uri:
    """A URI; cached, as a phone repeats the same few URIs in every request
    (the URI types are frozen, so one parsed value can be shared)."""
    if not text or _FORBIDDEN.search(text):
        raise SipParseError(f"bad URI {text[:60]!r}")
    m = _SCHEME_RE.match(text)
    if not m:
        raise SipParseError(f"URI without scheme {text[:60]!r}")
    scheme, rest = m.group(1).lower(), m.group(2)
    if scheme in ("sip", "sips"):
        return _parse_sip(scheme, rest)
    if scheme == "tel":
        number, sep, params = rest.partition(";")
        if not _PHONE_RE.match(number):
            raise SipParseError(f"bad tel number {number!r}")
        return TelUri(number, parse_params(sep + params, "tel URI"))
    return AbsoluteUri(scheme, rest)


def _parse_sip(scheme: str, rest: str) -> SipUri:
    at = rest.rfind("@")
    user: str | None = None
    password: str | None = None
    if at >= 0:
        userinfo, hostpart = rest[:at], rest[at + 1 :]
        if not userinfo:
            raise SipParseError("empty user part in SIP URI")
        # The password is what follows the last ':' in userinfo only when no ';'
        # or '?' follows it (those belong to the user part: RFC 4475 3.1.1.2).
        user, colon, pw = userinfo.rpartition(":")
        if colon and not any(c in pw for c in ";?/"):
            password = pw
        else:
            user = userinfo
    else:
        hostpart = rest
    hostport, qmark, headers = hostpart.partition("?")
    hostport, semi, params = hostport.partition(";")
    host, port = split_host_port(hostport)
    return SipUri(
        host=host,
        user=user,
        password=password,
        port=port,
        params=parse_params(semi + params, "SIP URI"),
        headers=headers if qmark else None,
        scheme=scheme,
    )
