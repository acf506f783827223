"""Header fields: canonical names, compact forms, ordered multi-value storage."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import TypeVar, cast, overload

from .grammar import split_top_level

# RFC 3261 section 7.3.3 and the registry of compact forms.
COMPACT_FORMS = {
    "i": "Call-ID",
    "m": "Contact",
    "e": "Content-Encoding",
    "l": "Content-Length",
    "c": "Content-Type",
    "f": "From",
    "s": "Subject",
    "k": "Supported",
    "t": "To",
    "v": "Via",
    "o": "Event",
    "r": "Refer-To",
    "b": "Referred-By",
    "u": "Allow-Events",
    "x": "Session-Expires",
    "a": "Accept-Contact",
    "j": "Reject-Contact",
    "d": "Request-Disposition",
    "y": "Identity",
}
_CANONICAL = {
    name.lower(): name
    for name in (
        "Accept",
        "Accept-Encoding",
        "Accept-Language",
        "Alert-Info",
        "Allow",
        "Allow-Events",
        "Authentication-Info",
        "Authorization",
        "Call-ID",
        "Call-Info",
        "Contact",
        "Content-Disposition",
        "Content-Encoding",
        "Content-Language",
        "Content-Length",
        "Content-Type",
        "CSeq",
        "Date",
        "Error-Info",
        "Event",
        "Expires",
        "From",
        "In-Reply-To",
        "Max-Forwards",
        "Min-Expires",
        "MIME-Version",
        "Organization",
        "Path",
        "Priority",
        "Proxy-Authenticate",
        "Proxy-Authorization",
        "Proxy-Require",
        "Record-Route",
        "Reason",
        "Reply-To",
        "Require",
        "Retry-After",
        "Route",
        "Server",
        "Session-Expires",
        "Subject",
        "Supported",
        "Timestamp",
        "To",
        "Unsupported",
        "User-Agent",
        "Via",
        "Warning",
        "WWW-Authenticate",
        "Min-SE",
        "Subscription-State",
        "Refer-To",
        "Referred-By",
    )
}
# Headers whose values are comma-separated lists (RFC 3261 section 7.3.1).  Not the
# authentication headers: their parameters contain commas.
LIST_HEADERS = frozenset(
    {
        "via",
        "contact",
        "route",
        "record-route",
        "allow",
        "supported",
        "require",
        "proxy-require",
        "unsupported",
        "accept",
        "accept-encoding",
        "accept-language",
        "allow-events",
        "path",
        "content-encoding",
        "content-language",
        "in-reply-to",
    }
)
# Headers that may appear at most once in a message (RFC 4475 section 3.3.8).
SINGLE_HEADERS = frozenset(
    {
        "call-id",
        "cseq",
        "from",
        "to",
        "max-forwards",
        "content-length",
        "content-type",
        "expires",
        "min-expires",
    }
)


_NAME_CACHE: dict[str, str] = {}


def canonical_name(name: str) -> str:
    canon = _NAME_CACHE.get(name)
    if canon is None:
        lower = name.lower()
        canon = COMPACT_FORMS.get(lower) or _CANONICAL.get(lower, name)
        if len(_NAME_CACHE) < 4096:  # bounded: peers choose the names
            _NAME_CACHE[name] = canon
    return canon


_KEY_CACHE: dict[str, str] = {}


def header_key(name: str) -> str:
    """The lower-case canonical name that fields are compared by (``v`` -> ``via``)."""
    key = _KEY_CACHE.get(name)
    if key is None:
        key = canonical_name(name).lower()
        if len(_KEY_CACHE) < 4096:  # bounded: peers choose the names
            _KEY_CACHE[name] = key
    return key


T = TypeVar("T")


class Headers:
    """Ordered header fields; names compared case-insensitively, compact forms expanded.

    Parsed views of header values (From, Via, ...) are cached here and dropped
    on any change, so that a message is parsed once however often it is read.
    Treat what :meth:`cached` returns as read-only.
    """

    __slots__ = ("_first", "_items", "_parsed")

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        # (canonical name, value, lower-case key)
        self._items: list[tuple[str, str, str]] = []
        self._parsed: dict[str, object] | None = None
        # key -> value of the first field of that name, built on the first get():
        # a received message is read a dozen times and never changed.
        self._first: dict[str, str] | None = None
        for name, value in items or ():
            self.add(name, value)

    def cached(self, key: str, parse: Callable[[], T]) -> T:
        if self._parsed is None:
            self._parsed = {}
        elif key in self._parsed:
            return cast(T, self._parsed[key])
        value = parse()
        self._parsed[key] = value
        return value

    def add(self, name: str, value: str) -> None:
        canon = canonical_name(name)
        self._items.append((canon, value, header_key(canon)))
        self._parsed = self._first = None

    @classmethod
    def parsed(cls, items: list[tuple[str, str, str]]) -> Headers:
        """Fields already given as (canonical name, value, :func:`header_key`), as
        the message parser makes them: no copy, no per-field call."""
        new = cls()
        new._items = items
        return new

    def keys(self) -> list[str]:
        """The :func:`header_key` of every field, in order (repeats kept)."""
        return [item[2] for item in self._items]

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name by one, kept at the first one's place."""
        canon = canonical_name(name)
        key = header_key(name)
        out: list[tuple[str, str, str]] = []
        placed = False
        for item in self._items:
            if item[2] == key:
                if not placed:
                    out.append((canon, value, key))
                    placed = True
            else:
                out.append(item)
        if not placed:
            out.append((canon, value, key))
        self._items = out
        self._parsed = self._first = None

    def remove(self, name: str) -> None:
        key = header_key(name)
        self._items = [item for item in self._items if item[2] != key]
        self._parsed = self._first = None

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        first = self._first
        if first is None:
            first = self._first = {}
            for item in reversed(self._items):
                first[item[2]] = item[1]
        return first.get(header_key(name), default)

    def get_all(self, name: str) -> list[str]:
        """Every field line of that name, as received (not split at commas)."""
        key = header_key(name)
        return [item[1] for item in self._items if item[2] == key]

    def get_list(self, name: str) -> list[str]:
        """The values of a list header, split at top-level commas and trimmed."""
        out: list[str] = []
        for value in self.get_all(name):
            out.extend(part.strip() for part in split_top_level(value, ","))
        return out

    def count(self, name: str) -> int:
        return len(self.get_all(name))

    def __contains__(self, name: object) -> bool:
        return isinstance(name, str) and self.get(name) is not None

    def __iter__(self) -> Iterator[tuple[str, str]]:
        return ((item[0], item[1]) for item in self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        new = Headers()
        new._items = list(self._items)
        return new

    def __repr__(self) -> str:
        return f"Headers({list(self)!r})"
