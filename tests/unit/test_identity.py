from __future__ import annotations

import pytest

from uacsta.vendors import normalise_user, parse_user_agent


@pytest.mark.parametrize(
    ("user", "expected"),
    [
        ("000413aabbcc", "000413AABBCC"),
        ("64167F011214", "64167F011214"),
        ("58gEC6o1oD58", "58gEC6o1oD58"),
        ("7C2F8oABCDEF", "7C2F8oABCDEF"),
        ("00:04:13:AA:BB:CC", None),
        ("000413AABBC", None),
        ("000413AABBCCD", None),
        ("58gec6o1oD58", None),
        ("alice", None),
        ("", None),
    ],
)
def test_normalise_user(user: str, expected: str | None) -> None:
    assert normalise_user(user) == expected


@pytest.mark.parametrize(
    ("ua", "vendor", "model", "firmware"),
    [
        ("snomD785/10.1.54.13", "snom", "D785", "10.1.54.13"),
        ("snom821/8.7.5.35", "snom", "821", "8.7.5.35"),
        ("Yealink SIP-T46G 28.81.0.15", "yealink", "SIP-T46G", "28.81.0.15"),
        (
            "Aastra 6869i/4.1.0.2033 Brcm Callctrl/1.5.1.0 MxSF/v3.2.6.26",
            "mitel",
            "6869i",
            "4.1.0.2033",
        ),
        ("Mitel 6867i/5.1.0.1024", "mitel", "6867i", "5.1.0.1024"),
        ("PolycomVVX-VVX_411-UA/6.1.0.6189", "poly", "VVX 411", "6.1.0.6189"),
        ("Poly/CCX_600-UA/7.2.0.1", "poly", "CCX 600", "7.2.0.1"),
        ("Auerswald COMfortel 2600 IP/2.8A", "auerswald", "COMfortel 2600 IP", "2.8A"),
        (
            "Gigaset N870 IP PRO/83.V2.39.0+build.a546b31;IPUI=0328D3C909",
            "gigaset",
            "N870 IP PRO",
            "83.V2.39.0+build.a546b31",
        ),
    ],
)
def test_user_agents(ua: str, vendor: str, model: str, firmware: str) -> None:
    d = parse_user_agent(ua)
    assert (d.vendor, d.model, d.firmware) == (vendor, model, firmware)


def test_unknown_user_agent_falls_back_to_the_oui() -> None:
    assert parse_user_agent("SomePhone 1.0", "000952AABBCC").vendor == "auerswald"
    assert parse_user_agent("", "58gEC6o1oD58").vendor == "gigaset"
    assert parse_user_agent("x", "AABBCCDDEEFF").vendor == "unknown"
