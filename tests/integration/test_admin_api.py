"""The admin REST API: every change validated the same way as the web UI,
refused with a clear 4xx that changes nothing; logins, sessions and CSRF."""

from __future__ import annotations

import socket
from pathlib import Path

import httpx
import pytest

from tests.conftest import ADMIN_PASSWORD, PHONE_PASSWORD, admin_url, eventually
from uacsta.server import UacstaServer
from uacsta.sim.phone import SimPhone, SimPhoneConfig

pytestmark = pytest.mark.admin_ui


async def stored(api: httpx.AsyncClient, section: str) -> dict[str, object]:
    r = await api.get(f"/api/settings/{section}")
    assert r.status_code == 200
    return dict(r.json())


@pytest.mark.parametrize(
    ("section", "change", "reason"),
    [
        ("phone_connection", {"lan": {"tcp_port": 70000}}, "less than or equal to 65535"),
        ("phone_connection", {"lan": {"tcp_port": "x"}}, "valid integer"),
        ("phone_connection", {"lan": {"address": "not-an-ip"}}, "is not an IP address"),
        ("client_connection", {"lan": {"http_port": 5555, "https_port": 5555}}, "cannot share"),
        ("advanced", {"sip_expiration": 5}, "greater than or equal to 60"),
        ("advanced", {"keepalive": 99999}, "less than or equal to 3600"),
        ("advanced", {"min_expiration": 3600, "sip_expiration": 600}, "must not exceed"),
        ("diagnostics", {"mac_filter": "0004130001, zz"}, "is not a MAC address"),
        ("diagnostics", {"log_level": "LOUD"}, "log_level"),
        ("diagnostics", {"log_folder": "/proc/uacsta-nope"}, "log"),
        ("tls", {"cert_file": "/etc/hostname", "key_file": ""}, "both a certificate"),
        ("advanced", {"no_such_setting": 1}, "no_such_setting"),
        ("provisioning", {"transport": "UDP"}, "'TCP' or 'TLS'"),
        ("provisioning", {"expiry": 5}, "greater than or equal to 60"),
        ("provisioning", {"server_address": "bad host!"}, "not a host name"),
        ("provisioning", {"concurrency": 0}, "greater than or equal to 1"),
    ],
)
async def test_bad_settings_are_refused_and_change_nothing(
    api: httpx.AsyncClient, section: str, change: dict[str, object], reason: str
) -> None:
    before = await stored(api, section)
    r = await api.patch(f"/api/settings/{section}", json=change)
    assert r.status_code == 422, r.text
    assert reason in r.json()["detail"]
    assert await stored(api, section) == before


async def test_a_port_in_use_is_refused(api: httpx.AsyncClient) -> None:
    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    holder.listen()
    port = holder.getsockname()[1]
    try:
        before = await stored(api, "phone_connection")
        r = await api.patch("/api/settings/phone_connection", json={"lan": {"tcp_port": port}})
        assert r.status_code == 409
        assert f"port {port} on 127.0.0.1 is already in use" in r.json()["detail"]
        assert await stored(api, "phone_connection") == before
    finally:
        holder.close()


async def test_a_certificate_that_does_not_match_its_key(
    api: httpx.AsyncClient, server: UacstaServer, tmp_path: object
) -> None:
    from pathlib import Path

    from uacsta.net import tls

    other = tls.generate(Path(str(tmp_path)) / "other", "elsewhere")
    assert server.certificates.paths is not None
    r = await api.patch(
        "/api/settings/tls",
        json={"cert_file": str(server.certificates.paths.cert), "key_file": str(other.key)},
    )
    assert r.status_code == 422 and "match" in r.json()["detail"]
    assert (await stored(api, "tls"))["cert_file"] == ""


async def test_good_settings_are_stored_and_in_effect(
    api: httpx.AsyncClient, server: UacstaServer
) -> None:
    r = await api.patch("/api/settings/advanced", json={"keepalive": 120, "auto_enable": False})
    assert r.status_code == 200 and r.json()["keepalive"] == 120
    assert (await stored(api, "advanced"))["auto_enable"] is False
    assert server.registrar is not None and server.registrar.policy.auto_enable is False
    r = await api.patch("/api/settings/diagnostics", json={"mac_filter": "00:04:13:00:02:01"})
    assert r.json()["mac_filter"] == ["000413000201"]
    assert server.logs.filter.macs == frozenset({"000413000201"})


async def test_phones_clients_status_and_logs(api: httpx.AsyncClient, server: UacstaServer) -> None:
    assert server.phones is not None and server.sessions is not None
    phone = SimPhone(
        SimPhoneConfig(
            "snom",
            "000413000201",
            ["sip:201@pbx"],
            PHONE_PASSWORD,
            "127.0.0.1",
            server.phones.port("lan", "TCP"),
        )
    )
    await phone.start()
    try:
        await eventually(lambda: server.sessions.controllable(phone.mac))
        phones = (await api.get("/api/phones")).json()
        assert [(p["mac"], p["status"], p["vendor"]) for p in phones] == [
            ("000413000201", "controllable", "snom")
        ]
        assert (
            await api.patch("/api/phones/000413000201", json={"enabled": False})
        ).status_code == 204
        assert not server.sessions.controllable(phone.mac)  # at once
        assert (await api.patch("/api/phones/nope", json={"enabled": False})).status_code == 404
        assert (
            await api.patch("/api/phones/000413000201", json={"enabled": True})
        ).status_code == 204
        await eventually(lambda: server.sessions.controllable(phone.mac))
    finally:
        await phone.stop()
    r = await api.put(
        "/api/clients/dialer", json={"password": "dialer-pw-1", "allowed_devices": ["2*"]}
    )
    assert r.status_code == 204
    assert {"name": "dialer", "allowed_devices": ["2*"]} in (await api.get("/api/clients")).json()
    assert (await api.put("/api/clients/x", json={"password": "short"})).status_code == 422
    assert (await api.put("/api/clients/new", json={})).status_code == 422
    assert (await api.delete("/api/clients/dialer")).status_code == 204
    assert (await api.delete("/api/clients/dialer")).status_code == 404
    status = (await api.get("/api/status")).json()
    assert status["phone_service"]["running"] and status["client_service"]["running"]
    logs = (await api.get("/api/logs")).json()
    assert logs and logs[0]["name"] == "uacsta.log"
    text = (await api.get("/api/logs/uacsta.log")).text
    assert "000413000201" in text
    assert (await api.get("/api/logs/..%2Fsecret.key")).status_code == 404
    assert (await api.put("/api/phone-password", json={"password": "short"})).status_code == 422


async def test_services_stop_and_start_while_the_ui_stays(
    api: httpx.AsyncClient, server: UacstaServer
) -> None:
    """A changed TLS port accepts TLS after the phone service restarts."""
    import ssl

    from tests.conftest import client_tls

    holder = socket.socket()
    holder.bind(("127.0.0.1", 0))
    new_port = holder.getsockname()[1]
    holder.close()
    r = await api.patch("/api/settings/phone_connection", json={"lan": {"tls_port": new_port}})
    assert r.status_code == 200
    assert server.phones is not None
    assert server.phones.port("lan", "TLS") != new_port  # not before the restart
    status = (await api.post("/api/services/phone/stop")).json()
    assert status["phone_service"]["running"] is False
    assert (await api.get("/api/status")).status_code == 200  # the UI stays up
    status = (await api.post("/api/services/phone/start")).json()
    assert status["phone_service"]["running"] is True
    assert server.phones.port("lan", "TLS") == new_port
    import asyncio

    _reader, writer = await asyncio.open_connection(
        "127.0.0.1", new_port, ssl=client_tls(server), server_hostname="localhost"
    )
    assert isinstance(writer.get_extra_info("ssl_object"), ssl.SSLObject)
    writer.close()


async def test_login_required_sessions_csrf_and_lockout(server: UacstaServer) -> None:
    base = admin_url(server)
    async with httpx.AsyncClient(base_url=base) as anonymous:
        assert (await anonymous.get("/api/status")).status_code == 401
        r = await anonymous.get("/status")
        assert r.status_code == 303 and r.headers["location"] == "/login"
        assert (await anonymous.get("/login")).status_code == 200
        # a session cookie from the login form
        r = await anonymous.post("/login", data={"name": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 303
        cookie = r.cookies.get("uacsta_admin")
        assert cookie and "httponly" in r.headers["set-cookie"].lower()
        assert "samesite=strict" in r.headers["set-cookie"].lower()
        assert (await anonymous.get("/status")).status_code == 200
        # a change without the CSRF token is refused
        r = await anonymous.patch("/api/settings/advanced", json={"keepalive": 90})
        assert r.status_code == 403 and "CSRF" in r.json()["detail"]
        page = (await anonymous.get("/advanced")).text
        csrf = page.split('"X-CSRF-Token": "', 1)[1].split('"', 1)[0]
        r = await anonymous.patch(
            "/api/settings/advanced", json={"keepalive": 90}, headers={"X-CSRF-Token": csrf}
        )
        assert r.status_code == 200
        await anonymous.post("/logout", data={"csrf": csrf})
        assert (await anonymous.get("/status")).status_code == 303
    async with httpx.AsyncClient(base_url=base) as guesser:
        for _ in range(5):
            r = await guesser.post("/login", data={"name": "admin", "password": "guess"})
            assert r.status_code == 401
        # locked out now, even with the right password
        r = await guesser.post("/login", data={"name": "admin", "password": ADMIN_PASSWORD})
        assert r.status_code == 401


async def test_openapi_document(api: httpx.AsyncClient) -> None:
    doc = (await api.get("/api/openapi.json")).json()
    assert {
        "/api/settings/{section}",
        "/api/phones",
        "/api/clients",
        "/api/status",
        "/api/logs",
    } <= set(doc["paths"])


@pytest.mark.parametrize(
    ("path", "body", "status", "reason"),
    [
        ("find", {"interface": "192.0.2.1"}, 422, "not an address of this host"),
        ("find", {"addresses": "10.0.0.9-5"}, 422, "not an IP address, a range"),
        ("find", {"addresses": "10.0.0.0/8"}, 422, "not an IP address, a range"),
        ("find", {}, 422, "choose an interface"),
        ("find", {"addresses": "127.0.0.1", "duration": 500}, 422, "0.5 to 120"),
        ("push", {"phones": []}, 422, "at least 1"),
        ("push", {"phones": [{"ip": "phone-1"}]}, 422, "not an IP address"),
        ("delete", {"phones": [{"ip": "127.0.0.1", "web_port": 0}]}, 422, "greater than"),
    ],
)
async def test_provisioning_requests_are_checked(
    api: httpx.AsyncClient, path: str, body: dict[str, object], status: int, reason: str
) -> None:
    r = await api.post(f"/api/provisioning/{path}", json=body)
    assert r.status_code == status, r.text
    assert reason in r.text


async def test_provisioning_job_followed_to_its_end(api: httpx.AsyncClient) -> None:
    """A search of an address where no phone is: the job ends with it listed
    as unidentified, and a push there fails with the reason, per phone."""
    assert (
        await api.put("/api/provisioning/web-password", json={"password": "x"})
    ).status_code == 204
    r = await api.post("/api/provisioning/find", json={"addresses": "127.0.0.77", "duration": 0.5})
    assert r.status_code == 202, r.text
    job = r.json()
    assert job["kind"] == "find" and job["done"] is False

    async def finished() -> bool:
        nonlocal job
        job = (await api.get(f"/api/provisioning/jobs/{job['id']}")).json()
        return bool(job["done"])

    await eventually(finished, timeout=15)
    assert [f["ip"] for f in job["found"]] == ["127.0.0.77"]
    assert job["found"][0]["mac"] == ""
    assert job["progress"][-1] == "search finished: 1 telephones"
    r = await api.post(
        "/api/provisioning/push", json={"phones": [{"ip": "127.0.0.77", "vendor": "snom"}]}
    )
    job = r.json()
    await eventually(finished, timeout=15)
    (result,) = job["results"]
    assert result["state"] == "failed" and "cannot reach the web interface" in result["detail"]
    assert (await api.get("/api/provisioning/jobs/nope")).status_code == 404
    # a vendor's own web login: stored (the password apart), then removed
    r = await api.put(
        "/api/provisioning/web-login/poly", json={"user": "Polycom", "password": "456"}
    )
    assert r.status_code == 204, r.text
    assert (await stored(api, "provisioning"))["vendor_web_users"] == {"poly": "Polycom"}
    r = await api.put("/api/provisioning/web-login/nokia", json={"user": "x"})
    assert r.status_code == 404 and "known: auerswald" in r.text
    assert (await api.delete("/api/provisioning/web-login/poly")).status_code == 204
    assert (await stored(api, "provisioning"))["vendor_web_users"] == {}
    assert (await api.get("/api/provisioning/records")).json() == []


@pytest.mark.both_loops
async def test_admin_ui_over_https(tmp_path: Path) -> None:
    """``admin_tls``: the UI speaks HTTPS with the server's certificate, and its
    session cookie is Secure."""
    from tests.conftest import client_tls, make_config, prepare_store
    from uacsta.admin.auth import AdminAuth
    from uacsta.store.db import Database

    await prepare_store(tmp_path / "data")
    db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'uacsta.db'}")
    await AdminAuth(db).set_password("admin", ADMIN_PASSWORD)
    await db.close()
    config = make_config(tmp_path / "data", admin=True).model_copy(update={"admin_tls": True})
    server = UacstaServer(config)
    await server.start()
    try:
        assert server.admin_ui is not None
        port = server.admin_ui.port("web UI", "HTTPS")
        async with httpx.AsyncClient(
            base_url=f"https://localhost:{port}", verify=client_tls(server)
        ) as https:
            r = await https.post("/login", data={"name": "admin", "password": ADMIN_PASSWORD})
            assert r.status_code == 303
            assert "secure" in r.headers["set-cookie"].lower()
            r = await https.get("/api/status", auth=("admin", ADMIN_PASSWORD))
            assert r.status_code == 200
        # plain HTTP on that port is no way in
        async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as http:
            with pytest.raises(httpx.HTTPError):
                await http.get("/login")
    finally:
        await server.stop()


async def test_a_removed_account_loses_its_sessions(server: UacstaServer) -> None:
    """Removed by the CLI (another process, another AdminAuth): the browser
    session of that account ends at its next request."""
    from uacsta.admin.auth import AccountError, AdminAuth

    cli = AdminAuth(server.db)
    await cli.create("temp", "temp-Password-1")
    async with httpx.AsyncClient(base_url=admin_url(server)) as browser:
        r = await browser.post("/login", data={"name": "temp", "password": "temp-Password-1"})
        assert r.status_code == 303
        assert (await browser.get("/status")).status_code == 200
        await cli.remove("temp")
        r = await browser.get("/status")
        assert r.status_code == 303 and r.headers["location"] == "/login"
    with pytest.raises(AccountError, match="the last admin account"):
        await cli.remove("admin")


async def test_phone_details_and_the_log_follow_refuse_bad_input(
    api: httpx.AsyncClient,
) -> None:
    r = await api.get("/api/phones/not-a-mac")
    assert r.status_code == 404 and "no telephone" in r.json()["detail"]
    r = await api.get("/api/logs/follow", params={"macs": "nope"})
    assert r.status_code == 422 and "nope" in r.json()["detail"]
