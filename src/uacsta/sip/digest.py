"""HTTP digest authentication for SIP (RFC 2617, RFC 7616, RFC 8760), both sides.

Sans-IO: the time is passed in, the server secret and client cnonce are given
by the caller.  Server side: :class:`DigestServer` issues challenges and checks
credentials against an HA1 the caller looks up, with stale nonces (``stale=true``)
and refused nonce-count replays.  Client side: :func:`answer_challenge`.
"""

from __future__ import annotations

import base64
import enum
import hashlib
import hmac
import secrets
import struct
from collections import OrderedDict
from dataclasses import dataclass

from .errors import SipParseError
from .grammar import quote, read_quoted

_HASHES = {"MD5": hashlib.md5, "SHA-256": hashlib.sha256}
ALGORITHMS = ("MD5", "MD5-sess", "SHA-256", "SHA-256-sess")


def _h(algorithm: str, data: str) -> str:
    base = algorithm.removesuffix("-sess")
    try:
        fn = _HASHES[base]
    except KeyError:
        raise SipParseError(f"unsupported digest algorithm {algorithm!r}") from None
    return fn(data.encode("utf-8", "surrogateescape")).hexdigest()


def compute_ha1(username: str, realm: str, password: str, algorithm: str = "MD5") -> str:
    """H(username:realm:password): what a store keeps instead of the password."""
    return _h(algorithm, f"{username}:{realm}:{password}")


def compute_response(
    *,
    ha1: str,
    algorithm: str,
    method: str,
    uri: str,
    nonce: str,
    qop: str | None,
    nc: str | None,
    cnonce: str | None,
    body: bytes = b"",
) -> str:
    if algorithm.endswith("-sess"):
        ha1 = _h(algorithm, f"{ha1}:{nonce}:{cnonce or ''}")
    if qop == "auth-int":
        ha2 = _h(algorithm, f"{method}:{uri}:" + _h(algorithm, body.decode("latin-1")))
    else:
        ha2 = _h(algorithm, f"{method}:{uri}")
    if qop:
        return _h(algorithm, f"{ha1}:{nonce}:{nc}:{cnonce}:{qop}:{ha2}")
    return _h(algorithm, f"{ha1}:{nonce}:{ha2}")


def parse_auth_params(value: str) -> tuple[str, dict[str, str]]:
    """``Digest a=b, c="d"`` into ("Digest", {"a": "b", "c": "d"}); names lower-cased."""
    value = value.strip()
    scheme, _, rest = value.partition(" ")
    params: dict[str, str] = {}
    i, n = 0, len(rest)
    while i < n:
        while i < n and rest[i] in " \t,":
            i += 1
        if i >= n:
            break
        eq = rest.find("=", i)
        if eq < 0:
            raise SipParseError("bad authentication parameter")
        name = rest[i:eq].strip().lower()
        i = eq + 1
        while i < n and rest[i] in " \t":
            i += 1
        if i < n and rest[i] == '"':
            val, i = read_quoted(rest, i)
        else:
            end = rest.find(",", i)
            end = n if end < 0 else end
            val = rest[i:end].strip()
            i = end
        if not name or name in params:
            raise SipParseError("bad or repeated authentication parameter")
        params[name] = val
    return scheme, params


@dataclass(slots=True, frozen=True)
class DigestCredentials:
    username: str
    realm: str
    nonce: str
    uri: str
    response: str
    algorithm: str = "MD5"
    qop: str | None = None
    nc: str | None = None
    cnonce: str | None = None
    opaque: str | None = None


def parse_credentials(value: str) -> DigestCredentials:
    """An Authorization / Proxy-Authorization header value."""
    scheme, p = parse_auth_params(value)
    if scheme.lower() != "digest":
        raise SipParseError(f"unsupported authentication scheme {scheme!r}")
    try:
        creds = DigestCredentials(
            username=p["username"],
            realm=p["realm"],
            nonce=p["nonce"],
            uri=p["uri"],
            response=p["response"].lower(),
            algorithm=p.get("algorithm", "MD5"),
            qop=p.get("qop"),
            nc=p.get("nc"),
            cnonce=p.get("cnonce"),
            opaque=p.get("opaque"),
        )
    except KeyError as exc:
        raise SipParseError(f"digest credentials without {exc.args[0]}") from None
    if creds.algorithm not in ALGORITHMS:
        raise SipParseError(f"unsupported digest algorithm {creds.algorithm!r}")
    if creds.qop is not None and (
        creds.qop not in ("auth", "auth-int")
        or not creds.nc
        or len(creds.nc) != 8
        or not all(c in "0123456789abcdefABCDEF" for c in creds.nc)
        or not creds.cnonce
    ):
        raise SipParseError("bad qop, nc or cnonce in digest credentials")
    return creds


class Verdict(enum.Enum):
    OK = "ok"
    STALE = "stale"  # right password, nonce too old: challenge again with stale=true
    BAD_RESPONSE = "bad-response"  # wrong password (or wrong user name)
    BAD_NONCE = "bad-nonce"  # not one of ours, or for another realm
    REPLAY = "replay"  # a nonce count we have seen before for this nonce
    NOT_ACCEPTED = "not-accepted"  # an algorithm or qop this server does not allow
    WRONG_URI = "wrong-uri"  # the digest uri is not the request's Request-URI


@dataclass(slots=True, frozen=True)
class Challenge:
    realm: str
    nonce: str
    algorithm: str = "MD5"
    qop: str | None = "auth"
    opaque: str | None = None
    stale: bool = False

    def header_value(self) -> str:
        parts = [f"Digest realm={quote(self.realm)}", f"nonce={quote(self.nonce)}"]
        if self.opaque is not None:
            parts.append(f"opaque={quote(self.opaque)}")
        parts.append(f"algorithm={self.algorithm}")
        if self.qop:
            parts.append(f'qop="{self.qop}"')
        if self.stale:
            parts.append("stale=TRUE")
        return ", ".join(parts)


class DigestServer:
    """Nonces are self-validating (time + HMAC), so they need no table; only
    nonce counts are remembered, for at most ``max_tracked`` nonces."""

    def __init__(
        self,
        realm: str,
        secret: bytes,
        *,
        nonce_lifetime: float = 300.0,
        algorithms: tuple[str, ...] = ("MD5",),
        max_tracked: int = 100_000,
    ) -> None:
        self.realm = realm
        self._secret = secret
        self.nonce_lifetime = nonce_lifetime
        self.algorithms = algorithms
        self._seen_nc: OrderedDict[str, int] = OrderedDict()
        self._max_tracked = max_tracked

    def make_nonce(self, now: float) -> str:
        stamp = struct.pack(">d", now) + secrets.token_bytes(8)
        mac = hmac.new(self._secret, stamp + self.realm.encode(), hashlib.sha256).digest()[:16]
        return base64.urlsafe_b64encode(stamp + mac).decode().rstrip("=")

    def _nonce_time(self, nonce: str) -> float | None:
        try:
            raw = base64.urlsafe_b64decode(nonce + "=" * (-len(nonce) % 4))
        except (ValueError, TypeError):
            return None
        if len(raw) != 32:
            return None
        stamp, mac = raw[:16], raw[16:]
        good = hmac.new(self._secret, stamp + self.realm.encode(), hashlib.sha256).digest()[:16]
        if not hmac.compare_digest(mac, good):
            return None
        (issued,) = struct.unpack(">d", stamp[:8])
        return float(issued)

    def challenges(self, now: float, *, stale: bool = False) -> list[Challenge]:
        """One challenge per allowed algorithm, preferred first (RFC 8760 section 2.4)."""
        nonce = self.make_nonce(now)
        return [Challenge(self.realm, nonce, alg, "auth", None, stale) for alg in self.algorithms]

    def verify(
        self,
        creds: DigestCredentials,
        method: str,
        ha1: str,
        now: float,
        body: bytes = b"",
        request_uri: str | None = None,
    ) -> Verdict:
        """``ha1`` must have been computed with ``creds.algorithm``.  Only what
        the challenge offered is accepted: its algorithms (no -sess variant)
        and qop=auth (not auth-int).  With ``request_uri`` the digest uri must
        name it (RFC 3261 22.4), so that an answer cannot be replayed to
        another target."""
        if creds.realm != self.realm:
            return Verdict.BAD_NONCE
        if creds.algorithm not in self.algorithms:
            return Verdict.NOT_ACCEPTED
        if creds.qop != "auth":
            # RFC 2069 compatibility answers (no qop) carry no nonce count and
            # cannot be protected against replay; auth-int is never offered.
            return Verdict.NOT_ACCEPTED
        if request_uri is not None and not same_uri(creds.uri, request_uri):
            return Verdict.WRONG_URI
        issued = self._nonce_time(creds.nonce)
        if issued is None or issued > now + 5:
            return Verdict.BAD_NONCE
        expected = compute_response(
            ha1=ha1,
            algorithm=creds.algorithm,
            method=method,
            uri=creds.uri,
            nonce=creds.nonce,
            qop=creds.qop,
            nc=creds.nc,
            cnonce=creds.cnonce,
            body=body,
        )
        if not hmac.compare_digest(expected, creds.response):
            return Verdict.BAD_RESPONSE
        if now - issued > self.nonce_lifetime:
            return Verdict.STALE
        nc = int(creds.nc or "0", 16)
        last = self._seen_nc.get(creds.nonce, 0)
        if nc <= last:
            return Verdict.REPLAY
        self._seen_nc[creds.nonce] = nc
        self._seen_nc.move_to_end(creds.nonce)
        while len(self._seen_nc) > self._max_tracked:
            self._seen_nc.popitem(last=False)
        return Verdict.OK


def same_uri(digest_uri: str, request_uri: str) -> bool:
    """The digest uri names the Request-URI: equal, or equal but for a
    ``;transport=`` parameter that SIPp and real phones leave out of one, or
    (as SIPp writes it) the Request-URI's host and port without its user."""

    def plain(uri: str) -> str:
        parts = [p for p in uri.strip().split(";") if not p.lower().startswith("transport=")]
        return ";".join(parts).lower()

    given, wanted = plain(digest_uri), plain(request_uri)
    if given == wanted:
        return True
    scheme, _, rest = wanted.partition(":")
    _user, at, hostport = rest.partition("@")
    return bool(at) and given == f"{scheme}:{hostport}"


def answer_challenge(
    challenge_value: str,
    *,
    method: str,
    uri: str,
    username: str,
    password: str,
    nc: int = 1,
    cnonce: str | None = None,
    body: bytes = b"",
) -> str:
    """The Authorization value answering a WWW-Authenticate/Proxy-Authenticate value."""
    scheme, p = parse_auth_params(challenge_value)
    if scheme.lower() != "digest":
        raise SipParseError(f"unsupported authentication scheme {scheme!r}")
    realm = p.get("realm", "")
    nonce = p.get("nonce", "")
    algorithm = p.get("algorithm", "MD5")
    if algorithm not in ALGORITHMS:
        raise SipParseError(f"unsupported digest algorithm {algorithm!r}")
    offered = [q.strip() for q in p.get("qop", "").split(",") if q.strip()]
    qop = "auth" if "auth" in offered else ("auth-int" if "auth-int" in offered else None)
    cnonce = cnonce or secrets.token_hex(8)
    nc_text = f"{nc:08x}"
    ha1 = compute_ha1(username, realm, password, algorithm.removesuffix("-sess"))
    response = compute_response(
        ha1=ha1,
        algorithm=algorithm,
        method=method,
        uri=uri,
        nonce=nonce,
        qop=qop,
        nc=nc_text,
        cnonce=cnonce,
        body=body,
    )
    parts = [
        f"Digest username={quote(username)}",
        f"realm={quote(realm)}",
        f"nonce={quote(nonce)}",
        f"uri={quote(uri)}",
        f"response={quote(response)}",
        f"algorithm={algorithm}",
    ]
    if qop:
        parts += [f"qop={qop}", f"nc={nc_text}", f"cnonce={quote(cnonce)}"]
    if "opaque" in p:
        parts.append(f"opaque={quote(p['opaque'])}")
    return ", ".join(parts)
