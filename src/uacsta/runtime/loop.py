"""The event loop the server runs on.

asyncio's own by default.  uvloop (a dependency on Linux) is chosen with the
bootstrap setting ``event_loop = "uvloop"`` (``"auto"``: uvloop where it is
installed).  It is not the default because in ``bench/scale.py`` (10,000 phones
registering, 200 at a time) about 150 phones under uvloop never received the 401
the server wrote for their first REGISTER, while every phone did under asyncio;
and it bought nothing measurable in ``bench/relay.py`` (bench/README.md).  The
TLS tests run under both loops.
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
            "install it or set event_loop = asyncio"
        ) from None
    return uvloop.new_event_loop


def run(coro: Coroutine[Any, Any, T], choice: LoopChoice = "asyncio") -> T:
    with asyncio.Runner(loop_factory=loop_factory(choice)) as runner:
        # As asyncio.run does (a Runner given a factory does not): libraries
        # that ask for "the" event loop get this one.
        asyncio.set_event_loop(runner.get_loop())
        try:
            return runner.run(coro)
        finally:
            asyncio.set_event_loop(None)


def loop_name(loop: asyncio.AbstractEventLoop | None = None) -> str:
    """``uvloop 0.23.0`` or ``asyncio``: for the status and the start-up lines."""
    loop = loop or asyncio.get_running_loop()
    if type(loop).__module__.startswith("uvloop"):
        from importlib.metadata import version

        return f"uvloop {version('uvloop')}"
    return "asyncio"
