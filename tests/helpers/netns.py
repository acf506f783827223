"""A phone network of the test's own: a network namespace with a bridge, joined
to this (the server's) namespace by a veth pair.  Traffic to its subnet goes
through the veth only; broadcast and multicast sent from the host side reach
the namespace and nothing else.  Everything is removed afterwards."""

from __future__ import annotations

import ipaddress
import json
import os
import subprocess
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any


def _ip(*args: str, ns: str | None = None) -> str:
    cmd = ["ip", *args] if ns is None else ["ip", "netns", "exec", ns, "ip", *args]
    result = subprocess.run(cmd, capture_output=True, text=True, timeout=20)
    if result.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)}: {result.stderr.strip()} (the netns tests need root and "
            "iproute2, which .ci/run installs)"
        )
    return result.stdout


@dataclass
class PhoneNet:
    ns: str
    host_if: str
    host_ip: str
    prefix: str  # "10.231.7." : phones get prefix + 10, 11, ...

    def phone_ip(self, i: int) -> str:
        return f"{self.prefix}{10 + i}"

    def run_in(self, args: list[str], log: Path) -> subprocess.Popen[bytes]:
        """A process inside the phone network (the simulator)."""
        return subprocess.Popen(
            ["ip", "netns", "exec", self.ns, *args],
            stdout=log.open("wb"),
            stderr=subprocess.STDOUT,
            env={**os.environ, "PYTHONUNBUFFERED": "1"},
        )

    def sim(self, devices: list[dict[str, Any]], folder: Path) -> subprocess.Popen[bytes]:
        spec = folder / "devices.json"
        spec.write_text(json.dumps(devices))
        return self.run_in(
            [sys.executable, "-m", "uacsta", "sim", "--devices", str(spec)], folder / "sim.log"
        )


def _free_subnet() -> int:
    used = _ip("-4", "route", "show") + _ip("-4", "addr", "show")
    start = os.getpid() % 200
    for n in range(start, start + 200):
        third = n % 250 + 1
        net = ipaddress.ip_network(f"10.231.{third}.0/24")
        if f"10.231.{third}." not in used and not any(
            net.overlaps(ipaddress.ip_network(w, strict=False))
            for w in used.split()
            if "/" in w and w[0].isdigit()
        ):
            return third
    raise AssertionError("no free 10.231.x.0/24 subnet for the test network")


@contextmanager
def phone_network(phones: int) -> Iterator[PhoneNet]:
    third = _free_subnet()
    tag = f"{os.getpid() % 100000}{third}"
    ns, host_if = f"uacsta-t{tag}", f"uat{tag}"[:15]
    prefix = f"10.231.{third}."
    net = PhoneNet(ns, host_if, f"{prefix}1", prefix)
    _ip("netns", "add", ns)
    try:
        _ip("link", "add", host_if, "type", "veth", "peer", "name", "uplink", "netns", ns)
        _ip("link", "add", "br0", "type", "bridge", "mcast_snooping", "0", ns=ns)
        _ip("link", "set", "uplink", "master", "br0", ns=ns)
        for i in range(phones):
            _ip("addr", "add", f"{net.phone_ip(i)}/24", "dev", "br0", ns=ns)
        for dev in ("lo", "uplink", "br0"):
            _ip("link", "set", dev, "up", ns=ns)
        _ip("addr", "add", f"{net.host_ip}/24", "dev", host_if)
        _ip("link", "set", host_if, "up")
        yield net
    finally:
        subprocess.run(["ip", "link", "del", host_if], capture_output=True, timeout=20)
        subprocess.run(["ip", "netns", "del", ns], capture_output=True, timeout=20)
