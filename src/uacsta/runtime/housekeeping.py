"""The server's periodic work: every second the sweeps (registrations,
sessions, ownerships, lockouts, idle connections) and the telephone list's
write-behind; a watch on the event loop's lateness; garbage-collection tuning;
the daily deletion of log files."""

from __future__ import annotations

import asyncio
import contextlib
import gc
import logging
import time
from collections.abc import Awaitable, Callable
from typing import cast

from ..logs import LogManager
from ..settings import Diagnostics
from ..store import repo
from ..store.db import Database

log = logging.getLogger("uacsta.server")
SWEEP_INTERVAL = 1.0

Sweep = Callable[[float], object]


class GcTuner:
    """Keep full garbage collections short.  Sessions, connections and the
    telephone list are long-lived and grow with the phones; a full collection
    that scans them all pauses every phone and client for 100 ms and more at
    1,000 phones.  So after the number of phones has changed markedly (or
    hourly, to collect cycles among frozen objects) the server collects once
    and freezes what survived: later full collections scan only what is new."""

    def __init__(self, phones: Callable[[], int], now: float) -> None:
        self.phones = phones
        self._seen = 0
        self._at = now

    def __call__(self, now: float) -> None:
        phones = self.phones()
        changed = abs(phones - self._seen) > max(50, self._seen // 10)
        if not changed and now - self._at < 3600:
            return
        began = time.perf_counter()
        gc.unfreeze()
        gc.collect()
        gc.freeze()
        self._seen, self._at = phones, now
        log.info(
            "garbage collected and %d objects frozen in %.0f ms (%d phones)",
            gc.get_freeze_count(),
            (time.perf_counter() - began) * 1000,
            phones,
        )


class LoopWatch:
    """How late the event loop runs what is due: every phone and client waits
    that long.  The worst of the last minute is in the status."""

    def __init__(self, period: float = 0.05) -> None:
        self.period = period
        self.lag = 0.0
        self._worst: list[float] = []

    def note(self, lag: float) -> None:
        self._worst.append(lag)
        if len(self._worst) > 60 / self.period:
            del self._worst[0]
        self.lag = max(self._worst)
        if lag > 0.1:
            log.warning("the event loop was %.0f ms late", lag * 1000)

    async def run(self) -> None:
        while True:
            began = time.perf_counter()
            await asyncio.sleep(self.period)
            self.note(time.perf_counter() - began - self.period)


class Housekeeping:
    """Runs ``sweeps`` (each given the monotonic clock) and then ``rounds``
    (async: the store's write-behind and pick-up) every second, and the
    ``daily`` jobs after midnight UTC.  A failing round is logged and tried
    again next time; it stops nothing else."""

    def __init__(
        self,
        sweeps: list[Sweep],
        rounds: list[Callable[[], Awaitable[None]]],
        daily: list[Callable[[], Awaitable[None]]],
        watch: LoopWatch,
    ) -> None:
        self.sweeps = sweeps
        self.rounds = rounds
        self.daily = daily
        self.watch = watch
        self._tasks: list[asyncio.Task[None]] = []

    def start(self) -> None:
        self._tasks = [
            asyncio.create_task(self._every_second(), name="housekeeping"),
            asyncio.create_task(self._every_day(), name="daily"),
            asyncio.create_task(self.watch.run(), name="loop-watch"),
        ]

    async def stop(self) -> None:
        for task in self._tasks:
            task.cancel()
        for task in self._tasks:
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
        self._tasks.clear()

    async def once(self, now: float) -> None:
        for sweep in self.sweeps:
            sweep(now)
        for round_ in self.rounds:
            await round_()

    async def _every_second(self) -> None:
        while True:
            await asyncio.sleep(SWEEP_INTERVAL)
            try:
                await self.once(time.monotonic())
            except Exception:
                log.exception("housekeeping failed; trying again")

    async def _every_day(self) -> None:
        while True:
            now = time.time()
            tomorrow = (now // 86400 + 1) * 86400
            await asyncio.sleep(tomorrow - now + 1)
            for job in self.daily:
                try:
                    await job()
                except Exception:
                    log.exception("daily housekeeping failed")


async def delete_logs_if_asked(db: Database, logs: LogManager) -> None:
    """The daily deletion of log files, when the diagnostics settings ask for it."""
    diag = cast(Diagnostics, await repo.load_section(db, "diagnostics"))
    if diag.delete_daily:
        count = logs.delete_files()
        log.info("daily deletion of log files: %d removed", count)
