"""Discovery's sans-IO part: answers to our OPTIONS, plug-and-play
SUBSCRIBEs, and the addresses an administrator types."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from uacsta.provisioning.discovery import (
    Sighting,
    event_params,
    expand_targets,
    options_request,
    read_datagram,
)
from uacsta.sip.message import build_response, parse_message


def test_answer_to_our_options() -> None:
    request = parse_message(options_request("10.0.0.1", 40000, "10.0.0.255"))
    assert request.headers.get("Max-Forwards") == "1"
    response = build_response(
        request,  # type: ignore[arg-type]
        200,
        to_tag="x",
        extra=[
            ("User-Agent", "Yealink SIP-T46S 66.86.0.15"),
            ("Contact", "<sip:001565AABBCC@10.0.0.7>"),
        ],
    )
    seen = read_datagram(response.to_bytes(), "10.0.0.7")
    assert seen == Sighting(
        "10.0.0.7",
        "yealink",
        "SIP-T46S",
        "66.86.0.15",
        "001565AABBCC",
        "OPTIONS",
        "Yealink SIP-T46S 66.86.0.15",
    )


def test_our_own_options_looping_back_is_not_a_phone() -> None:
    assert read_datagram(options_request("10.0.0.1", 40000, "224.0.1.75"), "10.0.0.1") is None
    request = parse_message(options_request("10.0.0.1", 40000, "10.0.0.255"))
    ours = build_response(request, 200, extra=[("Server", "uacsta provisioning")])  # type: ignore[arg-type]
    assert read_datagram(ours.to_bytes(), "10.0.0.1") is None


PNP = (
    "SUBSCRIBE sip:000413AABBCC@224.0.1.75 SIP/2.0\r\n"
    "Via: SIP/2.0/UDP 10.0.0.9:5060;branch=z9hG4bK1\r\n"
    "From: <sip:000413AABBCC@224.0.1.75>;tag=1\r\n"
    "To: <sip:000413AABBCC@224.0.1.75>\r\n"
    "Call-ID: 1@10.0.0.9\r\nCSeq: 1 SUBSCRIBE\r\n"
    'Event: ua-profile;profile-type="device";vendor="snom";model="snomD785";'
    'version="10.1.54.13"\r\n'
    "Content-Length: 0\r\n\r\n"
)


def test_plug_and_play_subscribe() -> None:
    seen = read_datagram(PNP.encode(), "10.0.0.9")
    assert seen is not None
    assert (seen.vendor, seen.mac, seen.model, seen.firmware, seen.source) == (
        "snom",
        "000413AABBCC",
        "snomD785",
        "10.1.54.13",
        "PnP SUBSCRIBE",
    )
    other = PNP.replace("ua-profile", "presence")
    assert read_datagram(other.encode(), "10.0.0.9") is None


def test_event_params() -> None:
    assert event_params('ua-profile;vendor="Polycom";model=VVX') == (
        "ua-profile",
        {"vendor": "Polycom", "model": "VVX"},
    )


@given(st.binary(max_size=600))
def test_garbage_is_never_a_phone_and_never_raises(data: bytes) -> None:
    read_datagram(data, "10.0.0.1")  # whatever it is, it must not raise
    assert read_datagram(b"SIP/2.0 200 OK\r\n" + data, "10.0.0.1") is None


def test_targets_as_typed() -> None:
    assert expand_targets("10.0.0.5, 10.0.0.7-9 10.0.0.5") == [
        "10.0.0.5",
        "10.0.0.7",
        "10.0.0.8",
        "10.0.0.9",
    ]
    assert expand_targets("10.0.1.0/30") == ["10.0.1.1", "10.0.1.2"]
    assert expand_targets("10.0.0.1-10.0.0.2") == ["10.0.0.1", "10.0.0.2"]
    for bad in ("10.0.0", "10.0.0.9-5", "phone", "10.0.0.0/8"):
        with pytest.raises(ValueError):
            expand_targets(bad)


def test_an_interface_reaches_its_own_network_only() -> None:
    from uacsta.provisioning.network import LocalInterface

    lan = LocalInterface("eth1", "10.0.0.1", "10.0.0.255", "10.0.0.0/24")
    assert lan.reaches("10.0.0.7")
    assert not lan.reaches("10.0.1.7") and not lan.reaches("fe80::1") and not lan.reaches("x")
