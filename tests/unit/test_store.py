from __future__ import annotations

from pathlib import Path

import pytest

from uacsta.settings import Diagnostics
from uacsta.store import repo
from uacsta.store.db import MIGRATIONS, SCHEMA_REVISION, Database, StoreError


def test_schema_revision_is_the_newest_migration() -> None:
    from alembic.config import Config
    from alembic.script import ScriptDirectory

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    assert ScriptDirectory.from_config(cfg).get_heads() == [SCHEMA_REVISION]


async def test_migrate_twice_and_settings(tmp_path: Path) -> None:
    db = Database(f"sqlite:///{tmp_path / 'x.db'}")  # the async driver is chosen for us
    await db.migrate()
    await db.migrate()
    assert (await repo.load_section(db, "diagnostics")) == Diagnostics()
    rev = await repo.revision(db)
    await repo.set_path(db, "diagnostics.mac_filter", "aabbccddeeff")
    assert await repo.revision(db) == rev + 1
    with pytest.raises(repo.SettingsError):
        await repo.set_path(db, "diagnostics.max_file_size_mb", "0")
    await db.close()


@pytest.mark.parametrize("url", ["mysql://a/b", "nonsense", "sqlite:////no/such/dir/x.db"])
def test_bad_urls(url: str) -> None:
    with pytest.raises(StoreError):
        Database(url)
