"""The real server on loopback; phones register over real TCP and TLS sockets."""

from __future__ import annotations

import asyncio
import time

import pytest

from tests.conftest import PHONE_PASSWORD, client_tls, eventually
from tests.helpers.sipphone import SipPhone
from uacsta.server import UacstaServer
from uacsta.sip.digest import answer_challenge
from uacsta.store import repo

MAC = "000413AABBCC"


def tcp_port(server: UacstaServer) -> int:
    assert server.phones is not None
    return server.phones.port("lan", "TCP")


def tls_port(server: UacstaServer) -> int:
    assert server.phones is not None
    return server.phones.port("lan", "TLS")


async def stored(server: UacstaServer, mac: str):  # type: ignore[no-untyped-def]
    await server.directory.flush()
    return await repo.get_phone(server.db, mac)


@pytest.mark.both_loops
@pytest.mark.parametrize("use_tls", [False, True], ids=["tcp", "tls"])
async def test_register_with_digest(server: UacstaServer, use_tls: bool) -> None:
    phone = SipPhone(MAC)
    if use_tls:
        await phone.connect(tls_port(server), client_tls(server))
    else:
        await phone.connect(tcp_port(server))
    await phone.send(phone.register_request())
    challenge = await phone.response()
    assert challenge.status == 401
    www = challenge.headers.get("WWW-Authenticate") or ""
    assert 'realm="uacsta"' in www and 'qop="auth"' in www and "algorithm=MD5" in www
    auth = answer_challenge(
        www, method="REGISTER", uri="sip:uacsta.test", username=MAC, password=PHONE_PASSWORD
    )
    await phone.send(phone.register_request(auth=auth))
    ok = await phone.response()
    assert ok.status == 200
    assert ok.headers.get("Contact", "").endswith(";expires=300")
    assert ok.to.tag
    binding = server.registrar.bindings[MAC]
    assert binding.connection.transport_name == ("TLS" if use_tls else "TCP")
    row = await stored(server, MAC)
    assert row is not None
    assert (row.vendor, row.model, row.firmware) == ("snom", "D785", "10.1.54.13")
    assert row.status == "registered" and row.enabled
    assert row.last_ip == "127.0.0.1" and row.last_identity == f"sip:{MAC}@uacsta.test"
    assert row.last_transport == ("TLS" if use_tls else "TCP")
    await phone.close()


async def test_wrong_password_is_challenged_again_and_not_recorded(server: UacstaServer) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    resp = await phone.register("not the password")
    assert resp.status == 401
    assert MAC not in server.registrar.bindings
    assert await stored(server, MAC) is None
    await phone.close()


async def test_repeated_wrong_passwords_lock_out(server: UacstaServer) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    statuses = [(await phone.register("wrong")).status for _ in range(11)]
    assert statuses[:10] == [401] * 10 and statuses[10] == 403
    # even the right password is refused during the lock-out
    assert (await phone.register(PHONE_PASSWORD)).status == 403
    await phone.close()


@pytest.mark.parametrize("user", ["alice", "000413AABBC", "00:04:13:AA:BB:CC", "58gEC6o1oD5"])
async def test_user_that_is_not_a_mac_is_forbidden(server: UacstaServer, user: str) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    await phone.send(phone.register_request(user=user))
    resp = await phone.response()
    assert resp.status == 403
    assert "MAC" in resp.reason
    await phone.close()


async def test_gigaset_handset_and_lowercase_mac(server: UacstaServer) -> None:
    handset = SipPhone("58gEC6o1oD58", user_agent="Gigaset N870 IP PRO/83.V2.39.0+build.a546b31")
    await handset.connect(tcp_port(server))
    assert (await handset.register(PHONE_PASSWORD)).status == 200
    lower = SipPhone("001565aabbcc", user_agent="Yealink SIP-T46G 28.81.0.15")
    await lower.connect(tcp_port(server))
    assert (await lower.register(PHONE_PASSWORD)).status == 200
    row = await stored(server, "001565AABBCC")
    assert row is not None and (row.vendor, row.model) == ("yealink", "SIP-T46G")
    giga = await stored(server, "58gEC6o1oD58")
    assert giga is not None and (giga.vendor, giga.model) == ("gigaset", "N870 IP PRO")
    await handset.close()
    await lower.close()


async def test_stale_nonce(server: UacstaServer) -> None:
    assert server.registrar is not None
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    await phone.send(phone.register_request())
    www = (await phone.response()).headers.get("WWW-Authenticate") or ""
    # Every nonce is older than a negative lifetime: stale without waiting.
    server.registrar.digest.nonce_lifetime = -1.0
    auth = answer_challenge(
        www, method="REGISTER", uri="sip:uacsta.test", username=MAC, password=PHONE_PASSWORD
    )
    await phone.send(phone.register_request(auth=auth))
    resp = await phone.response()
    assert resp.status == 401
    assert "stale=TRUE" in (resp.headers.get("WWW-Authenticate") or "")
    assert MAC not in server.registrar.bindings
    await phone.close()


async def test_replayed_nonce_count_is_refused(server: UacstaServer) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    await phone.send(phone.register_request())
    www = (await phone.response()).headers.get("WWW-Authenticate") or ""
    auth = answer_challenge(
        www,
        method="REGISTER",
        uri="sip:uacsta.test",
        username=MAC,
        password=PHONE_PASSWORD,
        cnonce="fixed",
    )
    await phone.send(phone.register_request(auth=auth))
    assert (await phone.response()).status == 200
    await phone.send(phone.register_request(auth=auth))  # same nc, same cnonce
    replay = await phone.response()
    assert replay.status == 401
    await phone.close()


async def test_refresh_unregister_and_connection_loss(server: UacstaServer) -> None:
    assert server.registrar is not None
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    assert (await phone.register(PHONE_PASSWORD)).status == 200
    first = server.registrar.bindings[MAC]
    expires_before = first.expires_at  # granted 300 s
    assert (await phone.register(PHONE_PASSWORD, expires=200)).status == 200
    assert server.registrar.bindings[MAC] is first
    assert first.expires_at != expires_before
    unreg = await phone.register(PHONE_PASSWORD, expires=0)
    assert unreg.status == 200 and unreg.headers.get("Contact") is None
    assert MAC not in server.registrar.bindings
    assert (await stored(server, MAC)).status == "offline"
    # register again, then lose the connection
    assert (await phone.register(PHONE_PASSWORD)).status == 200
    assert (await stored(server, MAC)).status == "registered"
    await phone.close()
    await eventually(lambda: MAC not in server.registrar.bindings)
    assert (await stored(server, MAC)).status == "offline"


async def test_expires_negotiation(server: UacstaServer) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    short = await phone.register(PHONE_PASSWORD, expires=30)
    assert short.status == 423 and short.headers.get("Min-Expires") == "60"
    capped = await phone.register(PHONE_PASSWORD, expires=7200)
    assert capped.status == 200
    assert capped.headers.get("Contact", "").endswith(";expires=300")
    await phone.close()


@pytest.mark.advanced(min_expiration=10, sip_expiration=60)
async def test_registration_expires(server: UacstaServer) -> None:
    assert server.registrar is not None
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    assert (await phone.register(PHONE_PASSWORD, expires=10)).status == 200
    expires_at = server.registrar.bindings[MAC].expires_at
    # The housekeeping round, run with the clock just before and just after
    # the registration's end (the server's clock is time.monotonic).
    assert expires_at == pytest.approx(time.monotonic() + 10, abs=1.0)
    await server.housekeeping.once(expires_at - 0.5)
    assert MAC in server.registrar.bindings
    await server.housekeeping.once(expires_at + 0.5)
    assert MAC not in server.registrar.bindings
    assert (await stored(server, MAC)).status == "offline"
    await phone.close()


async def test_two_phones_and_a_new_connection_replacing_an_old_one(server: UacstaServer) -> None:
    assert server.registrar is not None
    a, b = SipPhone(MAC), SipPhone("0004F2112233", "PolycomVVX-VVX_411-UA/6.1.0.6189")
    for p in (a, b):
        await p.connect(tcp_port(server))
        assert (await p.register(PHONE_PASSWORD)).status == 200
    assert set(server.registrar.bindings) == {MAC, "0004F2112233"}
    # phone a reboots: new connection, new Call-ID, registers before the old
    # connection is noticed dead
    a2 = SipPhone(MAC)
    await a2.connect(tls_port(server), client_tls(server))
    assert (await a2.register(PHONE_PASSWORD)).status == 200
    assert server.registrar.bindings[MAC].connection.transport_name == "TLS"
    before = len(server.phones.connections)
    await a.close()
    await eventually(lambda: len(server.phones.connections) == before - 1)
    assert MAC in server.registrar.bindings  # the old connection's end does not drop it
    row = await stored(server, "0004F2112233")
    assert (row.vendor, row.model) == ("poly", "VVX 411")
    for p in (a2, b):
        await p.close()


async def test_disabled_phone(server: UacstaServer) -> None:
    assert server.registrar is not None
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    assert (await phone.register(PHONE_PASSWORD)).status == 200
    await server.directory.flush()
    assert await repo.set_enabled(server.db, MAC, False)  # what 'uacsta phones disable' does
    await eventually(lambda: not getattr(server.directory.get(MAC), "enabled", True))
    # it may still register (and shows in the list), but is not in operation
    assert (await phone.register(PHONE_PASSWORD)).status == 200
    row = await stored(server, MAC)
    assert row is not None and not row.enabled and row.status == "registered"
    await phone.close()


@pytest.mark.advanced(auto_enable=False)
async def test_new_phones_not_put_into_operation_without_auto_enable(server: UacstaServer) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    assert (await phone.register(PHONE_PASSWORD)).status == 200
    row = await stored(server, MAC)
    assert row is not None and not row.enabled
    await phone.close()


async def test_other_requests_and_keepalive(server: UacstaServer) -> None:
    phone = SipPhone(MAC)
    await phone.connect(tcp_port(server))
    await phone.send(b"\r\n\r\n")  # RFC 5626 ping: the pong is a lone CRLF
    assert phone.reader is not None
    assert await asyncio.wait_for(phone.reader.readexactly(2), 3) == b"\r\n"
    for method, status in [("OPTIONS", 200), ("INFO", 481), ("SUBSCRIBE", 405)]:
        req = phone.register_request()
        req.method = method
        req.headers.set("CSeq", f"{phone.cseq} {method}")
        await phone.send(req)
        resp = await phone.response()
        assert resp.status == status, method
        if method == "OPTIONS":
            assert "REGISTER" in (resp.headers.get("Allow") or "")
    await phone.close()


async def test_bad_input_is_answered_and_others_keep_being_served(server: UacstaServer) -> None:
    good = SipPhone("000413000001")
    await good.connect(tcp_port(server))
    assert (await good.register(PHONE_PASSWORD)).status == 200
    bad = SipPhone(MAC)
    await bad.connect(tcp_port(server))
    # a bad request line: answered with 400, the connection carries on
    raw = bad.register_request().to_bytes().replace(b"REGISTER sip:", b"REGISTER  sip:", 1)
    await bad.send(raw)
    resp = await bad.response()
    assert resp.status == 400 and "request line" in resp.reason
    assert (await bad.register(PHONE_PASSWORD)).status == 200
    # an unframeable stream closes that connection only
    await bad.send(b"REGISTER sip:x SIP/2.0\r\nContent-Length: -5\r\n\r\n")
    with pytest.raises((ConnectionError, asyncio.IncompleteReadError)):
        await bad.response(timeout=3)  # the server INVITEs it first, then closes
    await eventually(lambda: MAC not in server.registrar.bindings)
    assert (await good.register(PHONE_PASSWORD)).status == 200
    # garbage over TLS handshake port does not hurt either
    _r, w = await asyncio.open_connection("127.0.0.1", tls_port(server))
    w.write(b"\x00" * 100)
    await w.drain()
    w.close()
    assert (await good.register(PHONE_PASSWORD)).status == 200
    await good.close()


async def test_per_source_connection_limit(server: UacstaServer) -> None:
    assert server.phones is not None
    server.phones.max_per_source = 3
    conns = [await asyncio.open_connection("127.0.0.1", tcp_port(server)) for _ in range(3)]
    await eventually(lambda: len(server.phones.connections) == 3)
    r, w = await asyncio.open_connection("127.0.0.1", tcp_port(server))
    assert await asyncio.wait_for(r.read(), 3) == b""  # closed at once
    w.close()
    for _, writer in conns:
        writer.close()
