"""The registrar with a clock of the test's own: a registration ends exactly
at its expiry, a refresh moves the end, a nonce goes stale after its
lifetime.  No socket, no waiting."""

from __future__ import annotations

from dataclasses import dataclass, field

from tests.helpers.sipphone import SipPhone
from uacsta.phones.directory import PhoneDirectory
from uacsta.phones.registrar import BindingChange, Registrar, RegistrarPolicy
from uacsta.sip.digest import DigestServer, answer_challenge
from uacsta.sip.message import Response
from uacsta.store.db import Database

MAC = "000413AABBCC"
PASSWORD = "phone-secret-1"
REALM = "uacsta.test"


@dataclass(eq=False)
class FakeConnection:
    peer_ip: str = "192.0.2.10"
    peer_port: int = 5070
    transport_name: str = "TCP"
    interface: str = "lan"
    macs: set[str] = field(default_factory=set)
    closed: bool = False

    def close(self) -> None:
        self.closed = True


def registrar(lifetime: float = 300.0) -> Registrar:
    # The directory is only written to the store by its flush, which this
    # test never calls: the database is not opened.
    directory = PhoneDirectory(Database("sqlite+aiosqlite:///:memory:"))
    return Registrar(
        realm=REALM,
        digest=DigestServer(REALM, b"k" * 32, nonce_lifetime=lifetime),
        directory=directory,
        phone_password=lambda: PASSWORD,
        policy=RegistrarPolicy(sip_expiration=300, min_expiration=60),
    )


def register(
    reg: Registrar,
    conn: FakeConnection,
    now: float,
    expires: int = 300,
    delay: float = 0.0,
    phone: SipPhone | None = None,
) -> Response:
    """REGISTER at ``now``, its digest answer ``delay`` seconds later."""
    phone = phone or SipPhone(MAC)
    challenge = reg.handle_register(phone.register_request(expires), conn, now, now, "t1")
    assert challenge.status == 401
    auth = answer_challenge(
        challenge.headers.get("WWW-Authenticate") or "",
        method="REGISTER",
        uri="sip:uacsta.test",
        username=MAC,
        password=PASSWORD,
    )
    request = phone.register_request(expires, auth=auth)
    return reg.handle_register(request, conn, now + delay, now + delay, "t1")


def test_a_registration_ends_at_its_expiry_and_a_refresh_moves_it() -> None:
    reg = registrar()
    changes: list[BindingChange] = []
    reg.listeners.append(lambda change, _binding: changes.append(change))
    conn = FakeConnection()
    assert register(reg, conn, now=1000.0, expires=120).status == 200
    assert reg.bindings[MAC].expires_at == 1120.0
    assert reg.expire(1119.9) == 0 and MAC in reg.bindings
    assert register(reg, conn, now=1100.0, expires=120).status == 200  # a refresh
    assert reg.expire(1120.0) == 0 and reg.bindings[MAC].expires_at == 1220.0
    assert reg.expire(1220.0) == 1
    assert MAC not in reg.bindings
    assert changes == [BindingChange.ADDED, BindingChange.REFRESHED, BindingChange.REMOVED]


def test_the_expiry_is_bounded_by_the_policy() -> None:
    reg = registrar()
    conn = FakeConnection()
    assert register(reg, conn, now=0.0, expires=7200).status == 200
    assert reg.bindings[MAC].expires_at == 300.0  # sip_expiration caps it


def test_a_nonce_goes_stale_after_its_lifetime() -> None:
    reg = registrar(lifetime=30.0)
    conn = FakeConnection()
    assert register(reg, conn, now=0.0, delay=29.0).status == 200
    late = register(reg, conn, now=100.0, delay=31.0)
    assert late.status == 401
    assert "stale=TRUE" in (late.headers.get("WWW-Authenticate") or "")


def test_a_refresh_that_changes_nothing_writes_nothing() -> None:
    """The telephone list is written behind (its dirty set): a refresh on the
    same connection with the same User-Agent and identity adds nothing to it,
    a new firmware in the User-Agent does."""
    reg = registrar()
    conn = FakeConnection()
    assert register(reg, conn, now=0.0).status == 200
    dirty = reg.directory._dirty
    first_login = reg.directory.get(MAC).last_login  # type: ignore[union-attr]
    dirty.clear()
    assert register(reg, conn, now=100.0).status == 200
    assert not dirty
    assert reg.directory.get(MAC).last_login == first_login  # type: ignore[union-attr]
    new_firmware = SipPhone(MAC, user_agent="snomD785/10.1.200.1")
    assert register(reg, conn, now=200.0, phone=new_firmware).status == 200
    assert dirty == {MAC}
    assert reg.directory.get(MAC).firmware == "10.1.200.1"  # type: ignore[union-attr]
