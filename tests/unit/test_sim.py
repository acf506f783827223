from __future__ import annotations


def test_simulated_phones_of_one_run_share_a_switch() -> None:
    from uacsta.sim.runner import SimOptions, make_phones

    phones = make_phones(SimOptions(host="127.0.0.1", port=5060, password="p", phones=3))
    assert phones[0].switch is not None and phones[0].switch is phones[2].switch
    assert sorted(phones[0].switch.lines) == ["1000", "1001", "1002"]


def test_the_simulated_phone_refreshes_at_what_the_server_granted() -> None:
    """Real phones follow the expiry in the 200 OK, not the one they asked for."""
    from uacsta.sim.phone import SimPhone, SimPhoneConfig, granted_expiry
    from uacsta.sip.headers import Headers
    from uacsta.sip.message import Response

    def ok(*headers: tuple[str, str]) -> Response:
        h = Headers()
        for name, value in headers:
            h.add(name, value)
        return Response(headers=h, status=200, reason="OK")

    assert granted_expiry(ok(("Contact", "<sip:a@10.0.0.9:5060>;expires=60")), 300) == 60
    assert granted_expiry(ok(("Expires", "120")), 300) == 120
    assert granted_expiry(ok(("Contact", "<sip:a@h>;expires=²")), 300) == 300  # not ASCII digits
    assert granted_expiry(ok(), 300) == 300
    phone = SimPhone(SimPhoneConfig("snom", "000413000001", [], "pw", "127.0.0.1", 5060))
    assert phone.refresh_after() == 240.0
    phone.granted = 60
    assert phone.refresh_after() == 48.0
