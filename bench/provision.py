"""Provisioning many telephones: how long *Provide selected telephones* takes
for N phones (six vendors mixed, each with its own 127.x address and web
interface, from ``uacsta sim --devices``), how long until all of them have
restarted, registered and are controllable, and how long *Delete
provisioning* takes, at several values of the option *Telephones at a time*.

There is no peer to compare with (the alternative is typing the settings on
each phone); the figure to watch is phones per second against concurrency.

    uv run python bench/provision.py [--phones 300] [--concurrency 1 16 64]
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "bench"))

from common import UacstaServer, free_port, raise_fd_limit  # noqa: E402

VENDORS = {
    "snom": "000413",
    "yealink": "001565",
    "mitel": "00085D",
    "poly": "64167F",
    "auerswald": "000952",
    "gigaset": "7C2F8E",
}
PASSWORD = "bench-Password-1"
WEB = "bench-web"
WEB_PORT = 8480


def ip(i: int) -> str:
    return f"127.42.{i // 250}.{i % 250 + 1}"


def devices(n: int) -> list[dict[str, object]]:
    out = []
    for i in range(n):
        vendor = list(VENDORS)[i % len(VENDORS)]
        out.append(
            {
                "vendor": vendor,
                "mac": f"{VENDORS[vendor]}{i:06X}",
                "ip": ip(i),
                "web_port": WEB_PORT,
                "web_password": WEB,
                "numbers": [str(10000 + i)],
                "handsets": 1,
                "boot_seconds": 0.2,
            }
        )
    return out


def wait_web(n: int, proc: subprocess.Popen[bytes]) -> None:
    import socket

    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        if proc.poll() is not None:
            raise RuntimeError("the simulator stopped")
        with socket.socket() as s:
            if s.connect_ex((ip(n - 1), WEB_PORT)) == 0:
                return
        time.sleep(0.2)
    raise RuntimeError("simulated phones not up")


def controllable(http: httpx.Client) -> int:
    return sum(1 for d in http.get("/api/v1/devices").json() if d["online"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--phones", type=int, default=300)
    parser.add_argument("--concurrency", type=int, nargs="+", default=[1, 16, 64])
    args = parser.parse_args()
    raise_fd_limit()
    n = args.phones
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        config_port = free_port()
        server = UacstaServer(
            work,
            PASSWORD,
            client=("bench", "bench-Password-1"),
            settings=[("provisioning.http_port", str(config_port))],
        )
        spec = work / "devices.json"
        spec.write_text(json.dumps(devices(n)))
        sim = subprocess.Popen(
            [sys.executable, "-m", "uacsta", "sim", "--devices", str(spec)],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        env = {**os.environ, **{k: v for k, v in server.env.items() if k.startswith("UACSTA_")}}
        ranges = sorted({f"127.42.{i // 250}.{i % 250 + 1}" for i in range(n)})
        http = httpx.Client(
            base_url=f"http://127.0.0.1:{server.http}", auth=("bench", "bench-Password-1")
        )
        try:
            wait_web(n, sim)
            print(f"{n} simulated phones (six vendors), provisioning over loopback")
            print(
                f"{'at a time':>10} {'push s':>8} {'phones/s':>9} {'controllable s':>15} "
                f"{'delete s':>9}"
            )
            for concurrency in args.concurrency:
                common = ["--web-password", WEB, "--web-port", str(WEB_PORT), "--json"]

                def uacsta(*args: str) -> subprocess.CompletedProcess[str]:
                    return subprocess.run(
                        [sys.executable, "-m", "uacsta", *args],
                        env=env,
                        capture_output=True,
                        text=True,
                    )

                if uacsta(
                    "settings", "set", "provisioning.concurrency", str(concurrency)
                ).returncode:
                    raise RuntimeError("cannot set the concurrency option")
                start = time.monotonic()
                pushed = uacsta("provision", "push", *ranges, *common)
                push_s = time.monotonic() - start
                states = [o["state"] for o in json.loads(pushed.stdout)]
                if states.count("done") != n:
                    raise RuntimeError(
                        f"push: {states.count('done')} of {n} done: {pushed.stderr[-2000:]}"
                    )
                deadline = time.monotonic() + 300
                while controllable(http) < n and time.monotonic() < deadline:
                    time.sleep(0.2)
                up_s = time.monotonic() - start
                start = time.monotonic()
                deleted = uacsta("provision", "delete", *ranges, *common)
                delete_s = time.monotonic() - start
                if deleted.returncode != 0:
                    raise RuntimeError(f"delete failed: {deleted.stdout[-2000:]}")
                while controllable(http) > 0 and time.monotonic() < deadline:
                    time.sleep(0.2)
                print(
                    f"{concurrency:>10} {push_s:>8.1f} {n / push_s:>9.1f} {up_s:>15.1f} "
                    f"{delete_s:>9.1f}"
                )
        finally:
            http.close()
            sim.terminate()
            sim.wait(30)
            server.stop()


if __name__ == "__main__":
    main()
