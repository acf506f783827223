"""Engine, migrations and sessions."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from sqlalchemy import event, text
from sqlalchemy.engine import Connection, make_url
from sqlalchemy.exc import ArgumentError
from sqlalchemy.ext.asyncio import (
    AsyncEngine,
    AsyncSession,
    async_sessionmaker,
    create_async_engine,
)

MIGRATIONS = Path(__file__).parent / "migrations"
# The newest migration.  When the database is already there, the CLI skips
# importing Alembic (half a second per command); a unit test keeps this in
# step with the migrations folder.
SCHEMA_REVISION = "0006"


class StoreError(Exception):
    """A database URL or database that cannot be used; the message says why."""


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    # WAL lets the CLI read while the server writes; NORMAL is durable across
    # application crashes, which is what a telephone list needs.
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


class Database:
    file: Path | None = None  # the SQLite file, kept private (0600)

    def __init__(self, url: str) -> None:
        try:
            parsed = make_url(url)
        except ArgumentError as exc:
            raise StoreError(f"bad database URL {url!r}: {exc}") from None
        backend = parsed.get_backend_name()
        if backend == "sqlite":
            if parsed.drivername != "sqlite+aiosqlite":
                parsed = parsed.set(drivername="sqlite+aiosqlite")
            if parsed.database and parsed.database != ":memory:":
                self.file = Path(parsed.database).expanduser().resolve()
                folder = self.file.parent
                if not folder.is_dir():
                    raise StoreError(f"database folder {folder} does not exist")
        elif backend == "postgresql":
            if parsed.drivername != "postgresql+asyncpg":
                parsed = parsed.set(drivername="postgresql+asyncpg")
        else:
            raise StoreError(f"unsupported database {backend!r}: use sqlite or postgresql")
        try:
            self.engine: AsyncEngine = create_async_engine(parsed)
        except (ImportError, ArgumentError) as exc:
            raise StoreError(f"cannot use database URL {url!r}: {exc}") from None
        if backend == "sqlite":
            event.listen(self.engine.sync_engine, "connect", _sqlite_pragmas)
        self.url = parsed.render_as_string(hide_password=True)
        self.sessions = async_sessionmaker(self.engine, expire_on_commit=False)

    def session(self) -> AsyncSession:
        return self.sessions()

    async def migrate(self) -> None:
        """Bring the schema to the newest Alembic revision."""
        try:
            async with self.engine.begin() as conn:
                if await conn.run_sync(_current_revision) == SCHEMA_REVISION:
                    return
                await conn.run_sync(_upgrade)
        except OSError as exc:
            raise StoreError(f"cannot open database {self.url}: {exc}") from None
        except Exception as exc:
            if type(exc).__module__.startswith(("sqlalchemy", "sqlite3", "asyncpg")):
                raise StoreError(f"cannot open database {self.url}: {exc}") from None
            raise
        finally:
            self.keep_private()

    def keep_private(self) -> None:
        """The SQLite file holds client HA1 values (password equivalents):
        readable by the server's user only, with its WAL and shared memory."""
        if self.file is None:
            return
        for path in (self.file, Path(f"{self.file}-wal"), Path(f"{self.file}-shm")):
            with contextlib.suppress(FileNotFoundError, PermissionError):
                path.chmod(0o600)

    async def ping(self) -> None:
        """One round trip to the database (readiness); raises when it cannot."""
        async with self.engine.connect() as conn:
            await conn.execute(text("SELECT 1"))

    async def close(self) -> None:
        await self.engine.dispose()


def _current_revision(connection: Connection) -> str | None:
    from sqlalchemy import inspect, text

    if not inspect(connection).has_table("alembic_version"):
        return None
    row = connection.execute(text("SELECT version_num FROM alembic_version")).first()
    return str(row[0]) if row else None


def _upgrade(connection: Connection) -> None:
    from alembic import command
    from alembic.config import Config

    cfg = Config()
    cfg.set_main_option("script_location", str(MIGRATIONS))
    cfg.attributes["connection"] = connection
    command.upgrade(cfg, "head")


def prepare_data_folder(folder: Path) -> None:
    """The data folder, made if need be, readable by the server's user only
    (0700): it holds the database, the key file and the TLS keys."""
    try:
        folder.mkdir(parents=True, exist_ok=True)
        folder.chmod(0o700)
    except OSError as exc:
        raise StoreError(f"cannot use the data folder {folder}: {exc}") from None
