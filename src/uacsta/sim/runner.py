"""Many simulated phones in one process: ``uacsta sim``."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import random
import ssl
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

from .phone import SimPhone, SimPhoneConfig
from .switch import SimSwitch

log = logging.getLogger("uacsta.sim")

# The server's default max_connections_per_source (its bootstrap setting).
PER_SOURCE_DEFAULT = 1000

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
    # why phones failed: the reason and how many phones had it
    failures: Counter[str] = field(default_factory=Counter)
    interrupted: bool = False

    def line(self) -> str:
        return (
            f"phones started {self.started}, registered {self.registered}, refused "
            f"{self.refused}, errors {self.errors}, uaCSTA dialogs up {self.dialogs}, "
            f"CSTA requests answered {self.requests_answered}, events sent {self.events_sent}, "
            f"calls made {self.calls_made}"
        )

    def progress(self, of: int) -> str:
        return (
            f"{self.started}/{of} phones started, {self.registered} registered, "
            f"{self.dialogs} with a uaCSTA dialog, {self.refused} refused, {self.errors} errors"
        )

    def explain(self, phones: int) -> list[str]:
        """The failures, most frequent first, and what to do about the usual one."""
        lines = [f"{n} phones: {why}" for why, n in self.failures.most_common(10)]
        if self.errors and phones > PER_SOURCE_DEFAULT:
            lines.append(
                f"all simulated phones come from one address, and the server lets one address "
                f"hold {PER_SOURCE_DEFAULT} connections by default: raise "
                "UACSTA_MAX_CONNECTIONS_PER_SOURCE on the server for this test"
            )
        return lines


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


def _reason(exc: BaseException) -> str:
    # Some errors have no text (a reset connection): their kind says it.
    text = str(exc).strip()
    return f"{type(exc).__name__}: {text}" if text else type(exc).__name__


async def run(
    opts: SimOptions, on_progress: Callable[[SimReport], None] | None = None
) -> SimReport:
    """Start the phones at the ramp rate, keep them for ``duration`` (or until
    cancelled, Ctrl-C: the report is still made), stop them."""
    phones = make_phones(opts)
    started = refused = errors = 0
    failures: Counter[str] = Counter()

    async def start(phone: SimPhone) -> None:
        nonlocal refused, errors
        try:
            response = await phone.start()
            if response.status != 200:
                refused += 1
                failures[f"REGISTER answered {response.status} {response.reason}"] += 1
                log.warning(
                    "%s: REGISTER answered %d %s", phone.mac, response.status, response.reason
                )
        except (OSError, TimeoutError, ssl.SSLError, asyncio.IncompleteReadError) as exc:
            errors += 1
            failures[_reason(exc)] += 1
            log.warning("%s: %s", phone.mac, _reason(exc))

    def now() -> SimReport:
        current = report(phones, started, refused, errors, traffic.calls)
        current.failures = failures.copy()
        return current

    async def tell() -> None:
        while on_progress is not None:
            await asyncio.sleep(1.0)
            on_progress(now())

    traffic = Traffic(phones, opts.call_seconds)
    teller = asyncio.get_running_loop().create_task(tell())
    control = None
    traffic_task = None
    interrupted = False
    tasks = []
    try:
        interval = 1.0 / opts.ramp if opts.ramp > 0 else 0.0
        for phone in phones:
            tasks.append(asyncio.get_running_loop().create_task(start(phone)))
            started += 1
            if interval:
                await asyncio.sleep(interval)
        await asyncio.gather(*tasks)
        if opts.control is not None:
            from ..net.http import HttpService
            from .control import create_control_app

            control = HttpService("sim control", create_control_app(phones))
            await control.listen("local", "HTTP", opts.control[0], opts.control[1], None)
        if opts.calls_per_second > 0:
            traffic_task = asyncio.get_running_loop().create_task(
                traffic.run(opts.calls_per_second)
            )
        if opts.duration is None:
            await asyncio.Event().wait()
        else:
            await asyncio.sleep(opts.duration)
    except asyncio.CancelledError:
        interrupted = True  # Ctrl-C: stop the phones, and report all the same
    finally:
        for task in (teller, traffic_task, *tasks):
            if task is not None:
                task.cancel()
                with contextlib.suppress(asyncio.CancelledError):
                    await task
        if control is not None:
            await control.stop()
        final = now()
        final.interrupted = interrupted
        for phone in phones:
            with contextlib.suppress(Exception):
                await phone.stop()
    return final
