"""The per-vendor account tables: what a push writes is what the phone reads
back, an unused slot is taken, a second push reuses ours, a delete restores."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uacsta import vendors as accounts
from uacsta.vendors import gigaset, mitel
from uacsta.vendors.accounts import Account, ProvisioningError, undo

MACS = {
    "snom": "000413AABBCC",
    "yealink": "001565AABBCC",
    "poly": "64167FAABBCC",
    "auerswald": "000952AABBCC",
    "gigaset": "7C2F8EAABBCC",
}
IN_USE = {  # a PBX line in the first slot, as on a phone in use
    "snom": {"user_name1": "201", "user_active1": "on", "csta_legacy_control": "1"},
    "yealink": {"account.1.user_name": "201", "account.1.enable": "1"},
    "poly": {"reg.1.address": "201"},
    "auerswald": {"provider.1.name": "PBX", "account.1.user": "201", "account.1.provider": "1"},
    "gigaset": {"SipProvider.0.Name": "PBX", "Handset.1.Name": "HS 1", "Handset.2.Name": "HS 2"},
}


def account(vendor: str, transport: str = "TCP") -> Account:
    return Account(MACS[vendor], "pw", "uacsta.example", 5070, transport, 300)  # type: ignore[arg-type]


@pytest.mark.parametrize("vendor", sorted(MACS))
def test_written_account_reads_back(vendor: str) -> None:
    settings = dict(IN_USE[vendor])
    plan = accounts.plan(vendor, settings, account(vendor))
    settings.update(plan.writes)
    regs = accounts.registrations(vendor, settings, MACS[vendor])
    expected_users = (
        [gigaset.gigaset_handset_id(MACS["gigaset"], h) for h in (1, 2)]
        if vendor == "gigaset"
        else [MACS[vendor]]
    )
    assert [r.user for r in regs] == expected_users
    for r in regs:
        assert (r.server, r.port, r.transport, r.password, r.expiry) == (
            "uacsta.example",
            5070,
            "TCP",
            "pw",
            300,
        )
    # the PBX line is untouched (snom's csta_legacy_control is raised on purpose)
    for key, value in IN_USE[vendor].items():
        if key != "csta_legacy_control":
            assert settings[key] == value, key


def test_slots_follow_the_manual() -> None:
    assert accounts.plan("snom", IN_USE["snom"], account("snom")).slot == "identity 12"
    assert accounts.plan("yealink", IN_USE["yealink"], account("yealink")).slot == "account 16"
    assert accounts.plan("poly", IN_USE["poly"], account("poly")).slot == "line 2"


@pytest.mark.parametrize("vendor", sorted(MACS))
def test_a_second_push_reuses_our_slot(vendor: str) -> None:
    settings = dict(IN_USE[vendor])
    first = accounts.plan(vendor, settings, account(vendor))
    settings.update(first.writes)
    again = accounts.plan(vendor, settings, account(vendor))
    assert again.slot == first.slot and set(again.writes) <= set(first.writes)


def test_snom_legacy_control_only_raised_when_too_low() -> None:
    assert (
        accounts.plan("snom", {"csta_legacy_control": "1"}, account("snom")).writes[
            "csta_legacy_control"
        ]
        == "4"
    )
    assert (
        "csta_legacy_control"
        not in accounts.plan("snom", {"csta_legacy_control": "3"}, account("snom")).writes
    )
    # below 3 the phone refuses uaCSTA
    settings = {**accounts.plan("snom", {}, account("snom")).writes, "csta_legacy_control": "2"}
    assert accounts.registrations("snom", settings, MACS["snom"]) == []


def test_no_free_slot_is_a_clear_error() -> None:
    full = {f"user_name{n}": str(200 + n) for n in range(1, 13)}
    with pytest.raises(ProvisioningError, match="no unused slot"):
        accounts.plan("snom", full, account("snom"))


def test_transport_limits() -> None:
    with pytest.raises(ProvisioningError, match="TCP only"):
        accounts.plan("gigaset", IN_USE["gigaset"], account("gigaset", "TLS"))
    mitel = Account("00085DAABBCC", "pw", "uacsta.example", 5070, "TLS", 300, config_port=8088)
    with pytest.raises(ProvisioningError, match="TCP only"):
        accounts.plan("mitel", {}, mitel)
    with pytest.raises(ProvisioningError, match="HTTP port"):
        accounts.plan("mitel", {}, Account("00085DAABBCC", "pw", "h", 5060))
    with pytest.raises(ProvisioningError, match="no handsets"):
        accounts.plan("gigaset", {"SipProvider.0.Name": "PBX"}, account("gigaset"))


def test_tls_gives_poly_our_ca() -> None:
    a = Account(MACS["poly"], "pw", "h", 5061, "TLS", 300, ca_pem="-----BEGIN CERTIFICATE-----")
    writes = accounts.plan("poly", {}, a).writes
    assert writes["reg.1.server.1.transport"] == "TLS"
    assert writes["device.sec.TLS.customCaCert1"].startswith("-----BEGIN")


def test_mitel_startup_cfg_round_trip() -> None:
    text = mitel.mitel_startup_cfg("uacsta.example", 5060, "pw")
    assert text.splitlines() == [
        "csta: 1",
        "csta proxy: uacsta.example",
        "csta port: 5060",
        "csta password: pw",
    ]
    regs = accounts.registrations("mitel", mitel.parse_mitel_cfg(text), "00085DAABBCC")
    assert [(r.user, r.server, r.port) for r in regs] == [("00085DAABBCC", "uacsta.example", 5060)]


values = st.one_of(st.none(), st.text(alphabet="abc01", max_size=3))


@given(st.dictionaries(st.sampled_from(["a", "b", "c"]), values))
def test_undo_restores_what_was_there(previous: dict[str, str | None]) -> None:
    written = {"a": "ours", "b": "ours", "c": "ours"}
    previous = {k: previous.get(k) for k in written}
    current = dict(written)
    writes, changed = undo(written, previous, current)
    assert changed == []
    assert writes == {k: previous[k] or "" for k in written}


def test_undo_leaves_what_the_admin_changed_since() -> None:
    writes, changed = undo(
        {"a": "ours", "b": "ours"}, {"a": "x", "b": None}, {"a": "theirs", "b": "ours"}
    )
    assert writes == {"b": ""} and changed == ["a"]
