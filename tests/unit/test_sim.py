from __future__ import annotations


def test_simulated_phones_of_one_run_share_a_switch() -> None:
    from uacsta.sim.runner import SimOptions, make_phones

    phones = make_phones(SimOptions(host="127.0.0.1", port=5060, password="p", phones=3))
    assert phones[0].switch is not None and phones[0].switch is phones[2].switch
    assert sorted(phones[0].switch.lines) == ["1000", "1001", "1002"]
