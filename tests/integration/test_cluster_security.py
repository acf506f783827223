"""The cluster on a NATS of the site's own, as docs/scaling.md sets it up:
TLS with the site's CA (``cluster_tls_ca``) and a user with a password in
the URL.  A node given the wrong CA or the wrong password does not start,
and says why."""

from __future__ import annotations

from pathlib import Path

import pytest

from tests.conftest import eventually
from tests.helpers.nats import SecureNats
from tests.integration.test_cluster import SNOM, dnd_event_through, make_node, phone_at
from uacsta.net.tls import generate
from uacsta.server import UacstaServer
from uacsta.sim.switch import SimSwitch


async def test_a_cluster_over_tls_with_a_user_and_a_password(tmp_path: Path) -> None:
    certs = generate(tmp_path / "nats-certs", "localhost")
    assert certs.ca is not None
    nats = SecureNats(tmp_path / "nats", certs)
    await nats.start()
    started: list[UacstaServer] = []
    switch = SimSwitch()
    snom = None
    try:
        for name in ("a", "b"):
            server = await make_node(tmp_path, name, nats.url, cluster_tls_ca=str(certs.ca))
            await server.start()
            started.append(server)
        a, b = started
        snom = phone_at(a, SNOM, switch)
        await snom.start()
        cluster = b.cluster
        assert cluster is not None
        await eventually(lambda: cluster.controllable(SNOM[1]), timeout=10)
        await dnd_event_through(b, "201")
        # Another CA (the one the phones' certificates come from, say): refused.
        other = generate(tmp_path / "other-certs", "localhost")
        wrong_ca = await make_node(tmp_path, "c", nats.url, cluster_tls_ca=str(other.ca))
        with pytest.raises(Exception, match=r"(?i)certificate"):
            await wrong_ca.start()
        await wrong_ca.stop()
        # The right CA, a wrong password: refused.
        bad = nats.url.replace(nats.password, "not-the-password")
        wrong_password = await make_node(tmp_path, "d", bad, cluster_tls_ca=str(certs.ca))
        with pytest.raises(Exception, match=r"(?i)authoriz"):
            await wrong_password.start()
        await wrong_password.stop()
    finally:
        if snom is not None:
            await snom.stop()
        for server in started:
            await server.stop()
        await nats.stop()
