"""Event relay: from a phone's INFO to the clients watching its device.

Prints, for uacsta (its own ``uacsta serve`` process on loopback) with N
simulated phones (each with its uaCSTA dialog) and M JSON clients over
WebSocket (each monitoring N/M devices):

* latency from the phone writing the event INFO to the client reading the
  event, p50/p99/max, at a steady rate (default 1,000 events/s);
* the highest rate delivered when the phones send as fast as they can;
* the server's CPU time per event.

In the same run, a bare asyncio relay (``--bare`` process: phones' INFO bytes
in, a fixed 200 OK back, the body out to the client as a WebSocket frame, no
parsing beyond Content-Length) carries the same bytes under the same load:
the limit the server is compared with.  Both sides use the same load
generator and the same client reader (a regex finds the send time in the
frame), so the difference is the server's work.

    uv run python bench/relay.py [--phones 1000] [--clients 100] [--rate 1000]
        [--seconds 10] [--burst 20000]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import os
import re
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from pathlib import Path

from websockets.asyncio.client import ClientConnection, connect

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import UacstaServer, free_port, raise_fd_limit, rss_kib, wait_port  # noqa: E402

from uacsta.csta.codec import encode  # noqa: E402
from uacsta.csta.model import DeliveredEvent, MonitorStartResponse  # noqa: E402
from uacsta.csta.types import ConnectionID, DeviceID, EventDevice  # noqa: E402
from uacsta.csta.types import LocalConnectionState as S  # noqa: E402
from uacsta.sim.phone import SimPhone, SimPhoneConfig  # noqa: E402

PASSWORD = "bench-password-1"
CLIENT_PASSWORD = "bench-client-1"
STAMP = re.compile(rb"correlatorData[^0-9]{1,8}([0-9]{6,25})")


def cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def line(i: int) -> str:
    return f"sip:{10000 + i}@bench"


def event_body(i: int, xref: str) -> bytes:
    """The event a phone sends: DeliveredEvent stamped with its send time."""
    event = DeliveredEvent(
        monitorCrossRefID=xref,
        connection=ConnectionID(str(i), DeviceID(line(i))),
        alertingDevice=EventDevice.of(line(i)),
        callingDevice=EventDevice.of("sip:4711@bench"),
        calledDevice=EventDevice.of(line(i)),
        localConnectionInfo=S.ALERTING,
        correlatorData=str(time.perf_counter_ns()),
    )
    return encode(event, 5)


# -- measuring ---------------------------------------------------------------------------


@dataclass
class Meter:
    latencies_us: list[float] = field(default_factory=list)
    spikes: list[tuple[float, float]] = field(default_factory=list)  # (when, µs) over 10 ms
    received: int = 0
    record: bool = True
    done: asyncio.Event = field(default_factory=asyncio.Event)
    expect: int = 0

    def frame(self, data: bytes) -> None:
        m = STAMP.search(data)
        if m is None:
            return
        self.received += 1
        if self.record:
            now = time.perf_counter_ns()
            latency = (now - int(m.group(1))) / 1000
            self.latencies_us.append(latency)
            if latency > 10_000 and os.environ.get("RELAY_SPIKES"):
                self.spikes.append((now / 1e9, latency))
        if self.expect and self.received >= self.expect:
            self.done.set()


async def read_frames(ws: ClientConnection, meter: Meter) -> None:
    async for raw in ws:
        meter.frame(raw if isinstance(raw, bytes) else raw.encode())


# -- the load generator ----------------------------------------------------------------------


@dataclass
class Load:
    send: Callable[[int], None]  # phone i sends one event
    phones: int
    meter: Meter
    server_pid: int

    async def steady(self, rate: float, seconds: float) -> dict[str, float]:
        # The load generator's own full collections (1,000 simulated phones)
        # would show as relay latency: collect once and freeze what is set up.
        gc.collect()
        gc.freeze()
        self.meter.latencies_us.clear()
        self.meter.received = 0
        self.meter.record = True
        total = int(rate * seconds)
        start = time.perf_counter()
        cpu0 = cpu_seconds(self.server_pid)
        for n in range(total):
            target = start + n / rate
            delay = target - time.perf_counter()
            if delay > 0:
                await asyncio.sleep(delay)
            self.send(n % self.phones)
        await self._drain(total)
        cpu = cpu_seconds(self.server_pid) - cpu0
        if self.meter.spikes:  # RELAY_SPIKES=1: when latency went over 10 ms
            t0 = start
            print(
                "spikes (s, ms):",
                [(round(t - t0, 2), round(us / 1000)) for t, us in self.meter.spikes][
                    :: max(1, len(self.meter.spikes) // 40)
                ],
            )
        lat = sorted(self.meter.latencies_us)
        return {
            "events": len(lat),
            "p50_us": lat[len(lat) // 2],
            "p99_us": lat[int(len(lat) * 0.99)],
            "max_us": lat[-1],
            "mean_us": statistics.fmean(lat),
            "cpu_us_per_event": cpu / total * 1e6,
        }

    async def burst(self, total: int) -> dict[str, float]:
        self.meter.received = 0
        self.meter.record = False
        cpu0 = cpu_seconds(self.server_pid)
        start = time.perf_counter()
        for n in range(total):
            self.send(n % self.phones)
            if n % 200 == 199:
                await asyncio.sleep(0)  # let the readers read
        await self._drain(total)
        elapsed = time.perf_counter() - start
        cpu = cpu_seconds(self.server_pid) - cpu0
        return {"events_per_s": total / elapsed, "cpu_us_per_event": cpu / total * 1e6}

    async def _drain(self, total: int) -> None:
        self.meter.expect = total
        self.meter.done.clear()
        if self.meter.received < total:
            try:
                await asyncio.wait_for(self.meter.done.wait(), 60)
            except TimeoutError:
                raise RuntimeError(
                    f"only {self.meter.received} of {total} events arrived"
                ) from None
        self.meter.expect = 0


# -- uacsta ----------------------------------------------------------------------------------


async def gather_limited(work: list[Callable[[], Awaitable[object]]], limit: int) -> None:
    sem = asyncio.Semaphore(limit)

    async def one(job: Callable[[], Awaitable[object]]) -> None:
        async with sem:
            await job()

    await asyncio.gather(*(one(j) for j in work))


async def run_uacsta(args: argparse.Namespace, server: UacstaServer) -> dict[str, dict[str, float]]:
    readers: list[asyncio.Task[None]] = []
    phones: list[SimPhone] = []
    clients: list[ClientConnection] = []
    try:
        phones = [
            SimPhone(
                SimPhoneConfig(
                    "snom",
                    f"000413{i:06X}",
                    [line(i)],
                    PASSWORD,
                    "127.0.0.1",
                    server.tcp,
                    stay_registered=False,
                )
            )
            for i in range(args.phones)
        ]
        await gather_limited([p.start for p in phones], 100)
        # every phone's dialog up: its device is known to the server
        per_client = args.phones // args.clients
        meter = Meter()
        url = f"ws://127.0.0.1:{server.http}/api/v1/ws"
        for _ in range(args.clients):
            ws = await connect(url, max_queue=None, ping_interval=None)
            await ws.send(
                '{"op":"login","user":"bench","password":"%s"}' % CLIENT_PASSWORD  # noqa: UP031
            )
            await ws.recv()
            clients.append(ws)
        for c, ws in enumerate(clients):
            for k in range(per_client):
                i = c * per_client + k
                for _attempt in range(200):
                    await ws.send(
                        '{"op":"request","id":%d,"csta":{"type":"MonitorStart",'  # noqa: UP031
                        '"monitorObject":{"deviceObject":"%s"}}}' % (i, line(i))
                    )
                    answer = await ws.recv()
                    while '"op":"response"' not in str(answer).replace(" ", ""):
                        answer = await ws.recv()  # an event (BackInService) came first
                    if MonitorStartResponse.root() in str(answer):
                        break
                    await asyncio.sleep(0.05)  # the phone's dialog is not up yet
                else:
                    raise RuntimeError(f"no monitor on {line(i)}: {answer!r}")
        # each phone's monitor is running once it has a crossRefID
        deadline = time.monotonic() + 60
        while not all(p.monitors for p in phones[: per_client * args.clients]):
            if time.monotonic() > deadline:
                raise RuntimeError("monitors did not all start")
            await asyncio.sleep(0.05)
        readers = [asyncio.create_task(read_frames(ws, meter)) for ws in clients]
        refs = [next(iter(p.monitors), "") for p in phones]

        def send(i: int) -> None:
            phone = phones[i]
            assert phone.dialog is not None
            phone._send(phone._dialog_request("INFO", event_body(i, refs[i])))

        load = Load(send, per_client * args.clients, meter, server.proc.pid)
        await load.steady(args.rate / 10, 1)  # warm up
        steady = await load.steady(args.rate, args.seconds)
        burst = await load.burst(args.burst)
        rss = rss_kib(server.proc.pid)
        return {"steady": steady, "burst": burst, "memory": {"rss_mib": rss / 1024}}
    finally:
        for task in readers:
            task.cancel()
        for ws in clients:
            await ws.close()
        for p in phones:
            await p.stop()


# -- the bare relay ----------------------------------------------------------------------------

OK = b"SIP/2.0 200 OK\r\n"
FROM_USER = re.compile(rb"\nFrom: <sip:([0-9]+)@")


async def bare_relay_main(phone_port: int, client_port: int, clients: int) -> None:
    """The limit: bytes in from phones, a fixed 200 OK back, the body out to
    a WebSocket client, nothing parsed but Content-Length and From."""
    from websockets.asyncio.server import ServerConnection, serve

    sinks: dict[int, ServerConnection] = {}
    ready = asyncio.Event()

    async def client(ws: ServerConnection) -> None:
        index = int(await ws.recv())
        sinks[index] = ws
        if len(sinks) == clients:
            ready.set()
        await ws.wait_closed()

    async def phone(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        buf = b""
        while data := await reader.read(65536):
            buf += data
            while True:
                end = buf.find(b"\r\n\r\n")
                if end < 0:
                    break
                head = buf[: end + 4]
                at = head.find(b"Content-Length:")
                length = int(head[at + 15 : head.find(b"\r\n", at)]) if at >= 0 else 0
                if len(buf) < end + 4 + length:
                    break
                body = buf[end + 4 : end + 4 + length]
                buf = buf[end + 4 + length :]
                writer.write(OK + b"Content-Length: 0\r\n\r\n")
                m = FROM_USER.search(head)
                if m is not None:
                    sink = sinks.get(int(m.group(1)) % clients)
                    if sink is not None:
                        await sink.send(body.decode())

    async with serve(client, "127.0.0.1", client_port, max_queue=None):
        server = await asyncio.start_server(phone, "127.0.0.1", phone_port, backlog=4096)
        async with server:
            await asyncio.Future()


class BareRelay:
    def __init__(self, clients: int) -> None:
        self.phone_port, self.client_port = free_port(), free_port()
        self.proc = subprocess.Popen(
            [
                sys.executable,
                __file__,
                "--bare",
                str(self.phone_port),
                str(self.client_port),
                str(clients),
            ],
            stdout=subprocess.DEVNULL,
        )
        wait_port(self.phone_port)
        wait_port(self.client_port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(10)


async def run_bare(args: argparse.Namespace, relay: BareRelay) -> dict[str, dict[str, float]]:
    phone_port, client_port, proc = relay.phone_port, relay.client_port, relay.proc
    writers: list[asyncio.StreamWriter] = []
    clients: list[ClientConnection] = []
    readers: list[asyncio.Task[None]] = []
    try:
        per_client = args.phones // args.clients
        n = per_client * args.clients
        meter = Meter()
        for c in range(args.clients):
            ws = await connect(f"ws://127.0.0.1:{client_port}", max_queue=None)
            await ws.send(str(c))
            clients.append(ws)
        drains: list[asyncio.Task[None]] = []
        for _ in range(n):
            reader, writer = await asyncio.open_connection("127.0.0.1", phone_port)
            writers.append(writer)
            drains.append(asyncio.create_task(_discard(reader)))
        readers = [asyncio.create_task(read_frames(ws, meter)) for ws in clients]
        cseq = [0] * n

        def send(i: int) -> None:
            # the same INFO bytes a phone's dialog writes (headers of the same size)
            cseq[i] += 1
            body = event_body(i, "0")
            # client c watches phones c*per_client..: the relay routes by From user
            user = i // per_client
            head = (
                f"INFO sip:uacsta@127.0.0.1:5060;transport=tcp SIP/2.0\r\n"
                f"Via: SIP/2.0/TCP 127.0.0.1:40000;branch=z9hG4bK{i:08d}{cseq[i]:08d};rport\r\n"
                f"Max-Forwards: 70\r\n"
                f"From: <sip:{user}@127.0.0.1>;tag=0123456789ab\r\n"
                f"To: <sip:uacsta@127.0.0.1:5060>;tag=ba9876543210\r\n"
                f"Call-ID: {i:016x}@sim\r\nCSeq: {cseq[i]} INFO\r\n"
                f"Contact: <sip:000413{i:06X}@127.0.0.1:40000>\r\n"
                f"Content-Type: application/csta+xml\r\n"
                f"Content-Disposition: signal;handling=required\r\n"
                f"Content-Length: {len(body)}\r\n\r\n"
            ).encode()
            writers[i].write(head + body)

        # the relay routes From user u to client u % clients; user = client index
        load = Load(send, n, meter, proc.pid)
        await load.steady(args.rate / 10, 1)
        steady = await load.steady(args.rate, args.seconds)
        burst = await load.burst(args.burst)
        for task in drains:
            task.cancel()
        return {"steady": steady, "burst": burst}
    finally:
        for task in readers:
            task.cancel()
        for ws in clients:
            await ws.close()
        for w in writers:
            w.close()


async def _discard(reader: asyncio.StreamReader) -> None:
    while await reader.read(65536):
        pass


# -- main ------------------------------------------------------------------------------------


def show(name: str, result: dict[str, dict[str, float]]) -> None:
    s, b = result["steady"], result["burst"]
    print(
        f"{name:8} steady {s['events']:.0f} events: p50 {s['p50_us'] / 1000:.3f} ms, "
        f"p99 {s['p99_us'] / 1000:.3f} ms, max {s['max_us'] / 1000:.3f} ms; "
        f"server CPU {s['cpu_us_per_event']:.0f} µs/event | burst {b['events_per_s']:.0f} "
        f"events/s, server CPU {b['cpu_us_per_event']:.0f} µs/event"
        + (f" | RSS {result['memory']['rss_mib']:.0f} MiB" if "memory" in result else "")
    )


def main() -> None:
    if len(sys.argv) > 1 and sys.argv[1] == "--bare":
        asyncio.run(bare_relay_main(int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4])))
        return
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--phones", type=int, default=1000)
    ap.add_argument("--clients", type=int, default=100)
    ap.add_argument("--rate", type=float, default=1000.0, help="events per second, steady phase")
    ap.add_argument("--seconds", type=float, default=10.0, help="length of the steady phase")
    ap.add_argument(
        "--burst", type=int, default=20000, help="events in the as-fast-as-possible phase"
    )
    ap.add_argument("--no-bare", action="store_true", help="skip the bare relay")
    args = ap.parse_args()
    raise_fd_limit()
    print(
        f"{args.phones} phones, {args.clients} clients ({args.phones // args.clients} devices "
        f"each), steady {args.rate:g} events/s for {args.seconds:g} s, burst {args.burst}"
    )
    with tempfile.TemporaryDirectory() as tmp:
        server = UacstaServer(
            Path(tmp),
            PASSWORD,
            client=("bench", CLIENT_PASSWORD),
            log_level=os.environ.get("RELAY_LOG_LEVEL", "WARNING"),
            keep_log=os.environ.get("RELAY_KEEP_LOG"),
        )
        try:
            ours = asyncio.run(run_uacsta(args, server))
        finally:
            server.stop()
    show("uacsta", ours)
    if args.no_bare:
        return
    relay = BareRelay(args.clients)
    try:
        bare = asyncio.run(run_bare(args, relay))
    finally:
        relay.stop()
    show("bare", bare)
    s, b = ours["steady"], bare["steady"]
    print(
        f"uacsta/bare: p99 latency {s['p99_us'] / b['p99_us']:.2f}x, CPU per event "
        f"{s['cpu_us_per_event'] / b['cpu_us_per_event']:.2f}x (steady), "
        f"{ours['burst']['cpu_us_per_event'] / bare['burst']['cpu_us_per_event']:.2f}x (burst); "
        f"burst rate {ours['burst']['events_per_s'] / bare['burst']['events_per_s']:.2f}x"
    )


if __name__ == "__main__":
    main()
