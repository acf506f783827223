"""Admin logins: a name and password verified a moment ago are taken again
without argon2, but never once the stored password changed or is gone."""

from __future__ import annotations

from pathlib import Path

from uacsta.admin.auth import AdminAuth
from uacsta.store import repo
from uacsta.store.db import Database


async def test_a_verified_password_is_remembered_until_it_changes(tmp_path: Path) -> None:
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'uacsta.db'}")
    await db.migrate()
    try:
        auth = AdminAuth(db)
        await auth.set_password("ops", "first-Password-1")
        checks = 0
        real_check = auth._check

        def counting(password_hash: str, password: str) -> bool:
            nonlocal checks
            checks += 1
            return real_check(password_hash, password)

        auth._check = counting  # type: ignore[method-assign]
        assert await auth.verify("ops", "first-Password-1", "192.0.2.1")
        assert await auth.verify("ops", "first-Password-1", "192.0.2.1")
        assert checks == 1  # the second time without argon2
        assert not await auth.verify("ops", "wrong-Password-1", "192.0.2.1")
        assert checks == 2
        # another process (the CLI) changes it: the old one is refused at once
        await AdminAuth(db).set_password("ops", "second-Password-2")
        assert not await auth.verify("ops", "first-Password-1", "192.0.2.1")
        assert await auth.verify("ops", "second-Password-2", "192.0.2.1")
        await repo.remove_admin(db, "ops")
        assert not await auth.verify("ops", "second-Password-2", "192.0.2.1")
    finally:
        await db.close()
