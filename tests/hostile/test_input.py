"""Hostile input against the real server on loopback: each probe of issue 12
that failed on the landed server, replayed, with the figure it must meet.
Every loop here is bounded in count and time."""

from __future__ import annotations

import asyncio
import json
import stat
from collections.abc import AsyncIterator

import httpx
import pytest
import websockets

from tests.conftest import (
    ADMIN_PASSWORD,
    CLIENT_LOGIN,
    CLIENT_PASSWORD,
    PHONE_PASSWORD,
    make_config,
)
from tests.helpers.sipphone import SipPhone
from tests.helpers.typed_client import CstaError
from tests.integration.switching import Lab, http_url, ws_url
from uacsta.csta import model as m
from uacsta.csta.types import ConnectionID, DeviceID
from uacsta.server import UacstaServer
from uacsta.sip.digest import answer_challenge
from uacsta.store import repo


@pytest.fixture
async def http(lab: Lab) -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(
        base_url=http_url(lab.server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD)
    ) as client:
        yield client


# -- raw XML and sizes from clients --------------------------------------------------------


async def test_xml_in_a_json_field_reaches_the_phone_as_text(
    lab: Lab, http: httpx.AsyncClient
) -> None:
    """Probe 2: callOrigination carrying '<device>…</device><doNotDisturbOn>…'
    arrived in the phone's SetDoNotDisturb as elements."""
    snom = lab.phones["snom"]
    injected = "<device>1000</device><doNotDisturbOn>false</doNotDisturbOn>"
    r = await http.post(
        "/api/v1/csta",
        json={
            "type": "SetDoNotDisturb",
            "device": "201",
            "doNotDisturbOn": True,
            "callOrigination": injected,
        },
    )
    assert r.status_code == 200, r.text
    received = next(x for x in reversed(snom.received) if isinstance(x, m.SetDoNotDisturb))
    assert received.device.value == "sip:201@pbx.example" and received.doNotDisturbOn is True
    assert received.callOrigination is not None
    # the phone got one callOrigination element whose text is the string, escaped
    assert received.callOrigination.xml.count(b"<") == 2
    assert b"&lt;device&gt;1000&lt;/device&gt;" in received.callOrigination.xml
    assert snom.dnd is True


async def test_user_data_closing_the_request_is_only_text(
    lab: Lab, http: httpx.AsyncClient
) -> None:
    r = await http.post(
        "/api/v1/csta",
        json={
            "type": "MakeCall",
            "callingDevice": "201",
            "calledDirectoryNumber": "202",
            "userData": "</MakeCall><!-- x",
        },
    )
    assert r.status_code == 200, r.text
    made = next(x for x in reversed(lab.phones["snom"].received) if isinstance(x, m.MakeCall))
    assert made.userData is not None and b"&lt;/MakeCall&gt;&lt;!-- x" in made.userData.xml


async def test_oversized_fields_are_refused_and_the_phone_is_not_asked(
    lab: Lab, http: httpx.AsyncClient
) -> None:
    """Probe 2: a 2 MB userData broke the phone's framer until a restart."""
    snom = lab.phones["snom"]
    before = len(snom.received)
    big = await http.post(
        "/api/v1/csta",
        json={
            "type": "MakeCall",
            "callingDevice": "201",
            "calledDirectoryNumber": "202",
            "userData": "x" * 2_000_000,
        },
    )
    assert big.status_code == 413 and big.json()["error"] == "tooLarge"
    long_text = await http.post(
        "/api/v1/csta",
        json={"type": "MakeCall", "callingDevice": "201", "calledDirectoryNumber": "2" * 300},
    )
    assert long_text.status_code == 422 and "longer than 256" in long_text.text
    control = await http.post(
        "/api/v1/csta",
        json={"type": "MakeCall", "callingDevice": "201", "calledDirectoryNumber": "20\x012"},
    )
    assert control.status_code == 422 and "XML cannot carry" in control.text
    assert len(snom.received) == before
    ok = await http.get("/api/v1/devices/201/dnd")
    assert ok.status_code == 200  # the phone is fine


async def test_a_call_at_a_device_the_login_may_not_use_is_refused(lab: Lab) -> None:
    """Probe 2: a TransferCall whose activeCall names a device the login may
    not use was forwarded."""
    limited = await lab.client("limited", CLIENT_PASSWORD)  # may use 201* only
    before = len(lab.phones["snom"].received)
    with pytest.raises(CstaError, match="invalidDeviceID"):
        await limited.request(
            m.TransferCall(
                heldCall=ConnectionID("1", DeviceID("201")),
                activeCall=ConnectionID("2", DeviceID("202")),
            )
        )
    assert len(lab.phones["snom"].received) == before  # not forwarded


# -- JSON nesting ------------------------------------------------------------------------------


async def test_deeply_nested_json_gets_the_documented_error(lab: Lab) -> None:
    """Probe 10: RecursionError, 'Exception in ASGI application', no close frame."""
    deep = "[" * 30_000 + "]" * 30_000  # under the 64 KiB bound: the nesting is refused
    async with websockets.connect(ws_url(lab.server)) as ws:
        await ws.send(deep)  # even before login
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["op"] == "error" and "nested deeper than 32" in reply["reason"]
    async with websockets.connect(ws_url(lab.server)) as ws:
        await ws.send(
            json.dumps({"op": "login", "user": CLIENT_LOGIN, "password": CLIENT_PASSWORD})
        )
        assert json.loads(await ws.recv())["op"] == "welcome"
        await ws.send('{"op": "request", "id": 1, "csta": ' + "{" * 50 + "}" * 50 + "}")
        reply = json.loads(await asyncio.wait_for(ws.recv(), 5))
        assert reply["op"] == "error" and "nested" in reply["reason"]
        # the session lives on
        await ws.send(
            json.dumps({"op": "request", "id": 2, "csta": {"type": "RequestSystemStatus"}})
        )
        while (reply := json.loads(await asyncio.wait_for(ws.recv(), 5)))["op"] != "response":
            pass
        assert reply["id"] == 2 and reply["csta"]["systemStatus"] == "normal"
    async with httpx.AsyncClient(
        base_url=http_url(lab.server), auth=(CLIENT_LOGIN, CLIENT_PASSWORD)
    ) as http:
        r = await http.post(
            "/api/v1/csta", content=deep, headers={"content-type": "application/json"}
        )
        assert r.status_code == 400 and r.json()["error"] == "badJson"


# -- headers and assets ------------------------------------------------------------------------


@pytest.mark.admin_ui
async def test_security_headers_and_api_docs_served_locally(server: UacstaServer) -> None:
    assert server.admin_ui is not None and server.client_api is not None
    admin = f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}"
    client = f"http://127.0.0.1:{server.client_api.port('lan', 'HTTP')}"
    async with httpx.AsyncClient() as http:
        for url in (f"{admin}/login", f"{admin}/api/docs", f"{client}/api/v1/docs"):
            r = await http.get(url)
            assert r.status_code == 200, url
            assert r.headers["x-content-type-options"] == "nosniff"
            assert r.headers["x-frame-options"] == "DENY"
            assert "frame-ancestors 'none'" in r.headers["content-security-policy"]
            assert r.headers["referrer-policy"] == "no-referrer"
            assert r.headers["cache-control"] == "no-store"
        for base, docs in ((admin, "/api/docs"), (client, "/api/v1/docs")):
            page = (await http.get(base + docs)).text
            assert "cdn" not in page.lower() and "https://" not in page
            for asset in ("/api-docs-assets/swagger-ui-bundle.js", "/api-docs-assets/init.js"):
                assert asset in page
                r = await http.get(base + asset)
                assert r.status_code == 200 and len(r.content) > 100
        r = await http.get(f"{admin}/api/phones", auth=("admin", ADMIN_PASSWORD))
        assert r.status_code == 200 and r.headers["cache-control"] == "no-store"


# -- digest ------------------------------------------------------------------------------------


async def register_once(server: UacstaServer, mac: str) -> tuple[SipPhone, str]:
    assert server.phones is not None
    phone = SipPhone(mac)
    await phone.connect(server.phones.port("lan", "TCP"))
    await phone.send(phone.register_request())
    challenge = (await phone.response()).headers.get("WWW-Authenticate")
    assert challenge
    auth = answer_challenge(
        challenge, method="REGISTER", uri="sip:uacsta.test", username=mac, password=PHONE_PASSWORD
    )
    await phone.send(phone.register_request(auth=auth))
    assert (await phone.response()).status == 200
    return phone, auth


async def test_a_captured_register_is_not_accepted_after_a_restart(tmp_path: object) -> None:
    """Probe 8: nonce counts live in memory while the nonce key persisted."""
    from pathlib import Path

    from tests.conftest import prepare_store

    data = Path(str(tmp_path)) / "data"
    await prepare_store(data)
    first = UacstaServer(make_config(data))
    await first.start()
    try:
        phone, captured = await register_once(first, "000413000042")
        await phone.close()
    finally:
        await first.stop()
    second = UacstaServer(make_config(data))
    await second.start()
    try:
        assert second.phones is not None
        attacker = SipPhone("000413000042")
        await attacker.connect(second.phones.port("lan", "TCP"))
        attacker.cseq = 10
        await attacker.send(attacker.register_request(auth=captured))
        assert (await attacker.response()).status == 401
        await attacker.close()
    finally:
        await second.stop()


async def test_digest_algorithms_follow_the_setting_and_nothing_else_is_accepted(
    server: UacstaServer,
) -> None:
    """Probe 9: set to SHA-256 only, the challenge still offered MD5 and an MD5
    answer got 200.  Also: MD5-sess and auth-int are never offered, so never
    accepted, and the digest uri must be the Request-URI."""
    conn = (await repo.load_section(server.db, "phone_connection")).model_dump()
    conn["digest_algorithms"] = ["SHA-256"]
    await repo.save_section(server.db, "phone_connection", conn)
    await server.stop_phone_service()
    await server.start_phone_service()
    assert server.phones is not None
    phone = SipPhone("000413000043")
    await phone.connect(server.phones.port("lan", "TCP"))
    try:
        await phone.send(phone.register_request())
        first = await phone.response()
        offered = first.headers.get_all("WWW-Authenticate")
        assert offered and all("SHA-256" in c and "MD5" not in c for c in offered)
        md5 = offered[0].replace("algorithm=SHA-256", "algorithm=MD5")
        variants = {
            "MD5": answer_challenge(
                md5,
                method="REGISTER",
                uri="sip:uacsta.test",
                username=phone.mac,
                password=PHONE_PASSWORD,
            ),
            "SHA-256-sess": answer_challenge(
                offered[0].replace("algorithm=SHA-256", "algorithm=SHA-256-sess"),
                method="REGISTER",
                uri="sip:uacsta.test",
                username=phone.mac,
                password=PHONE_PASSWORD,
            ),
            "another uri": answer_challenge(
                offered[0],
                method="REGISTER",
                uri="sip:elsewhere.test",
                username=phone.mac,
                password=PHONE_PASSWORD,
            ),
        }
        for name, auth in variants.items():
            await phone.send(phone.register_request(auth=auth))
            assert (await phone.response()).status == 401, name
        good = answer_challenge(
            offered[0],
            method="REGISTER",
            uri="sip:uacsta.test;transport=tcp",
            username=phone.mac,
            password=PHONE_PASSWORD,
        )
        await phone.send(phone.register_request(auth=good))
        assert (await phone.response()).status == 200  # ;transport= tolerated
    finally:
        await phone.close()


# -- files -------------------------------------------------------------------------------------


async def test_data_folder_and_secrets_are_private(server: UacstaServer) -> None:
    """Probe 12: uacsta.db was 0644 and holds client HA1 values."""
    data = server.config.data_dir
    assert stat.S_IMODE(data.stat().st_mode) == 0o700
    for name in ("uacsta.db", "secret.key"):
        assert stat.S_IMODE((data / name).stat().st_mode) == 0o600, name
    assert stat.S_IMODE((data / "certs" / "server.key").stat().st_mode) == 0o600


async def test_first_start_in_a_data_folder_that_does_not_exist(tmp_path: object) -> None:
    """Issue 14: Database() raised in UacstaServer.__init__ before start()
    made the folder (the README's first command on a fresh machine)."""
    from pathlib import Path

    data = Path(str(tmp_path)) / "not" / "yet" / "here"
    server = UacstaServer(make_config(data))
    try:
        assert stat.S_IMODE(data.stat().st_mode) == 0o700
        await server.db.migrate()
        assert stat.S_IMODE((data / "uacsta.db").stat().st_mode) == 0o600
    finally:
        await server.db.close()


# -- what holds already, kept holding ----------------------------------------------------------


@pytest.mark.both_loops
@pytest.mark.filterwarnings("ignore:ssl.TLSVersion.TLSv1_1 is deprecated")
async def test_tls_below_1_2_is_refused(server: UacstaServer) -> None:
    """The client offers TLS 1.1 at OpenSSL's lowest security level (it does
    connect so to a server that allows it): the server must refuse."""
    import ssl

    assert server.phones is not None
    old = ssl.SSLContext(ssl.PROTOCOL_TLS_CLIENT)
    old.check_hostname, old.verify_mode = False, ssl.CERT_NONE
    old.minimum_version = ssl.TLSVersion.MINIMUM_SUPPORTED
    old.maximum_version = ssl.TLSVersion.TLSv1_1
    old.set_ciphers("DEFAULT:@SECLEVEL=0")
    with pytest.raises((ssl.SSLError, ConnectionError)):
        _, writer = await asyncio.wait_for(
            asyncio.open_connection("127.0.0.1", server.phones.port("lan", "TLS"), ssl=old), 5
        )
        writer.close()


async def test_an_unknown_mac_and_a_wrong_password_look_the_same(server: UacstaServer) -> None:
    """svwar learns nothing: the same 401 with the same reason either way."""
    from tests.hostile.test_floods import guess

    assert server.phones is not None
    known, _ = await register_once(server, "000413000050")
    prober = SipPhone("000413000051")
    await prober.connect(server.phones.port("lan", "TCP"))
    try:
        wrong = await guess(prober, "000413000050", "not-the-password")
        unknown = await guess(prober, "000413ABCDEF", "not-the-password")
        assert (
            (wrong.status, wrong.reason)
            == (unknown.status, unknown.reason)
            == (
                401,
                "Unauthorized",
            )
        )
    finally:
        await prober.close()
        await known.close()


@pytest.mark.admin_ui
async def test_log_downloads_stay_in_the_log_folder(server: UacstaServer) -> None:
    assert server.admin_ui is not None
    admin = f"http://127.0.0.1:{server.admin_ui.port('web UI', 'HTTP')}"
    async with httpx.AsyncClient(base_url=admin, auth=("admin", ADMIN_PASSWORD)) as http:
        for name in ("../uacsta.db", "..%2Fuacsta.db", "%2e%2e/secret.key", "/etc/passwd"):
            r = await http.get(f"/api/logs/{name}")
            assert r.status_code in (400, 404), (name, r.status_code)
            assert b"SQLite" not in r.content and b"root:" not in r.content
