"""Workers and a cluster on NATS, side by side with Kamailio.

* ``register``: REGISTER with digest over TCP, ``uacsta serve --workers 1``
  and ``--workers 2`` against Kamailio with two children, in the same run.
  Several sipp processes, each on a TCP connection of its own (one connection
  lands on one worker: the kernel spreads connections, not messages), with
  MACs of their own.
* ``scale``: bench/scale.py (10,000 phones of six vendors up, idle, mass
  reboot) against ``uacsta serve --workers 2``.
* ``failover``: three nodes (``uacsta serve`` each, one nats-server), phones
  spread over them, each phone given the other two nodes as its second and
  third server; a client on node 1 monitors every phone.  Node 3 is killed
  with SIGKILL: the time until every phone of node 3 is controllable again
  (its monitor back in service at the client), and the DND events of the
  other nodes' phones sent meanwhile that did not arrive, or arrived twice.
  A second client, on node 3, watches the other nodes' phones: its session
  resumes on node 1 (the client library's ``other_urls``); the time until it
  has every DND event, and those it lost or got twice.

Each part runs ``--runs`` times (3 by default) and prints min/median/max.

    uv run python bench/cluster.py register [--calls 20000] [--sipps 4]
    uv run python bench/cluster.py scale [--phones 10000]
    uv run python bench/cluster.py failover [--phones 600]
"""

from __future__ import annotations

import argparse
import asyncio
import concurrent.futures
import contextlib
import shutil
import statistics
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))
sys.path.insert(0, str(ROOT / "clients" / "python" / "src"))

from common import UacstaServer, against_server, raise_fd_limit  # noqa: E402
from register import PASSWORD, Kamailio, sipp_run  # noqa: E402
from scale import run as scale_run  # noqa: E402
from scale import wait_until  # noqa: E402
from uacsta_client import Client  # noqa: E402

from uacsta.runtime.workers import LocalNats  # noqa: E402
from uacsta.sim.phone import SimPhone, SimPhoneConfig  # noqa: E402
from uacsta.sim.switch import SimSwitch  # noqa: E402

CLIENT = ("bench", "bench-client-pw-1")


def spread(values: list[float], unit: str = "", digits: int = 0) -> str:
    if not values:
        return "n/a"
    lo, mid, hi = min(values), statistics.median(values), max(values)
    return f"{lo:.{digits}f} / {mid:.{digits}f} / {hi:.{digits}f}{unit} (min/median/max)"


# -- register -------------------------------------------------------------------------------


def parallel_rate(port: int, args: argparse.Namespace, workdir: Path, name: str) -> float:
    """Exchanges per second of ``args.sipps`` sipp processes at once."""
    each = args.calls // args.sipps
    with concurrent.futures.ThreadPoolExecutor(args.sipps) as pool:
        began = time.monotonic()
        runs = [
            pool.submit(
                sipp_run,
                port,
                each,
                max(1, args.concurrency // args.sipps),
                workdir,
                f"{name}-{i}",
                f"00{i:02X}13",
            )
            for i in range(args.sipps)
        ]
        ok = sum(r.result()[0] for r in runs)
        elapsed = time.monotonic() - began
    return ok / elapsed


def register(args: argparse.Namespace) -> None:
    raise_fd_limit()
    figures: dict[str, list[float]] = {"1 worker": [], "2 workers": [], "kamailio": []}
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            work = Path(tmp)
            if shutil.which("kamailio") and not args.no_kamailio:
                k = Kamailio(work, children=2)
                try:
                    figures["kamailio"].append(parallel_rate(k.port, args, work, "kamailio"))
                finally:
                    k.stop()
            for count in (1, 2):
                folder = work / f"w{count}"
                server = UacstaServer(
                    folder,
                    PASSWORD,
                    serve_args=("--workers", str(count)),
                    env={"UACSTA_NODE_NAME": "bench"},
                )
                try:
                    rate = parallel_rate(server.tcp, args, folder, f"uacsta-{count}")
                finally:
                    server.stop()
                figures["1 worker" if count == 1 else "2 workers"].append(rate)
    print(
        f"REGISTER with digest over TCP, {args.calls} phones, {args.sipps} sipp processes "
        f"(a TCP connection each), {args.concurrency} concurrent, {args.runs} runs:"
    )
    for name, values in figures.items():
        print(f"  {name:<10} {spread(values, ' exchanges/s')}")
    k = figures["kamailio"]
    if k:
        for name in ("1 worker", "2 workers"):
            ratios = [u / kk for u, kk in zip(figures[name], k, strict=False)]
            print(f"  ratio {name} / kamailio: {spread(ratios, digits=2)}")


# -- scale ------------------------------------------------------------------------------------


def scale(args: argparse.Namespace) -> None:
    for i in range(args.runs):
        print(f"run {i + 1}, uacsta serve --workers 2:")
        against_server(
            scale_run,
            args,
            PASSWORD,
            serve_args=("--workers", "2"),
            env={"UACSTA_NODE_NAME": "bench"},
        )


# -- failover --------------------------------------------------------------------------------


Figures = tuple[float, int, int, float, int, int]


async def record(client: Client, xrefs: dict[str, int], seen: dict[int, list[str]]) -> None:
    """The kinds of events each phone's monitor gets, in order."""
    async for event in client.events():
        xref = event.csta.get("monitorCrossRefID")
        if xref in xrefs:
            seen[xrefs[xref]].append(event.kind)


async def failover_once(args: argparse.Namespace, work: Path) -> Figures:
    """(seconds until node 3's phones are all back, DND events lost, twice;
    the same for the client whose session resumed on another node)."""
    nats = LocalNats(work / "nats")  # as serve --workers starts it
    await nats.start()
    nodes: list[UacstaServer] = []
    phones: list[SimPhone] = []
    try:
        for n in (1, 2, 3):
            nodes.append(
                UacstaServer(
                    work / f"node{n}",
                    PASSWORD,
                    client=CLIENT,
                    env={
                        "UACSTA_CLUSTER_URL": nats.url,
                        "UACSTA_NODE_NAME": f"node{n}",
                        "UACSTA_CLUSTER_DEAD_AFTER": "3",
                    },
                )
            )
        switch = SimSwitch()
        ports = [n.tcp for n in nodes]
        for i in range(args.phones):
            home = i % 3
            others = tuple(("127.0.0.1", ports[j]) for j in range(3) if j != home)
            phone = SimPhone(
                SimPhoneConfig(
                    "snom",
                    f"000413{i:06X}",
                    [f"sip:{5000 + i}@bench"],
                    PASSWORD,
                    "127.0.0.1",
                    ports[home],
                    backup_servers=others,
                )
            )
            switch.attach(phone)
            phones.append(phone)
        sem = asyncio.Semaphore(100)

        async def start(phone: SimPhone) -> None:
            async with sem:
                await phone.start()

        await asyncio.gather(*(start(p) for p in phones))
        await wait_until(lambda: all(p.dialog is not None for p in phones), 300)
        url = f"ws://127.0.0.1:{nodes[0].http}/api/v1/ws"
        node_urls = [f"ws://127.0.0.1:{n.http}/api/v1/ws" for n in nodes[:2]]
        mover = Client(f"ws://127.0.0.1:{nodes[2].http}/api/v1/ws", *CLIENT, other_urls=node_urls)
        await mover.connect()
        async with Client(url, *CLIENT) as client:
            xrefs: dict[str, int] = {}
            for i in range(args.phones):
                for _ in range(50):  # the directory reaches node 1 within moments
                    try:
                        xrefs[await client.monitor(str(5000 + i))] = i
                        break
                    except Exception:
                        await asyncio.sleep(0.1)
            seen: dict[int, list[str]] = {i: [] for i in range(args.phones)}
            reader = asyncio.create_task(record(client, xrefs, seen))
            await wait_until(lambda: all("BackInServiceEvent" in s for s in seen.values()), 120)
            lost_nodes = [i for i in range(args.phones) if i % 3 == 2]
            stayed = [i for i in range(args.phones) if i % 3 != 2]
            moved: dict[str, int] = {}
            for i in stayed:
                moved[await mover.monitor(str(5000 + i))] = i
            at_mover: dict[int, list[str]] = {i: [] for i in stayed}
            mover_reader = asyncio.create_task(record(mover, moved, at_mover))
            await wait_until(lambda: all("BackInServiceEvent" in s for s in at_mover.values()), 60)
            began = time.monotonic()
            nodes[2].proc.kill()
            # DND on and off at every phone of the surviving nodes meanwhile
            for on in (True, False):
                for i in stayed:
                    await client.set_dnd(str(5000 + i), on)

            def back() -> bool:
                return all(
                    s.count("BackInServiceEvent") >= 2 and s[-1] != "OutOfServiceEvent"
                    for s in (seen[i] for i in lost_nodes)
                )

            await wait_until(back, 120)
            took = time.monotonic() - began
            await wait_until(
                lambda: all(seen[i].count("DoNotDisturbEvent") >= 2 for i in stayed), 10
            )
            with contextlib.suppress(TimeoutError):
                await wait_until(
                    lambda: all(at_mover[i].count("DoNotDisturbEvent") >= 2 for i in stayed), 60
                )
            resumed = time.monotonic() - began
            await asyncio.sleep(1.0)  # anything twice would have arrived by now
            lost = sum(max(0, 2 - seen[i].count("DoNotDisturbEvent")) for i in stayed)
            twice = sum(max(0, seen[i].count("DoNotDisturbEvent") - 2) for i in stayed)
            m_lost = sum(max(0, 2 - at_mover[i].count("DoNotDisturbEvent")) for i in stayed)
            m_twice = sum(max(0, at_mover[i].count("DoNotDisturbEvent") - 2) for i in stayed)
            reader.cancel()
            mover_reader.cancel()
            with contextlib.suppress(Exception):
                await mover.close()
        return took, lost, twice, resumed, m_lost, m_twice
    finally:
        for phone in phones:
            await phone.stop()
        for node in nodes:
            if node.proc.poll() is None:
                node.stop()
        await nats.stop()


def failover(args: argparse.Namespace) -> None:
    raise_fd_limit()
    runs: list[Figures] = []
    for _ in range(args.runs):
        with tempfile.TemporaryDirectory() as tmp:
            runs.append(asyncio.run(failover_once(args, Path(tmp))))
    took, lost, twice, resumed, m_lost, m_twice = ([float(r[k]) for r in runs] for k in range(6))
    print(
        f"failover, 3 nodes, {args.phones} phones ({args.phones // 3} on the node killed "
        f"with SIGKILL), a client on node 1 monitoring all, {args.runs} runs:"
    )
    print(f"  every phone of the lost node controllable again after {spread(took, ' s', 1)}")
    print(f"  DND events of the other nodes' phones lost: {spread(lost)}; twice: {spread(twice)}")
    print(
        f"  a client of the lost node watching the {2 * args.phones // 3} others, resumed on "
        f"node 1: every DND event there after {spread(resumed, ' s', 1)}; lost: "
        f"{spread(m_lost)}; twice: {spread(m_twice)}"
    )


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    sub = ap.add_subparsers(dest="part", required=True)
    r = sub.add_parser("register")
    r.add_argument("--calls", type=int, default=20000)
    r.add_argument("--concurrency", type=int, default=200)
    r.add_argument("--sipps", type=int, default=4)
    r.add_argument("--no-kamailio", action="store_true")
    s = sub.add_parser("scale")
    s.add_argument("--phones", type=int, default=10000)
    s.add_argument("--ramp", type=float, default=500.0)
    s.add_argument("--settle", type=float, default=5.0)
    f = sub.add_parser("failover")
    f.add_argument("--phones", type=int, default=600)
    for p in (r, s, f):
        p.add_argument("--runs", type=int, default=3)
    args = ap.parse_args()
    {"register": register, "scale": scale, "failover": failover}[args.part](args)


if __name__ == "__main__":
    main()
