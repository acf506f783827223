"""The status's traffic rates: per second over the last minute, from counters
sampled once a second, with a clock of the test's own."""

from __future__ import annotations

import pytest

from uacsta.runtime.status import RateMeter


def test_rates_over_the_last_minute() -> None:
    meter = RateMeter(window=60.0)
    assert meter.rates() == ()  # nothing to say from one sample or none
    meter.sample(0.0, (0, 0))
    assert meter.rates() == ()
    for second in range(1, 31):
        meter.sample(float(second), (second * 10, second))  # 10 events/s, 1 request/s
    assert meter.rates() == pytest.approx((10.0, 1.0))
    # a quiet minute later the busy half minute has left the window
    for second in range(31, 120):
        meter.sample(float(second), (300, 30))
    assert meter.rates() == pytest.approx((0.0, 0.0))


def test_a_clock_that_does_not_advance_gives_no_rate() -> None:
    meter = RateMeter()
    meter.sample(5.0, (1,))
    meter.sample(5.0, (9,))
    assert meter.rates() == (0.0,)
