"""The telephone list's change notifications: whoever shows the list live
(the admin UI's server-sent events) waits here for the next version."""

from __future__ import annotations

import asyncio


class TelephoneListChanges:
    def __init__(self) -> None:
        self.version = 0
        self._event = asyncio.Event()

    def changed(self) -> None:
        self.version += 1
        event, self._event = self._event, asyncio.Event()
        event.set()

    async def after(self, seen: int) -> int:
        """Wait until the telephone list differs from version ``seen``."""
        while self.version == seen:
            await self._event.wait()
        return self.version
