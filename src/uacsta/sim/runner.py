"""Many simulated phones in one process: ``uacsta sim``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from dataclasses import dataclass, field

from .phone import SimPhone, SimPhoneConfig
from .switch import SimSwitch

log = logging.getLogger("uacsta.sim")

# MAC prefixes (vendor OUIs) and Gigaset handset-ID prefixes.
PREFIXES = {
    "snom": "000413",
    "yealink": "001565",
    "mitel": "00085D",
    "poly": "64167F",
    "auerswald": "000952",
    "gigaset": "58gEC6",
}


@dataclass
class SimOptions:
    host: str
    port: int
    password: str
    phones: int = 10
    vendors: list[str] = field(default_factory=lambda: sorted(PREFIXES))
    tls: ssl.SSLContext | None = None
    ramp: float = 100.0  # phones started per second
    duration: float | None = None  # None: until cancelled
    first_number: int = 1000
    csta_challenge: int = 0
    control: tuple[str, int] | None = None  # the by-hand control interface (HTTP)
    calls_per_second: float = 0.0  # phones calling each other (event traffic)
    call_seconds: float = 5.0  # how long each such call lasts once answered
    external: str = "answer"  # the party outside: answer, busy, never
    external_delay: float = 2.0


@dataclass
class SimReport:
    started: int = 0
    registered: int = 0
    refused: int = 0
    errors: int = 0
    dialogs: int = 0
    requests_answered: int = 0
    events_sent: int = 0
    calls_made: int = 0

    def line(self) -> str:
        return (
            f"phones started {self.started}, registered {self.registered}, refused "
            f"{self.refused}, errors {self.errors}, uaCSTA dialogs up {self.dialogs}, "
            f"CSTA requests answered {self.requests_answered}, events sent {self.events_sent}, "
            f"calls made {self.calls_made}"
        )


def make_phones(opts: SimOptions) -> list[SimPhone]:
    """The phones, all on one simulated switch so that they can call each other."""
    switch = SimSwitch(external=opts.external, external_delay=opts.external_delay)
    phones = []
    for i in range(opts.phones):
        vendor = opts.vendors[i % len(opts.vendors)]
        phones.append(
            SimPhone(
                SimPhoneConfig(
                    vendor=vendor,
                    mac=f"{PREFIXES[vendor]}{i:06X}",
                    identities=[f"sip:{opts.first_number + i}@uacsta-sim"],
                    password=opts.password,
                    server_host=opts.host,
                    server_port=opts.port,
                    tls=opts.tls,
                    csta_challenge=opts.csta_challenge if vendor == "snom" else 0,
                )
            )
        )
        switch.attach(phones[-1])
    return phones


def report(
    phones: list[SimPhone], started: int, refused: int, errors: int, calls: int = 0
) -> SimReport:
    return SimReport(
        started=started,
        registered=sum(p.registered for p in phones),
        refused=refused,
        errors=errors,
        dialogs=sum(p.dialog is not None for p in phones),
        requests_answered=sum(len(p.received) for p in phones),
        events_sent=sum(p.events_count for p in phones),
        calls_made=calls,
    )


class Traffic:
    """Phones calling each other at a rate, as people do: a free phone dials
    another free one, which answers after a ring; the caller hangs up after
    ``call_seconds``.  The load for event throughput tests."""

    def __init__(self, phones: list[SimPhone], call_seconds: float) -> None:
        self.phones = [p for p in phones if p.switch is not None]
        self.call_seconds = call_seconds
        self.calls = 0
        self._rng = random.Random(7)

    def _free(self, phone: SimPhone) -> bool:
        return phone.dialog is not None and not phone.dnd and not phone.calls()

    async def run(self, rate: float) -> None:
        loop = asyncio.get_running_loop()
        while True:
            await asyncio.sleep(1.0 / rate)
            free = [
                p for p in self._rng.sample(self.phones, min(20, len(self.phones))) if self._free(p)
            ]
            if len(free) < 2:
                continue
            caller, callee = free[0], free[1]
            number = callee.config.identities[0].split(":", 1)[-1].split("@", 1)[0]
            call_id = caller.dial(number)
            if call_id is None:
                continue
            self.calls += 1
            loop.call_later(0.2, callee.answer)
            loop.call_later(0.2 + self.call_seconds, caller.hang_up, call_id)


async def run(opts: SimOptions, on_report: object = None) -> SimReport:
    """Start the phones at the ramp rate, keep them for ``duration``, stop them."""
    phones = make_phones(opts)
    started = refused = errors = 0

    async def start(phone: SimPhone) -> None:
        nonlocal refused, errors
        try:
            response = await phone.start()
            if response.status != 200:
                refused += 1
                log.warning(
                    "%s: REGISTER answered %d %s", phone.mac, response.status, response.reason
                )
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            errors += 1
            log.warning("%s: %s", phone.mac, exc)

    tasks = []
    interval = 1.0 / opts.ramp if opts.ramp > 0 else 0.0
    for phone in phones:
        tasks.append(asyncio.get_running_loop().create_task(start(phone)))
        started += 1
        if interval:
            await asyncio.sleep(interval)
    await asyncio.gather(*tasks)
    control = None
    if opts.control is not None:
        from ..net.http import HttpService
        from .control import create_control_app

        control = HttpService("sim control", create_control_app(phones))
        await control.listen("local", "HTTP", opts.control[0], opts.control[1], None)
    traffic = Traffic(phones, opts.call_seconds)
    traffic_task = None
    if opts.calls_per_second > 0:
        traffic_task = asyncio.get_running_loop().create_task(traffic.run(opts.calls_per_second))
    try:
        if opts.duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(opts.duration)
    finally:
        if traffic_task is not None:
            traffic_task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await traffic_task
        if control is not None:
            await control.stop()
        final = report(phones, started, refused, errors, traffic.calls)
        for phone in phones:
            with contextlib.suppress(Exception):
                await phone.stop()
    return final
