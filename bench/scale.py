"""Many simulated phones against one server, and a mass reboot.

Starts ``uacsta serve`` and, in this process, N simulated phones of all six
vendors (the simulator's own code, as ``uacsta sim`` runs it) at a ramp rate.
Prints how long until every phone was registered and had its uaCSTA dialog
up, the memory and CPU of the server and of the simulator; then cuts every
phone's connection at once (a power cut across the building) and prints how
long until all dialogs were back up.

    uv run python bench/scale.py [--phones 10000] [--ramp 500]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import resource
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import UacstaServer, against_server, rss_kib, tree_cpu_seconds, tree_rss_kib  # noqa: E402

from uacsta.sim.phone import SimPhone  # noqa: E402
from uacsta.sim.runner import SimOptions, make_phones  # noqa: E402

PASSWORD = "bench-password-1"


async def wait_until(check: object, timeout: float) -> float:
    began = time.monotonic()
    while not check():  # type: ignore[operator]
        if time.monotonic() - began > timeout:
            raise RuntimeError("timed out")
        await asyncio.sleep(0.2)
    return time.monotonic() - began


async def run(args: argparse.Namespace, server: UacstaServer) -> None:
    phones: list[SimPhone] = make_phones(
        SimOptions(host="127.0.0.1", port=server.tcp, password=PASSWORD, phones=args.phones)
    )
    began = time.monotonic()
    cpu0 = tree_cpu_seconds(server.proc.pid)
    sem = asyncio.Semaphore(200)

    async def start(phone: SimPhone) -> None:
        async with sem:
            await phone.start()

    tasks = []
    for i, phone in enumerate(phones):
        tasks.append(asyncio.create_task(start(phone)))
        if args.ramp and i % 50 == 49:
            await asyncio.sleep(50 / args.ramp)
    await asyncio.gather(*tasks)
    registered = time.monotonic() - began
    up = await wait_until(lambda: all(p.dialog is not None for p in phones), 600)
    total = registered + up
    cpu = tree_cpu_seconds(server.proc.pid) - cpu0
    me = resource.getrusage(resource.RUSAGE_SELF)
    print(
        f"{args.phones} phones (six vendors): all registered after {registered:.1f} s, all "
        f"uaCSTA dialogs up after {total:.1f} s ({args.phones / total:.0f} phones/s)"
    )
    print(
        f"server: RSS {tree_rss_kib(server.proc.pid) / 1024:.0f} MiB, CPU {cpu:.1f} s "
        f"({cpu / args.phones * 1e3:.2f} ms per phone brought up)"
    )
    print(
        f"simulator: RSS {rss_kib(os.getpid()) / 1024:.0f} MiB, CPU "
        f"{me.ru_utime + me.ru_stime:.1f} s"
    )
    await asyncio.sleep(args.settle)
    idle0, t0 = tree_cpu_seconds(server.proc.pid), time.monotonic()
    await asyncio.sleep(10)
    idle = (tree_cpu_seconds(server.proc.pid) - idle0) / (time.monotonic() - t0)
    print(f"server idle with {args.phones} phones: {idle * 100:.1f} % of a core")
    # a power cut: every connection goes at once; phones register again
    cpu0, began = tree_cpu_seconds(server.proc.pid), time.monotonic()
    # the dialogs themselves, not their id(): a new dialog may be allocated where a
    # freed one was, and an equal id() would wait for ever
    before = {p.mac: p.dialog for p in phones}
    for phone in phones:
        if phone._writer is not None:
            phone._writer.transport.abort()
    await wait_until(
        lambda: all(p.dialog is not None and p.dialog is not before[p.mac] for p in phones), 900
    )
    print(
        f"mass reboot: all {args.phones} connections cut at once, all dialogs back after "
        f"{time.monotonic() - began:.1f} s (server CPU "
        f"{tree_cpu_seconds(server.proc.pid) - cpu0:.1f} s)"
    )
    for phone in phones:
        await phone.stop()


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawTextHelpFormatter)
    ap.add_argument("--phones", type=int, default=10000)
    ap.add_argument("--ramp", type=float, default=500.0, help="phones started per second")
    ap.add_argument("--settle", type=float, default=5.0, help="seconds before the idle figure")
    args = ap.parse_args()
    against_server(run, args, PASSWORD)


if __name__ == "__main__":
    main()
