"""Lock-out after repeated wrong passwords, per source address and user: the
same rule for phones (REGISTER) and clients (every face).  Time is passed in."""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass(slots=True)
class _Failures:
    count: int = 0
    since: float = 0.0


@dataclass
class Lockout:
    max_failures: int = 10  # wrong passwords per source and user...
    window: float = 60.0  # ...within this many seconds lock them out as long
    _failures: dict[tuple[str, str], _Failures] = field(default_factory=dict)

    def locked(self, source: str, user: str, now: float) -> bool:
        fail = self._failures.get((source, user))
        if fail is None or fail.count < self.max_failures:
            return False
        if now - fail.since < self.window:
            return True
        del self._failures[(source, user)]
        return False

    def failed(self, source: str, user: str, now: float) -> int:
        """Count a wrong password; returns the number of failures so far."""
        fail = self._failures.setdefault((source, user), _Failures(0, now))
        fail.count += 1
        return fail.count

    def succeeded(self, source: str, user: str) -> None:
        self._failures.pop((source, user), None)

    def expire(self, now: float) -> None:
        stale = [k for k, f in self._failures.items() if now - f.since > self.window]
        for k in stale:
            del self._failures[k]
