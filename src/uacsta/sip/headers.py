"""Header fields: canonical names, compact forms, ordered multi-value storage."""

from __future__ import annotations

from collections.abc import Iterator
from typing import overload

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


def canonical_name(name: str) -> str:
    lower = name.lower()
    if lower in COMPACT_FORMS:
        return COMPACT_FORMS[lower]
    return _CANONICAL.get(lower, name)


class Headers:
    """Ordered header fields; names compared case-insensitively, compact forms expanded."""

    __slots__ = ("_items",)

    def __init__(self, items: list[tuple[str, str]] | None = None) -> None:
        self._items: list[tuple[str, str]] = []
        for name, value in items or ():
            self.add(name, value)

    def add(self, name: str, value: str) -> None:
        self._items.append((canonical_name(name), value))

    def set(self, name: str, value: str) -> None:
        """Replace every field of that name by one, kept at the first one's place."""
        canon = canonical_name(name)
        key = canon.lower()
        out: list[tuple[str, str]] = []
        placed = False
        for item in self._items:
            if item[0].lower() == key:
                if not placed:
                    out.append((canon, value))
                    placed = True
            else:
                out.append(item)
        if not placed:
            out.append((canon, value))
        self._items = out

    def remove(self, name: str) -> None:
        key = canonical_name(name).lower()
        self._items = [item for item in self._items if item[0].lower() != key]

    @overload
    def get(self, name: str) -> str | None: ...
    @overload
    def get(self, name: str, default: str) -> str: ...
    def get(self, name: str, default: str | None = None) -> str | None:
        key = canonical_name(name).lower()
        for item_name, value in self._items:
            if item_name.lower() == key:
                return value
        return default

    def get_all(self, name: str) -> list[str]:
        """Every field line of that name, as received (not split at commas)."""
        key = canonical_name(name).lower()
        return [value for item_name, value in self._items if item_name.lower() == key]

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
        return iter(self._items)

    def __len__(self) -> int:
        return len(self._items)

    def copy(self) -> Headers:
        new = Headers()
        new._items = list(self._items)
        return new

    def __repr__(self) -> str:
        return f"Headers({self._items!r})"
