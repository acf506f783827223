from __future__ import annotations

import asyncio
import ssl
from collections.abc import AsyncIterator
from pathlib import Path
from typing import TYPE_CHECKING

import httpx
import pytest

from uacsta.config import Config
from uacsta.runtime.loop import LoopFactory, loop_factory
from uacsta.server import UacstaServer
from uacsta.settings import default_client_connection, default_phone_connection
from uacsta.store import repo
from uacsta.store.db import Database

if TYPE_CHECKING:
    from tests.integration.switching import Lab

PHONE_PASSWORD = "s3cret-phone-pw"


CLIENT_LOGIN = "crm"
CLIENT_PASSWORD = "s3cret-client-pw"


async def prepare_store(
    data_dir: Path,
    client_settings: dict[str, object] | None = None,
    database_url: str = "",
    **advanced: object,
) -> None:
    """Settings a test server starts with: ephemeral ports on loopback, and
    two client logins (all devices; devices 201*); in the data folder's
    SQLite, or the database given."""
    client_settings = client_settings or {}
    data_dir.mkdir(parents=True, exist_ok=True)
    db = Database(database_url or f"sqlite+aiosqlite:///{data_dir / 'uacsta.db'}")
    await db.migrate()
    conn = default_phone_connection()
    conn.lan.address = "127.0.0.1"
    conn.lan.tcp_port = 0
    conn.lan.tls_port = 0
    await repo.save_section(db, "phone_connection", conn)
    clients = default_client_connection()
    clients.lan.address = "127.0.0.1"
    clients.lan.tcp_port = clients.lan.tls_port = 0
    clients.lan.http_port = clients.lan.https_port = 0
    clients.lan.csta_tcp_port = clients.lan.csta_tls_port = 0
    for key, value in client_settings.items():
        setattr(clients, key, value)
    await repo.save_section(db, "client_connection", clients)
    # Mitel phones' configuration server on any free port (tests run side by side).
    await repo.set_path(db, "provisioning.http_port", "0")
    await repo.set_client_login(db, CLIENT_LOGIN, CLIENT_PASSWORD, "uacsta")
    await repo.set_client_login(db, "limited", CLIENT_PASSWORD, "uacsta", ["201*"])
    if advanced:
        adv = (await repo.load_section(db, "advanced")).model_dump()
        adv.update(advanced)
        await repo.save_section(db, "advanced", adv)
    from uacsta.secrets_box import SecretBox

    await repo.set_secret(
        db, SecretBox(data_dir / "secret.key"), repo.PHONE_PASSWORD, PHONE_PASSWORD
    )
    await db.close()


ADMIN_PASSWORD = "s3cret-admin-pw"


def make_config(data_dir: Path, admin: bool = False) -> Config:
    """The admin web UI only where a test asks for it (``@pytest.mark.admin_ui``)."""
    return Config(
        data_dir=data_dir,
        host_name="localhost",
        console_log_level="WARNING",
        admin_listen="127.0.0.1:0" if admin else "",
    )


@pytest.fixture
async def server(tmp_path: Path, request: pytest.FixtureRequest) -> AsyncIterator[UacstaServer]:
    marker = request.node.get_closest_marker("advanced")
    clients = request.node.get_closest_marker("client_connection")
    await prepare_store(
        tmp_path / "data",
        clients.kwargs if clients else None,
        **(marker.kwargs if marker else {}),
    )
    admin = request.node.get_closest_marker("admin_ui") is not None
    if admin:
        from uacsta.admin.auth import AdminAuth

        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'uacsta.db'}")
        await AdminAuth(db).set_password("admin", ADMIN_PASSWORD)
        await db.close()
    srv = UacstaServer(make_config(tmp_path / "data", admin=admin))
    await srv.start()
    try:
        yield srv
    finally:
        await srv.stop()


def client_tls(server: UacstaServer) -> ssl.SSLContext:
    """A TLS client that trusts the server's generated CA and checks the name."""
    assert server.certificates.paths is not None and server.certificates.paths.ca is not None
    ctx = ssl.create_default_context(cafile=str(server.certificates.paths.ca))
    return ctx


async def eventually(check, timeout: float = 5.0) -> None:  # type: ignore[no-untyped-def]
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        result = check()
        if asyncio.iscoroutine(result):
            result = await result
        if result:
            return
        if asyncio.get_running_loop().time() > deadline:
            raise AssertionError("condition not met in time")
        await asyncio.sleep(0.05)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line("markers", "advanced(**kw): advanced settings for the server fixture")
    config.addinivalue_line(
        "markers", "client_connection(**kw): client connection settings for the server fixture"
    )
    config.addinivalue_line("markers", "admin_ui: the server fixture runs the admin web UI")
    config.addinivalue_line(
        "markers", "both_loops: run under asyncio's own event loop and under uvloop"
    )


def pytest_asyncio_loop_factories(
    config: pytest.Config, item: pytest.Item
) -> dict[str, LoopFactory]:
    """The server's default loop (asyncio's) for every test; the TLS tests
    (``both_loops``) under uvloop too, the server's other choice, since the two
    loops implement TLS apart (asyncio's sslproto in Python, uvloop's in C)."""
    if item.get_closest_marker("both_loops"):
        return {"asyncio": asyncio.new_event_loop, "uvloop": loop_factory("uvloop")}
    return {"default": loop_factory("asyncio")}


@pytest.fixture
async def lab(server: UacstaServer) -> AsyncIterator[Lab]:
    """A snom and a Yealink phone on one simulated switch, registered with the
    server and controllable (modules that need all six vendors have their own)."""
    from tests.integration.switching import Lab

    lab = Lab(server, ["snom", "yealink"])
    await lab.start()
    yield lab
    await lab.stop()


def admin_url(server: UacstaServer) -> str:
    assert server.admin_ui is not None
    return f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}"


@pytest.fixture
async def api(server: UacstaServer) -> AsyncIterator[httpx.AsyncClient]:
    """The admin REST API, logged in as admin (tests marked ``admin_ui``)."""
    async with httpx.AsyncClient(
        base_url=admin_url(server), auth=("admin", ADMIN_PASSWORD)
    ) as client:
        yield client
