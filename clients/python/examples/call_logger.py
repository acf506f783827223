"""Call logger: one line per call when it ends (who, how long), from the
REST face's Server-Sent Events, as a low-code tool would watch.

    python call_logger.py http://127.0.0.1:8090 crm secret 201,202
"""

from __future__ import annotations

import sys
import time

from uacsta_client import Rest


def log_calls(base: str, user: str, password: str, devices: list[str], calls: int) -> None:
    started: dict[str, tuple[float, str | None]] = {}
    ended: set[str] = set()  # the other phones of an ended call report it too
    logged = 0
    with Rest(base, user, password) as rest:
        for event in rest.events(devices):
            if event.call is None or event.call in ended:
                continue
            began, caller = started.setdefault(event.call, (time.monotonic(), None))
            if caller is None and event.caller:  # the first event to name the caller
                started[event.call] = (began, event.caller)
            if event.kind in ("ConnectionClearedEvent", "CallClearedEvent"):
                began, caller = started.pop(event.call)
                ended.add(event.call)
                print(
                    f"call {event.call} at {event.device}: from {caller or '?'}, "
                    f"{time.monotonic() - began:.1f} s, {event.cause}",
                    flush=True,
                )
                logged += 1
                if logged >= calls:
                    return


if __name__ == "__main__":
    base, user, password, devices = sys.argv[1:5]
    count = int(sys.argv[5]) if len(sys.argv) > 5 else 10**9
    log_calls(base, user, password, devices.split(","), count)
