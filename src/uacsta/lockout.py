"""Lock-out after repeated wrong passwords: the same rule for phones
(REGISTER), clients (every face) and admins, with time passed in.

Two counts, each in a sliding window:

* per source address and user name: ``max_failures`` wrong answers lock that
  pair for ``window`` seconds;
* per source address, across every user name: ``source_max_failures`` wrong
  answers lock the whole address for ``source_window`` seconds, doubling with
  each further lock (at most ``max_backoff``).  Rotating user names (every
  phone shares one password, and its user name is only a MAC) gains nothing.

Many phones behind one NAT address share a source: a user that succeeded from
an address within ``known_for`` seconds keeps being let through while the
address is locked (its own per-user count still applies), so that a
neighbour's failures do not lock out phones that are working.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Failures:
    count: int = 0
    since: float = 0.0


@dataclass(slots=True)
class _Source:
    count: int = 0
    since: float = 0.0
    locked_until: float = 0.0
    locks: int = 0  # how often in a row: the back-off doubles


@dataclass
class Lockout:
    max_failures: int = 10  # wrong passwords per source and user...
    window: float = 60.0  # ...within this many seconds lock them out as long
    source_max_failures: int = 20  # wrong passwords per source, any user names...
    source_window: float = 60.0  # ...within this lock the source this long, doubling
    max_backoff: float = 3600.0
    known_for: float = 86400.0  # a user that succeeded from a source stays let through
    _failures: dict[tuple[str, str], _Failures] = field(default_factory=dict)
    _sources: dict[str, _Source] = field(default_factory=dict)
    _known: dict[tuple[str, str], float] = field(default_factory=dict)

    def locked(self, source: str, user: str, now: float) -> bool:
        """Refuse before checking the password (and before hashing anything)."""
        if self._source_locked(source, now) and not self._is_known(source, user, now):
            return True
        fail = self._failures.get((source, user))
        if fail is None or fail.count < self.max_failures:
            return False
        if now - fail.since < self.window:
            return True
        del self._failures[(source, user)]
        return False

    def _source_locked(self, source: str, now: float) -> bool:
        state = self._sources.get(source)
        return state is not None and now < state.locked_until

    def _is_known(self, source: str, user: str, now: float) -> bool:
        when = self._known.get((source, user))
        return when is not None and now - when < self.known_for

    def failed(self, source: str, user: str, now: float) -> int:
        """Count a wrong password; returns the number of failures of this
        source and user so far."""
        fail = self._failures.get((source, user))
        if fail is None or now - fail.since >= self.window:
            fail = self._failures[(source, user)] = _Failures(0, now)
        fail.count += 1
        state = self._sources.get(source)
        if state is None:
            state = self._sources[source] = _Source(0, now)
        if now - state.since >= self.source_window:
            state.count, state.since = 0, now
        state.count += 1
        if state.count >= self.source_max_failures and now >= state.locked_until:
            state.locks += 1
            backoff = min(self.max_backoff, self.source_window * 2 ** (state.locks - 1))
            state.locked_until = now + backoff
            state.count, state.since = 0, now
        return fail.count

    def succeeded(self, source: str, user: str, now: float) -> None:
        self._failures.pop((source, user), None)
        self._known[(source, user)] = now
        if len(self._known) > 200_000:  # bounded: the oldest are forgotten
            for key in list(self._known)[:50_000]:
                del self._known[key]

    def expire(self, now: float) -> None:
        stale = [k for k, f in self._failures.items() if now - f.since > self.window]
        for k in stale:
            del self._failures[k]
        for source, state in list(self._sources.items()):
            quiet = now - max(state.since, state.locked_until)
            if now >= state.locked_until and quiet > self.max_backoff:
                del self._sources[source]  # a long quiet spell ends the back-off
