"""Provisioning runs started from the web UI or the REST API: each a job that
goes on in the background and that the screen (or a script) follows while it
runs: progress lines, phones found, per-phone results."""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import ipaddress
import logging
import secrets
from collections import OrderedDict
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from .discovery import Sighting
from .provisioner import Outcome, Report

log = logging.getLogger("uacsta.provisioning")
KEEP = 20  # finished jobs kept for their screens


@dataclass
class Job:
    id: str
    kind: str  # find, push, delete
    total: int  # phones asked about (push, delete); 0 for find
    started: datetime = field(default_factory=lambda: datetime.now().astimezone())
    done: bool = False
    error: str = ""
    progress: list[str] = field(default_factory=list)
    found: dict[str, Sighting] = field(default_factory=dict)
    results: dict[str, Outcome] = field(default_factory=dict)

    def report(self, kind: str, payload: object) -> None:
        if kind == "progress":
            self.progress.append(str(payload))
        elif kind == "found" and isinstance(payload, Sighting):
            self.found[payload.ip] = payload
        elif kind == "result" and isinstance(payload, Outcome):
            self.results[payload.ip] = payload

    def found_in_order(self) -> list[Sighting]:
        return sorted(self.found.values(), key=lambda s: ipaddress.ip_address(s.ip))

    def results_in_order(self) -> list[Outcome]:
        return sorted(self.results.values(), key=lambda o: ipaddress.ip_address(o.ip))

    def as_json(self) -> dict[str, Any]:
        return {
            "id": self.id,
            "kind": self.kind,
            "started": self.started.isoformat(),
            "done": self.done,
            "error": self.error,
            "total": self.total,
            "progress": self.progress,
            "found": [dataclasses.asdict(s) for s in self.found_in_order()],
            "results": [dataclasses.asdict(o) for o in self.results_in_order()],
        }


class Jobs:
    def __init__(self) -> None:
        self._jobs: OrderedDict[str, Job] = OrderedDict()
        self._tasks: set[asyncio.Task[None]] = set()

    def start(self, kind: str, total: int, work: Callable[[Report], Awaitable[object]]) -> Job:
        job = Job(secrets.token_hex(8), kind, total)
        self._jobs[job.id] = job
        while len(self._jobs) > KEEP:
            oldest = next(iter(self._jobs.values()))
            if not oldest.done:
                break
            self._jobs.popitem(last=False)

        async def run() -> None:
            try:
                await work(job.report)
            except Exception as exc:  # one run failing must not take the admin UI with it
                log.exception("provisioning %s failed", kind)
                job.error = str(exc) or type(exc).__name__
            finally:
                job.done = True

        task = asyncio.get_running_loop().create_task(run(), name=f"provisioning-{kind}")
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return job

    def get(self, job_id: str) -> Job | None:
        return self._jobs.get(job_id)

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError, Exception):
                await task
