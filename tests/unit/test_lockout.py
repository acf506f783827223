"""The lock-out (lockout.py) with time passed in: per source and user, per
source across user names with a growing back-off, users known to work let
through."""

from __future__ import annotations

from uacsta.lockout import Lockout


def test_per_user_lock() -> None:
    lock = Lockout(max_failures=3, window=60.0, source_max_failures=100)
    for _ in range(3):
        lock.failed("10.0.0.1", "a", 0.0)
    assert lock.locked("10.0.0.1", "a", 1.0)
    assert not lock.locked("10.0.0.1", "b", 1.0)
    assert not lock.locked("10.0.0.2", "a", 1.0)
    assert not lock.locked("10.0.0.1", "a", 61.0)


def test_rotating_user_names_locks_the_source_with_a_growing_backoff() -> None:
    lock = Lockout(max_failures=10, source_max_failures=20, source_window=60.0)
    for i in range(20):
        lock.failed("10.0.0.1", f"mac{i}", float(i) * 0.01)
    assert lock.locked("10.0.0.1", "mac999", 1.0)  # a user never tried: refused too
    assert not lock.locked("10.0.0.1", "mac999", 61.0)
    for i in range(20):  # again: the second lock lasts twice as long
        lock.failed("10.0.0.1", f"x{i}", 62.0)
    assert lock.locked("10.0.0.1", "y", 62.0 + 119.0)
    assert not lock.locked("10.0.0.1", "y", 62.0 + 121.0)
    assert not lock.locked("10.0.0.2", "mac1", 1.0)  # other sources are not affected


def test_a_phone_known_to_work_behind_the_same_nat_is_let_through() -> None:
    lock = Lockout(source_max_failures=20)
    lock.succeeded("192.0.2.7", "000413000001", 0.0)
    for i in range(25):
        lock.failed("192.0.2.7", f"guess{i}", 10.0)
    assert lock.locked("192.0.2.7", "000413999999", 11.0)
    assert not lock.locked("192.0.2.7", "000413000001", 11.0)
    # ...but its own count still applies
    for _ in range(10):
        lock.failed("192.0.2.7", "000413000001", 12.0)
    assert lock.locked("192.0.2.7", "000413000001", 13.0)


def test_the_backoff_is_capped_and_forgotten_after_a_quiet_spell() -> None:
    lock = Lockout(source_max_failures=1, source_window=60.0, max_backoff=300.0)
    now = 0.0
    for _ in range(6):
        lock.failed("s", "u", now)
        now += 400.0  # past each lock: the next failure locks again, longer
    lock.failed("s", "u", now)
    assert lock.locked("s", "v", now + 299.0) and not lock.locked("s", "v", now + 301.0)
    lock.expire(now + 301.0 + 301.0)
    lock.failed("s", "u", now + 700.0)
    assert not lock.locked("s", "v", now + 700.0 + 61.0)  # back to the first step
