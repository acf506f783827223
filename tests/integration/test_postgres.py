"""The store on a real PostgreSQL server (the URL alternative to SQLite).

.ci/run starts the Debian cluster and exports UACSTA_TEST_POSTGRES_URL; without it
this test fails and says how to get one.
"""

from __future__ import annotations

import os
import shutil
from collections.abc import AsyncIterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import text

from tests.conftest import PHONE_PASSWORD, eventually, make_config, prepare_store
from tests.helpers.nats import NatsServer
from tests.helpers.sipphone import SipPhone
from tests.integration.test_cluster import SNOM, YEALINK, dnd_event_through, phone_at
from uacsta.config import Config
from uacsta.secrets_box import SecretBox
from uacsta.server import UacstaServer
from uacsta.settings import default_phone_connection
from uacsta.sim.switch import SimSwitch
from uacsta.store import repo
from uacsta.store.db import Database
from uacsta.store.models import Base, Phone


@pytest.fixture
async def pg() -> AsyncIterator[Database]:
    url = os.environ.get("UACSTA_TEST_POSTGRES_URL")
    if not url:
        pytest.fail(
            "no PostgreSQL: run .ci/run, or set UACSTA_TEST_POSTGRES_URL to an empty "
            "database this test may fill"
        )
    db = Database(url)
    async with db.engine.begin() as conn:  # start from nothing
        for table in [*Base.metadata.tables, "alembic_version"]:
            await conn.execute(text(f"DROP TABLE IF EXISTS {table}"))
    await db.migrate()
    yield db
    await db.close()


async def test_repository_on_postgres(pg: Database, tmp_path: Path) -> None:
    assert pg.engine.dialect.name == "postgresql"
    await repo.set_path(pg, "advanced.sip_expiration", "600")
    assert (await repo.load_section(pg, "advanced")).model_dump()["sip_expiration"] == 600
    box = SecretBox(tmp_path / "key")
    await repo.set_secret(pg, box, repo.PHONE_PASSWORD, "pw")
    assert await repo.get_secret(pg, box, repo.PHONE_PASSWORD) == "pw"
    now = datetime.now(UTC)
    phones = [
        Phone(
            mac=f"000413{i:06X}",
            vendor="snom",
            model="D785",
            firmware="1",
            user_agent="",
            last_ip="127.0.0.1",
            last_port=5,
            last_transport="TCP",
            last_identity="",
            first_login=now,
            last_login=now,
            status="registered",
            enabled=True,
        )
        for i in range(700)
    ]  # more than one upsert batch
    await repo.save_phones(pg, phones)
    phones[0].status = "offline"
    await repo.save_phones(pg, phones[:1])  # the upsert updates
    rows = await repo.list_phones(pg)
    assert len(rows) == 700 and rows[0].status == "offline"
    assert await repo.set_enabled(pg, "000413000001", False)
    assert await repo.remove_phone(pg, "000413000002")
    await repo.set_client_login(pg, "crm", "pw", "uacsta", ["sip:201@pbx"])
    assert [c.name for c in await repo.list_client_logins(pg)] == ["crm"]


async def test_server_on_postgres(pg: Database, tmp_path: Path) -> None:
    conn = default_phone_connection()
    conn.lan.address, conn.lan.tcp_port, conn.lan.tls_port = "127.0.0.1", 0, 0
    await repo.save_section(pg, "phone_connection", conn)
    data = tmp_path / "data"
    await repo.set_secret(pg, SecretBox(data / "secret.key"), repo.PHONE_PASSWORD, PHONE_PASSWORD)
    url = os.environ["UACSTA_TEST_POSTGRES_URL"]
    server = UacstaServer(Config(data_dir=data, database_url=url, host_name="localhost"))
    await server.start()
    try:
        assert server.phones is not None
        phone = SipPhone("001565ABCDEF", "Yealink SIP-T46G 28.81.0.15")
        await phone.connect(server.phones.port("lan", "TCP"))
        assert (await phone.register(PHONE_PASSWORD)).status == 200
        await server.directory.flush()
        row = await repo.get_phone(pg, "001565ABCDEF")
        assert row is not None and row.vendor == "yealink" and row.status == "registered"
        await phone.close()
    finally:
        await server.stop()


async def test_two_nodes_of_a_cluster_share_one_postgres(pg: Database, tmp_path: Path) -> None:
    """Two machines as docs/scaling.md sets them up: one PostgreSQL, one NATS,
    the secret key copied from the first.  A phone registers with node a, one
    with node b; both are in the one telephone list with their nodes; the
    client login made once works on both; a client of node b controls node
    a's phone."""
    url = os.environ["UACSTA_TEST_POSTGRES_URL"]
    first, second = tmp_path / "uc1", tmp_path / "uc2"
    await prepare_store(first, database_url=url)
    second.mkdir()
    shutil.copy(first / "secret.key", second / "secret.key")  # docs/scaling.md, step 2
    nats = NatsServer(tmp_path / "nats")
    await nats.start()
    nodes: list[UacstaServer] = []
    switch = SimSwitch()
    phones = []
    try:
        for data, name in ((first, "uc1"), (second, "uc2")):
            config = make_config(data).model_copy(
                update={
                    "database_url": url,
                    "cluster_url": nats.url,
                    "node_name": name,
                    "cluster_dead_after": 2.0,
                }
            )
            node = UacstaServer(config)
            await node.start()
            nodes.append(node)
        a, b = nodes
        phones = [phone_at(a, SNOM, switch), phone_at(b, YEALINK, switch)]
        for phone in phones:
            await phone.start()
        cluster = b.cluster
        assert cluster is not None
        await eventually(lambda: cluster.controllable(SNOM[1]), timeout=10)
        for node in nodes:
            await node.directory.flush()
        # one telephone list, read by either node, each phone on its own node
        # and in its state there (the other node's rows are followed in the store)
        expected = {SNOM[1]: ("uc1", "controllable"), YEALINK[1]: ("uc2", "controllable")}
        for node in nodes:
            await eventually(
                lambda n=node: (
                    {r["mac"]: (r["node"], r["status"]) for r in n.admin.phone_page()["phones"]}
                    == expected
                ),
                timeout=20,
            )
        stored = {p.mac: p.status for p in await repo.list_phones(pg)}
        assert stored == {SNOM[1]: "controllable", YEALINK[1]: "controllable"}
        await dnd_event_through(b, "201")
    finally:
        for phone in phones:
            await phone.stop()
        for node in nodes:
            await node.stop()
        await nats.stop()
