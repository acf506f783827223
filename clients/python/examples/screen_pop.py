"""CRM screen-pop: when a watched phone rings, show who calls (here: print
the caller and the URL a CRM would open), once per call.

    python screen_pop.py ws://127.0.0.1:8090/api/v1/ws crm secret 201,202 [calls]

(stops after ``calls`` screen-pops when given)
"""

from __future__ import annotations

import asyncio
import sys
from urllib.parse import quote

from uacsta_client import Client


def number(device: str | None) -> str:
    """201 from sip:201@pbx.example."""
    return (device or "").removeprefix("sip:").partition("@")[0]


async def main(url: str, user: str, password: str, devices: list[str], limit: int) -> None:
    async with Client(url, user, password) as client:
        xrefs = {await client.monitor(d): d for d in devices}
        popped: set[str] = set()
        async for event in client.events():
            # Ringing at one of ours: a DeliveredEvent whose connection is the
            # watched device (the caller's phone reports one too).
            if event.kind != "DeliveredEvent" or event.monitor not in xrefs:
                continue
            if number(event.device) != xrefs[event.monitor]:
                continue
            call = event.call or event.call_id or ""
            if call in popped:
                continue
            popped.add(call)
            caller = event.caller or "unknown"
            print(
                f"ringing at {xrefs[event.monitor]}: {caller} "
                f"https://crm.example/lookup?number={quote(caller)}",
                flush=True,
            )
            if len(popped) >= limit:
                return


if __name__ == "__main__":
    url, user, password, devices = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 10**9
    asyncio.run(main(url, user, password, devices.split(","), count))
