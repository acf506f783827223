"""A client session resuming on another node of a cluster.

A JSON client whose node died (or whose connection simply lands on another
node) logs in there with ``resume: {session, seq}``.  The session's home
(``cluster.node``) hands over what its first node kept in NATS: the
session's monitors and the events numbered for it.  The new node numbers on
from there:

1. the events the first node had numbered after ``seq`` come again, under
   their own numbers;
2. events of the session's devices that the first node never got to number
   (it was dead, or the session between nodes) come from each device's
   stream, after the last one the session had;
3. the monitors are back with their monitorCrossRefIDs: BackInService, as
   after every restore (a monitorCrossRefID whose device is gone gets
   MonitorStop);
4. then the live events, less any already caught up.

New events wait while this happens, so that the order holds.
"""

from __future__ import annotations

import asyncio
import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from ..csta import model as m
from .client_session import ClientSession, ResumeError, Sequenced
from .devices import Device, DeviceDirectory, DeviceRights
from .monitors import PointState, Subscription


@dataclass(frozen=True)
class Handover:
    login: str
    monitors: list[tuple[str, str]]  # (monitorCrossRefID, device key)
    sent: list[Sequenced]  # the events numbered on the first node and kept, in order
    last_seq: int  # the last number given there
    since: float  # (UNIX time) events of devices it had none of: the ones after this


class SessionHome(Protocol):
    """Where sessions of other nodes are found: the cluster node."""

    async def take(self, login: str, session_id: str) -> Handover:
        """The session, taken from its node (which lets it go); ResumeError
        when there is none for this login, or it is connected there."""
        ...

    async def missed(
        self, device: str, after: int | None, since: float
    ) -> list[tuple[int, m.CstaMessage]]:
        """The device's events from its stream: numbered after ``after``, or
        (``after`` None) published after ``since``."""
        ...


class Monitors(Protocol):
    """What a take-over needs of the switching function."""

    @property
    def devices(self) -> DeviceDirectory: ...

    def subscribe(self, client: ClientSession, device: Device, xref: str = "") -> Subscription: ...

    def back_in_service(self, sub: Subscription) -> m.CstaMessage: ...

    async def until_started(self, device: Device) -> None: ...

    def detach(self, client: ClientSession, reason: str, *, keep: bool) -> None: ...


async def resume_elsewhere(
    sf: Monitors,
    home: SessionHome,
    login: str,
    session_id: str,
    after_seq: int,
    rights: DeviceRights,
    attach: Callable[[str], ClientSession],
) -> ClientSession:
    """The session taken over from another node, after event ``after_seq``."""
    handover = await home.take(login, session_id)
    if after_seq < 0 or after_seq > handover.last_seq:
        raise ResumeError(f"sequence number {after_seq} was never sent (last {handover.last_seq})")
    oldest = handover.sent[0].seq if handover.sent else handover.last_seq + 1
    if after_seq + 1 < oldest:
        raise ResumeError(
            f"events {after_seq + 1}..{oldest - 1} are no longer kept; start a new session"
        )
    client = attach(session_id)
    try:
        client.pause(after_seq)
        for item in handover.sent:
            if item.seq > after_seq:
                client.replay(item)
            elif item.origin is not None:
                client.caught_up(item.origin)
        restored: list[tuple[Device, str]] = []
        for xref, key in handover.monitors:
            device = sf.devices.find(key)
            if device is None or not rights.allows(device):
                client.push(m.MonitorStop(monitorCrossRefID=xref))
                continue
            sub = sf.subscribe(client, device, xref)
            if sub.point.state is PointState.ACTIVE:
                client.push(sf.back_in_service(sub))
            restored.append((device, sub.xref))
        # the live events flow once the monitors run: catch up after that
        await asyncio.gather(*(sf.until_started(device) for device, _ in restored))
        for device, xref in restored:
            for number, event in await home.missed(
                device.key, client.floor(device.key), handover.since
            ):
                copy = dataclasses.replace(event, monitorCrossRefID=xref)  # type: ignore[call-arg]
                client.catch_up(copy, (device.key, number))
    except BaseException:
        # (cancelled, say: the client went away meanwhile) the session stays
        # here for the resume window, as after any lost connection
        client.unpause()
        sf.detach(client, "the resume did not complete", keep=True)
        raise
    client.unpause()
    return client
