"""REGISTER-with-digest throughput and memory per registered phone.

Prints, for uacsta (started with its own ``uacsta serve`` command on loopback):

* REGISTER transactions with digest per second over TCP, driven by sipp with
  N concurrent phones (REGISTER, 401, REGISTER with credentials, 200);
* the server's resident memory per registered phone at 1,000 and 10,000 phones
  over TCP and over TLS (each phone on its own connection, as real phones are).

Where Kamailio is installed, the same sipp load runs against a Kamailio
registrar with digest in the same run, and the ratio is printed.

    uv run python bench/register.py [--calls 20000] [--concurrency 200]
        [--phones 1000 10000] [--no-kamailio] [--no-memory]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import shutil
import ssl
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "src"))
sys.path.insert(0, str(ROOT / "bench"))

from common import UacstaServer, free_port, raise_fd_limit, rss_kib, wait_port  # noqa: E402

from uacsta.sip import Headers, Request, Response, StreamFramer  # noqa: E402
from uacsta.sip.digest import answer_challenge  # noqa: E402
from uacsta.sip.framer import MessageReceived  # noqa: E402

PASSWORD = "bench-password-1"
SCENARIO = ROOT / "tests" / "interop" / "scenarios" / "register_load.xml"


def macs(n: int, prefix: str = "000413") -> list[str]:
    return [f"{prefix}{i:06X}" for i in range(n)]


# -- the servers ----------------------------------------------------------------------


class Kamailio:
    def __init__(self, workdir: Path, children: int) -> None:
        binary = shutil.which("kamailio")
        assert binary
        self.port = free_port()
        mpath = "/usr/lib/x86_64-linux-gnu/kamailio/modules/"
        cfg = (Path(__file__).parent / "kamailio.cfg.in").read_text()
        for key, value in [
            ("PORT", str(self.port)),
            ("MPATH", mpath),
            ("PASSWORD", PASSWORD),
            ("CHILDREN", str(children)),
        ]:
            cfg = cfg.replace(f"@{key}@", value)
        path = workdir / "kamailio.cfg"
        path.write_text(cfg)
        self.proc = subprocess.Popen(
            [binary, "-f", str(path), "-DD", "-E", "-w", str(workdir), "-m", "256"],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        wait_port(self.port)

    def stop(self) -> None:
        self.proc.terminate()
        self.proc.wait(30)


# -- throughput with sipp -----------------------------------------------------------------


def sipp_rate(port: int, calls: int, concurrency: int, workdir: Path, name: str) -> float:
    """REGISTER-with-digest exchanges per second (one exchange = two REGISTER
    transactions, the challenged one and the authenticated one)."""
    ok, elapsed = sipp_run(port, calls, concurrency, workdir, name)
    return ok / elapsed


def sipp_run(
    port: int, calls: int, concurrency: int, workdir: Path, name: str, prefix: str = "000413"
) -> tuple[int, float]:
    """One sipp on one TCP connection: (exchanges that succeeded, seconds)."""
    inf = workdir / f"{name}-phones.csv"
    lines = [f"{m};[authentication username={m} password={PASSWORD}]" for m in macs(calls, prefix)]
    inf.write_text("SEQUENTIAL\n" + "\n".join(lines) + "\n")
    sipp = shutil.which("sipp")
    assert sipp, "sipp is needed (apt-get install sip-tester)"
    start = time.monotonic()
    result = subprocess.run(
        [
            sipp,
            f"127.0.0.1:{port}",
            "-t",
            "t1",
            "-sf",
            str(SCENARIO),
            "-inf",
            str(inf),
            "-m",
            str(calls),
            "-l",
            str(concurrency),
            "-r",
            "100000",
            "-rp",
            "1000",
            "-nostdin",
            "-i",
            "127.0.0.1",
            "-p",  # a local port of its own: several sipps run at once in bench/cluster.py
            str(free_port()),
            "-timeout",
            "300s",
            "-max_socket",
            "60000",
        ],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=600,
    )
    elapsed = time.monotonic() - start
    ok = _sipp_count(result.stdout, "Successful call")
    failed = _sipp_count(result.stdout, "Failed call")
    if failed or ok != calls:
        print(f"  {name}: sipp reported {ok} successful, {failed} failed", file=sys.stderr)
    return ok, elapsed


def _sipp_count(screen: str, label: str) -> int:
    matches = re.findall(rf"{label}\s*\|\s*\d+\s*\|\s*(\d+)", screen)
    return int(matches[-1]) if matches else 0


# -- memory per phone ------------------------------------------------------------------------


async def register_one(mac: str, port: int, tls: ssl.SSLContext | None) -> asyncio.StreamWriter:
    reader, writer = await asyncio.open_connection(
        "127.0.0.1", port, ssl=tls, server_hostname="localhost" if tls else None
    )
    framer = StreamFramer()
    transport = "TLS" if tls else "TCP"
    local = writer.get_extra_info("sockname")

    def request(cseq: int, auth: str | None) -> bytes:
        h = Headers()
        h.add("Via", f"SIP/2.0/{transport} {local[0]}:{local[1]};branch=z9hG4bK{mac}{cseq}")
        h.add("Max-Forwards", "70")
        h.add("From", f"<sip:{mac}@bench>;tag={mac}")
        h.add("To", f"<sip:{mac}@bench>")
        h.add("Call-ID", f"{mac}@bench")
        h.add("CSeq", f"{cseq} REGISTER")
        h.add("Contact", f"<sip:{mac}@{local[0]}:{local[1]};transport={transport.lower()}>")
        h.add("Expires", "300")
        h.add("User-Agent", "snomD785/10.1.54.13")
        if auth:
            h.add("Authorization", auth)
        return Request(headers=h, method="REGISTER", uri="sip:bench").to_bytes()

    async def answer() -> Response:
        while True:
            data = await reader.read(65536)
            if not data:
                raise ConnectionError("closed")
            for event in framer.feed(data):
                if isinstance(event, MessageReceived) and isinstance(event.message, Response):
                    return event.message

    writer.write(request(1, None))
    challenge = await answer()
    auth = answer_challenge(
        challenge.headers.get("WWW-Authenticate", ""),
        method="REGISTER",
        uri="sip:bench",
        username=mac,
        password=PASSWORD,
    )
    writer.write(request(2, auth))
    final = await answer()
    if final.status != 200:
        raise RuntimeError(f"{mac}: {final.status}")
    return writer


async def memory_per_phone(
    pid: int, port: int, count: int, tls: ssl.SSLContext | None, prefix: str
) -> float:
    before = rss_kib(pid)
    writers: list[asyncio.StreamWriter] = []
    sem = asyncio.Semaphore(200)

    async def one(mac: str) -> None:
        async with sem:
            writers.append(await register_one(mac, port, tls))

    await asyncio.gather(*(one(m) for m in macs(count, prefix)))
    await asyncio.sleep(2.5)  # let the write-behind flush settle
    after = rss_kib(pid)
    for w in writers:
        w.close()
    await asyncio.sleep(3)
    return (after - before) / count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--calls", type=int, default=20000)
    parser.add_argument("--concurrency", type=int, default=200)
    parser.add_argument("--phones", type=int, nargs="*", default=[1000, 10000])
    parser.add_argument("--no-kamailio", action="store_true")
    parser.add_argument("--no-memory", action="store_true")
    args = parser.parse_args()
    raise_fd_limit()
    with tempfile.TemporaryDirectory(prefix="uacsta-bench-") as tmp:
        work = Path(tmp)
        server = UacstaServer(work / "rate", PASSWORD)
        try:
            ours = sipp_rate(server.tcp, args.calls, args.concurrency, work, "uacsta")
        finally:
            server.stop()
        print(
            f"uacsta   REGISTER with digest over TCP: {ours:9.0f} exchanges/s "
            f"({2 * ours:.0f} REGISTER transactions/s), {args.concurrency} concurrent "
            f"phones, {args.calls} phones"
        )
        if not args.no_memory:
            for n in args.phones:
                for label in ("TCP", "TLS"):
                    # A fresh server each time: RSS after other work hides new use.
                    fresh = UacstaServer(work / f"mem-{label}-{n}", PASSWORD)
                    try:
                        ca = fresh.data / "certs" / "ca.pem"
                        ctx = ssl.create_default_context(cafile=str(ca)) if label == "TLS" else None
                        port = fresh.tls if ctx else fresh.tcp
                        per = asyncio.run(memory_per_phone(fresh.proc.pid, port, n, ctx, "0004F2"))
                    finally:
                        fresh.stop()
                    print(
                        f"uacsta   memory per registered {label} phone at {n:6d} phones: "
                        f"{per:6.1f} KiB"
                    )
        if args.no_kamailio:
            return
        if not shutil.which("kamailio"):
            print("kamailio not installed: no comparison (apt-get install kamailio)")
            return
        kam = Kamailio(work, children=os.cpu_count() or 2)
        try:
            theirs = sipp_rate(kam.port, args.calls, args.concurrency, work, "kamailio")
        finally:
            kam.stop()
        print(f"kamailio REGISTER with digest over TCP: {theirs:9.0f} exchanges/s")
        print(f"ratio uacsta/kamailio: {ours / theirs:.2f}")


if __name__ == "__main__":
    main()
