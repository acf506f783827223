"""The event loop the server runs on.

uvloop where it is installed (it is a dependency on Linux): its reads, writes and
timers are C, which at thousands of phones is a third of the server's time less
(bench/README.md). asyncio's own loop stays the fallback and can be chosen with
the bootstrap setting ``event_loop`` (``UACSTA_EVENT_LOOP=asyncio``), say to rule
the loop out when a problem is looked into.
"""

from __future__ import annotations

import asyncio
import importlib.util
from collections.abc import Callable, Coroutine
from typing import Any, Literal, TypeVar

T = TypeVar("T")
LoopChoice = Literal["auto", "uvloop", "asyncio"]
LoopFactory = Callable[[], asyncio.AbstractEventLoop]


class LoopUnavailable(RuntimeError):
    pass


def uvloop_installed() -> bool:
    return importlib.util.find_spec("uvloop") is not None


def loop_factory(choice: LoopChoice) -> LoopFactory:
    """What makes the loop ``choice`` names; ``auto``: uvloop if installed."""
    if choice == "asyncio" or (choice == "auto" and not uvloop_installed()):
        return asyncio.new_event_loop
    try:
        import uvloop
    except ImportError as exc:
        raise LoopUnavailable(
            f"event_loop = uvloop, but uvloop does not load here ({exc}); "
            "install it or set event_loop = auto"
        ) from None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T], choice: LoopChoice = "auto") -> T:
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        return runner.run(coro)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``uvloop 0.23.0`` or ``asyncio``: for the status and the start-up lines."""
    loop = loop or asyncio.get_running_loop()
    if type(loop).__module__.startswith("uvloop"):
        from importlib.metadata import version

        return f"uvloop {version('uvloop')}"
    return "asyncio"
