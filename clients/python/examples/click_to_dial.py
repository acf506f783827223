"""Click-to-dial: make one phone call a number and say how it went, without
asyncio (the blocking client).

    python click_to_dial.py ws://127.0.0.1:8090/api/v1/ws crm secret 201 202
"""

from __future__ import annotations

import sys

from uacsta_client import CstaError, SyncClient


def dial(url: str, user: str, password: str, device: str, number: str) -> int:
    with SyncClient(url, user, password) as client:
        client.monitor(device)
        try:
            call = client.make_call(device, number)
        except CstaError as exc:
            print(f"cannot call: {exc}")
            return 1
        print(f"calling {number} from {device}: call {call}", flush=True)
        for event in client.events(timeout=30):
            if event.call != call.reference:
                continue
            print(event, flush=True)
            if event.kind in ("EstablishedEvent", "FailedEvent", "ConnectionClearedEvent"):
                return 0 if event.kind == "EstablishedEvent" else 2
        print("no answer within 30 s")
        return 3


if __name__ == "__main__":
    sys.exit(dial(*sys.argv[1:6]))
