"""The switching function as clients see it: devices, monitors, request
routing with the vendors' emulations, and the relay of every phone event to
every client watching its device.

Every client face (uaCSTA over SIP, JSON over WebSocket, REST) is a thin
adapter onto :meth:`SwitchingFunction.attach`, :meth:`request` and the
client's event stream; none of them reaches a phone's connection.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import json
import logging
import time
from collections.abc import Callable, Coroutine, Iterator
from dataclasses import dataclass
from typing import Any, Protocol

from ..csta import model as m
from ..csta.callstate import CallTracker, TrackedCall, subject_connection
from ..csta.codec import DecodeError
from ..csta.errors import CSTAErrorCode, ErrorCategory
from ..csta.jsonform import to_json
from ..csta.types import (
    ConnectionID,
    DeviceCategory,
    DeviceID,
    EventCause,
    EventDevice,
    SystemStatus,
)
from ..dialog.core import CstaAnswer
from ..logs import request_id
from ..phones.lifecycle import Phase
from ..phones.phone_session import SessionError
from ..trace import TRACER
from ..vendors.base import VendorProfile
from .calls import CallReferences
from .client_session import ClientSession, FaceKind, Origin, ResumeError
from .devices import Device, DeviceDirectory, DeviceRights
from .handover import SessionHome, resume_elsewhere
from .journal import Journal
from .monitors import MonitorPoint, MonitorTable, PointState, Subscription
from .router import SERVER_SERVICES, Route, respell, route, subject

log = logging.getLogger("uacsta.switching")
Answer = m.CstaMessage | CSTAErrorCode


def _tagged(client: ClientSession) -> dict[str, object]:
    return {"tag": client.tag}


def device_ids(value: object, depth: int = 0) -> Iterator[DeviceID]:
    """The device of every ConnectionID in a message (fields, lists, nested
    structures): each is a call at a device the request acts on.  Plain
    DeviceID fields besides the subject are numbers to dial, not devices
    controlled."""
    if depth > 8:
        return
    if isinstance(value, ConnectionID):
        if value.deviceID is not None:
            yield value.deviceID
    elif isinstance(value, list):
        for item in value:
            yield from device_ids(item, depth + 1)
    elif dataclasses.is_dataclass(value) and not isinstance(value, type):
        for f in dataclasses.fields(value):
            if f.name not in ("extensions", "unknown"):
                yield from device_ids(getattr(value, f.name), depth + 1)


class LineView(Protocol):
    """A phone as the switching function follows it: a local phone's line
    (``phones.session_manager.PhoneLine``) or a phone of another node of a
    cluster (``cluster.view.RemoteLine``)."""

    @property
    def mac(self) -> str: ...
    @property
    def phase(self) -> Phase: ...
    @property
    def identities(self) -> list[DeviceID]: ...
    @property
    def reason(self) -> str: ...


class ControlledPhone(Protocol):
    """A phone whose dialog is up, to send CSTA requests to: a local phone's
    uaCSTA session, or its owner node in a cluster.  A failure to get an
    answer raises SessionError."""

    @property
    def mac(self) -> str: ...
    @property
    def profile(self) -> VendorProfile: ...
    async def request(self, msg: m.CstaMessage) -> CstaAnswer: ...


class PhoneGateway(Protocol):
    """What the switching function needs of the phones: their lines, their
    uaCSTA sessions, and a note on a line whose identities conflict.  The
    phones' side (``phones.sessions.SessionManager``) provides it, or in a
    cluster the node (``cluster.node.ClusterNode``) in front of it; the
    composition root hands it over and registers the switching function as
    the phones' observer."""

    def line(self, mac: str) -> LineView | None: ...

    def session(self, mac: str) -> ControlledPhone | None: ...

    def controllable(self, mac: str) -> bool: ...

    def describe(self, mac: str) -> str: ...

    def set_conflict(self, mac: str, text: str) -> None: ...


class Bus(SessionHome, Protocol):
    """What the switching function tells a cluster node (``cluster.node``)
    beyond the phones: each relayed event, to go on its device's stream, and
    the client sessions of the JSON faces, so that they can resume on
    another node (:mod:`.handover`)."""

    def relayed(self, device: Device, event: m.CstaMessage) -> Origin | None: ...

    def client_attached(self, client: ClientSession) -> None: ...

    def monitors_changed(self, client: ClientSession) -> None: ...

    def client_ended(self, client: ClientSession) -> None: ...


@dataclass(frozen=True, slots=True)
class DeviceState:
    """A device as a client's device list shows it."""

    device: Device
    vendor: str
    online: bool
    monitored: bool


@dataclass(eq=False)
class SystemRegistration:
    """A client's SystemRegister: it hears of device changes and aborts."""

    sys_stat_register_id: str
    client: ClientSession
    request_types: m.RequestTypes | None

    def wants_device_changes(self) -> bool:
        types = self.request_types
        return types is None or types.switchingFunctionDevicesChanged is not False


class SwitchingFunction:
    """The phones' side comes in through the :class:`PhoneObserver` methods
    (``phone_changed``, ``phone_removed``, ``phone_event``,
    ``monitor_stopped``), wired in the composition root; requests go to the
    phones through the session manager's :meth:`SessionManager.session`."""

    def __init__(
        self,
        phones: PhoneGateway,
        *,
        resume_window: Callable[[], float] = lambda: 60.0,
        system_status: Callable[[], SystemStatus] = lambda: SystemStatus.NORMAL,
        takeover_after: Callable[[], float] = lambda: 300.0,
        request_timeout: Callable[[], float] = lambda: 5.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.phones = phones
        self.devices = DeviceDirectory()
        self.monitors = MonitorTable()
        self.clients: dict[str, ClientSession] = {}
        self.resume_window = resume_window
        self.system_status = system_status
        self.takeover_after = takeover_after
        self.request_timeout = request_timeout
        self.clock = clock
        self._tasks: set[asyncio.Task[None]] = set()
        self._sys_reg = 0
        # since the start: requests from the clients (events: the journal's count)
        self.requests_received = 0
        self.journal = Journal(clock)
        self.registrations: dict[str, SystemRegistration] = {}
        self._away: dict[str, float] = {}  # phone -> when its dialog went down
        # Identities a phone reported that another phone owns: device key -> (mac, id).
        self.conflicts: dict[str, tuple[str, DeviceID]] = {}
        self._settling: dict[MonitorPoint, asyncio.Future[None]] = {}
        self.calls = CallReferences(self.devices.find, self._tracker_of)
        self.bus: Bus | None = None  # in a cluster: its node

    # -- clients ----------------------------------------------------------------------------

    def attach(
        self,
        login: str,
        face: FaceKind,
        rights: DeviceRights,
        *,
        peer: str = "",
        max_queue: int = 10_000,
        encode: Callable[[m.CstaMessage], str | bytes] | None = None,
        session_id: str = "",
    ) -> ClientSession:
        """A client logs in; ``session_id``: the session it had on another
        node of a cluster, taken over (:mod:`.handover`)."""
        client = ClientSession(login, face, rights, max_queue=max_queue, peer=peer)
        if session_id:
            client.id = session_id
        if encode is not None:
            client.encode = encode
        self.clients[client.id] = client
        if self.bus is not None:
            self.bus.client_attached(client)
        log.info(
            "client %s logged in from %s (%s)", client.tag, peer, face.value, extra=_tagged(client)
        )
        return client

    async def resume_anywhere(
        self,
        login: str,
        session_id: str,
        after_seq: int,
        rights: DeviceRights,
        attach: Callable[[str], ClientSession],
    ) -> ClientSession:
        """Resume a session kept here, or in a cluster one of another node
        (``attach`` makes the face's session of the given id)."""
        if self.bus is None or session_id in self.clients:
            client = self.resume(login, session_id, after_seq)
            client.rights = rights
            return client
        client = await resume_elsewhere(
            self, self.bus, login, session_id, after_seq, rights, attach
        )
        log.info(
            "client %s resumed after event %d, taken over from another node",
            client.tag,
            after_seq,
            extra=_tagged(client),
        )
        return client

    def resume(self, login: str, session_id: str, after_seq: int) -> ClientSession:
        client = self.clients.get(session_id)
        if client is None or client.login != login or client.closed_because is not None:
            raise ResumeError("no such session to resume (expired, closed or never existed)")
        if client.attached:
            raise ResumeError("the session is still connected elsewhere")
        client.rewind(after_seq)
        client.attached, client.detached_at = True, None
        log.info("client %s resumed after event %d", client.tag, after_seq, extra=_tagged(client))
        return client

    def detach(self, client: ClientSession, reason: str, *, keep: bool) -> None:
        """The client's connection is gone.  With ``keep`` (a face that can
        resume) its monitors stay for the resume window; otherwise it ends."""
        if keep and client.closed_because is None and self.resume_window() > 0:
            client.attached, client.detached_at = False, self.clock()
            log.info(
                "client %s disconnected (%s); kept %g s for resume",
                client.tag,
                reason,
                self.resume_window(),
                extra=_tagged(client),
            )
            return
        self.logout(client, reason)

    def logout(self, client: ClientSession, reason: str) -> None:
        client.close(reason)
        if self.clients.get(client.id) is client:
            del self.clients[client.id]
        for sub in self.monitors.of_client(client):
            self._unsubscribe(sub)
        if self.bus is not None:
            self.bus.client_ended(client)
        for reg_id, reg in list(self.registrations.items()):
            if reg.client is client:
                del self.registrations[reg_id]

    def expire(self, now: float) -> None:
        """Drop detached sessions whose window has passed, and sessions closed
        for being too slow (their monitors go with them); let a phone take
        over an identity whose owner has been away longer than its
        registration."""
        window = self.resume_window()
        for client in list(self.clients.values()):
            if client.closed_because is not None:
                self.logout(client, client.closed_because)
            elif client.detached_at is not None and now - client.detached_at >= window:
                self.logout(client, "not resumed within the resume window")
        for key, (mac, _ident) in list(self.conflicts.items()):
            device = self.devices.find(key)
            if device is None or device.mac == mac or self._may_take(device.mac, now):
                del self.conflicts[key]
                line = self.phones.line(mac)
                if line is not None and line.phase is Phase.UP:
                    self.phone_changed(line)

    # -- what the faces read ------------------------------------------------------------

    def find_device(self, spelling: str, client: ClientSession) -> Device | None:
        """The device a client names (in any spelling), if its login may use it."""
        device = self.devices.find(spelling)
        return device if device is not None and client.rights.allows(device) else None

    def device_states(self, client: ClientSession) -> list[DeviceState]:
        """Every device the client's login may use."""
        return [self.device_state(d) for d in self.devices.all() if client.rights.allows(d)]

    def device_state(self, device: Device) -> DeviceState:
        session = self.phones.session(device.mac)
        point = self.monitors.points.get(device.key)
        return DeviceState(
            device,
            session.profile.name if session is not None else "",
            self.phones.controllable(device.mac),
            point is not None and point.state is PointState.ACTIVE,
        )

    # -- the phones (PhoneObserver) ------------------------------------------------------

    def phone_changed(self, line: LineView) -> None:
        mac = line.mac
        if line.phase is Phase.UP:
            self._away.pop(mac, None)
            self._take_identities(line)
            for device in self.devices.of_phone(mac):
                point = self.monitors.points.get(device.key)
                if point is not None:
                    point.device = device
                    if point.state not in (PointState.ACTIVE, PointState.STARTING):
                        self._start(point)
            return
        self._away.setdefault(mac, self.clock())
        self.monitors.orphans.pop(mac, None)
        for point in self.monitors.of_phone(mac):
            self._out_of_service(point, f"phone {mac}: {line.reason}")

    def _take_identities(self, line: LineView) -> None:
        """The identities the phone reported now, each device to one owner: the
        phone that reported it first keeps it while its dialog is up (or it has
        been away for less than its registration); a second phone reporting it
        is a conflict, logged and shown, and does not get the device."""
        mac, now = line.mac, self.clock()
        mine: list[DeviceID] = []
        for ident in line.identities:
            owner = self.devices.find(ident.value)
            if owner is None or owner.mac == mac or owner.key != ident.key:
                mine.append(ident)
            elif self._may_take(owner.mac, now):
                log.warning(
                    "device %s taken over by phone %s from phone %s (away for longer than "
                    "its registration)",
                    ident.key,
                    mac,
                    owner.mac,
                    extra={"tag": mac},
                )
                mine.append(ident)
                self.phones.set_conflict(owner.mac, "")
            else:
                if self.conflicts.get(ident.key, ("", None))[0] != mac:
                    log.warning(
                        "identity conflict: phone %s reports %s, which belongs to phone %s; "
                        "it stays with %s",
                        mac,
                        ident.key,
                        owner.mac,
                        owner.mac,
                        extra={"tag": mac},
                    )
                self.conflicts[ident.key] = (mac, ident)
                self.phones.set_conflict(mac, f"{ident.key} belongs to phone {owner.mac}")
                self.phones.set_conflict(owner.mac, f"{ident.key} also reported by {mac}")
        if not any(m_ == mac for m_, _ in self.conflicts.values()):
            self.phones.set_conflict(mac, "")
        # The device list changes when a key appears or goes, not when one moves
        # between phones; checked on this phone's keys alone (a pass over every
        # device for every phone was quadratic: 20 s of a mass reboot at 10,000).
        old = {d.key for d in self.devices.of_phone(mac)}
        new = {ident.key for ident in mine}
        appears = any(not self.devices.has(key) for key in new - old)
        gone = self.devices.set_identities(mac, mine)
        for device in gone:
            point = self.monitors.points.get(device.key)
            if point is not None:
                self._out_of_service(point, "the phone no longer has this identity")
        if appears or any(not self.devices.has(key) for key in old - new):
            self._devices_changed()

    def _may_take(self, owner: str, now: float) -> bool:
        """May another phone take the owner's identities?"""
        away = self._away.get(owner)
        if away is None:
            line = self.phones.line(owner)
            return line is None  # an owner the manager no longer knows
        return now - away >= self.takeover_after()

    def phone_removed(self, mac: str) -> None:
        """Removed from the telephone list: its devices disappear, their
        watchers get OutOfService (their monitors come back if the phone does)."""
        self._away.pop(mac, None)
        for point in self.monitors.of_phone(mac):
            self._out_of_service(point, f"phone {mac} removed from the telephone list")
        if self.devices.remove_phone(mac):
            self._devices_changed()
        for key, (claimant, _ident) in list(self.conflicts.items()):
            if claimant == mac:
                del self.conflicts[key]

    def monitor_stopped(self, mac: str, monitor_xref: str) -> None:
        """The phone ended a monitor.  As ECMA-269 has it (Monitor Stop may be
        invoked by the switching function), every client watching the device
        gets a MonitorStop with its own monitorCrossRefID, and its monitor is
        gone; it may start it again."""
        point = self.monitors.by_phone_xref(mac, monitor_xref)
        if point is None:
            return
        self.monitors.deactivate(point, PointState.IDLE)
        for sub in list(point.subscribers.values()):
            log.info(
                "monitor %s of client %s on %s ended by the phone",
                sub.xref,
                sub.client.tag,
                point.device.key,
                extra={"tag": mac},
            )
            sub.client.push(m.MonitorStop(monitorCrossRefID=sub.xref))
            self.monitors.unsubscribe(sub)

    def _devices_changed(self) -> None:
        """SwFunctionDevicesChanged to every client that asked for it."""
        for reg in self.registrations.values():
            if reg.wants_device_changes():
                reg.client.push(
                    m.SwFunctionDevicesChanged(sysStatRegisterID=reg.sys_stat_register_id)
                )

    def abort_registrations(self, reason: str) -> None:
        """The server can no longer tell registered clients of changes (its
        phone service stops): SystemRegisterAbort to each."""
        for reg_id, reg in list(self.registrations.items()):
            log.info(
                "system registration %s of client %s aborted: %s",
                reg_id,
                reg.client.tag,
                reason,
                extra=_tagged(reg.client),
            )
            reg.client.push(m.SystemRegisterAbort(sysStatRegisterID=reg_id))
            del self.registrations[reg_id]

    def _session(self, device: Device) -> ControlledPhone | None:
        return self.phones.session(device.mac)

    def _start(self, point: MonitorPoint) -> None:
        session = self._session(point.device)
        if session is None:
            return
        point.state, point.mac = PointState.STARTING, session.mac
        self._spawn(self._start_in_phone(point, session))

    async def _start_in_phone(self, point: MonitorPoint, session: ControlledPhone) -> None:
        start = m.MonitorStart(monitorObject=m.MonitorObject(deviceObject=point.device.id))
        try:
            answer = await session.request(start)
        except SessionError as exc:
            answer = CSTAErrorCode.resource("deviceOutOfService")
            point.problem = str(exc)
        self._settled(point)
        if point.state is not PointState.STARTING:
            return  # the phone went away meanwhile
        if not isinstance(answer, m.MonitorStartResponse):
            point.problem = point.problem or f"the phone refused MonitorStart: {answer}"
            log.warning(
                "monitor on %s: %s", point.device.key, point.problem, extra={"tag": session.mac}
            )
            self.monitors.deactivate(point, PointState.OUT_OF_SERVICE)
            return
        if not point.subscribers:
            self._spawn(self._stop_in_phone(session, answer.monitorCrossRefID))
            self.monitors.deactivate(point, PointState.IDLE)
            return
        self.monitors.activate(point, session.mac, answer.monitorCrossRefID)
        log.info(
            "monitor on %s started in phone %s (%s)",
            point.device.key,
            session.mac,
            answer.monitorCrossRefID,
            extra={"tag": session.mac},
        )
        for sub in list(point.subscribers.values()):
            sub.client.push(self.back_in_service(sub))
        for event in self.monitors.take_orphans(session.mac, answer.monitorCrossRefID):
            self._relay(point, event)

    async def _stop_in_phone(self, session: ControlledPhone, phone_xref: str) -> None:
        answer = await self._ask(session, m.MonitorStop(monitorCrossRefID=phone_xref))
        if not isinstance(answer, m.MonitorStopResponse):
            log.info(
                "MonitorStop %s at %s: %s",
                phone_xref,
                session.mac,
                answer,
                extra={"tag": session.mac},
            )

    def _out_of_service(self, point: MonitorPoint, why: str) -> None:
        was = point.state
        self.monitors.deactivate(point, PointState.OUT_OF_SERVICE)
        point.problem = why
        if was is PointState.ACTIVE:
            for sub in list(point.subscribers.values()):
                sub.client.push(
                    m.OutOfServiceEvent(
                        monitorCrossRefID=sub.xref,
                        device=EventDevice.of(point.device.id.value),
                        cause=EventCause.NORMAL,
                    )
                )

    def back_in_service(self, sub: Subscription) -> m.CstaMessage:
        return m.BackInServiceEvent(
            monitorCrossRefID=sub.xref,
            device=EventDevice.of(sub.point.device.id.value),
            cause=EventCause.NORMAL,
        )

    @property
    def events_received(self) -> int:
        """Events from the phones since the start, of every type."""
        return self.journal.events.total()

    def phone_event(self, mac: str, event: m.CstaMessage, origin: Origin | None = None) -> None:
        """An event of a phone; ``origin``: its place in the device's stream,
        when another node of a cluster relays it."""
        self.journal.events[type(event).__name__] += 1
        xref = getattr(event, "monitorCrossRefID", None)
        if not isinstance(xref, str):
            return
        point = self.monitors.by_phone_xref(mac, xref)
        if point is None:
            self.monitors.keep_orphan(mac, event)
            return
        self._relay(point, event, origin)

    def _settled(self, point: MonitorPoint) -> None:
        waiter = self._settling.pop(point, None)
        if waiter is not None and not waiter.done():
            waiter.set_result(None)

    async def until_started(self, device: Device) -> None:
        """A request right after MonitorStart waits (a request timeout at the
        most) for the phone to confirm the monitor, so that its events are
        not lost to a monitor that is not running yet."""
        point = self.monitors.points.get(device.key)
        if point is None or point.state is not PointState.STARTING:
            return
        waiter = self._settling.get(point)
        if waiter is None:
            waiter = self._settling[point] = asyncio.get_running_loop().create_future()
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(asyncio.shield(waiter), self.request_timeout())

    def _relay(
        self, point: MonitorPoint, event: m.CstaMessage, origin: Origin | None = None
    ) -> None:
        mac = point.mac or point.device.mac
        tracker = point.tracker
        if origin is None and self.bus is not None:
            origin = self.bus.relayed(point.device, event)
        before = set(tracker.calls)
        anomaly = tracker.apply(event)
        conn = subject_connection(event)
        rid = self.journal.correlation(conn)
        token = request_id.set(rid) if rid else None
        device = point.device
        try:
            if anomaly is not None:
                log.info("call state at %s: %s", device.key, anomaly.reason, extra={"tag": mac})
            call = ""
            if before or tracker.calls:
                self.journal.event(mac, device.id.value, tracker, before, event)
                call = self.calls.follow(device, tracker, before, event)
            traced = mac in TRACER.watched
            for sub in list(point.subscribers.values()):
                copy = dataclasses.replace(event, monitorCrossRefID=sub.xref)  # type: ignore[call-arg]
                if not sub.client.push(copy, call=call, device=device.key, origin=origin):
                    self.journal.dropped[sub.client.face.value] += 1
                if traced:
                    self._trace(mac, "server", f"client {sub.client.tag}", copy)
            if before:
                self.calls.ended(device, before - tracker.calls.keys())
        finally:
            if token is not None:
                request_id.reset(token)

    def _tracker_of(self, device: Device) -> CallTracker | None:
        point = self.monitors.points.get(device.key)
        return point.tracker if point is not None and point.state is PointState.ACTIVE else None

    def response_call(self, msg: m.CstaMessage, answer: Answer) -> str:
        """The call reference of the connection a response names (MakeCall's
        callingDevice, ConsultationCall's initiatedCall), '' when none."""
        if isinstance(answer, CSTAErrorCode):
            return ""
        conn = next(
            (
                v
                for f in dataclasses.fields(answer)
                if isinstance(v := getattr(answer, f.name), ConnectionID) and v.callID
            ),
            None,
        )
        found = subject(msg)
        spelling = conn.deviceID if conn is not None and conn.deviceID else None
        if spelling is None and found is not None:
            spelling = found[1]
        device = self.devices.find(spelling.value) if spelling is not None else None
        if conn is None or conn.callID is None or device is None:
            return ""
        return self.calls.claim(device, conn.callID)

    @staticmethod
    def _trace(mac: str, source: str, target: str, msg: m.CstaMessage | CSTAErrorCode) -> None:
        name = "CSTAErrorCode" if isinstance(msg, CSTAErrorCode) else msg.root()
        TRACER.record(mac, source, target, "csta", name, json.dumps(to_json(msg)))

    def _spawn(self, work: Coroutine[Any, Any, None]) -> None:
        # asyncio keeps only weak references to tasks: hold each until done
        task = asyncio.get_running_loop().create_task(work)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # -- requests ---------------------------------------------------------------------------

    async def request(self, client: ClientSession, msg: m.CstaMessage) -> Answer:
        """The answer to one client request: the phone's, the server's own, or
        a CSTAErrorCode.  Never raises for what a client or a phone does.
        The request gets its correlation ID (:mod:`.journal`) for the rest of
        the caller's task."""
        self.requests_received += 1
        began = self.clock()
        self.journal.request_started()
        answer = await self._answer(client, msg)
        self.journal.request_done(msg, answer, began)
        return answer

    async def _answer(self, client: ClientSession, msg: m.CstaMessage) -> Answer:
        if msg.KIND is not m.Kind.REQUEST:
            return CSTAErrorCode.operation("invalidParameterValue")
        if isinstance(msg, SERVER_SERVICES):
            return self._server_service(client, msg)
        found = subject(msg)
        if found is None:
            return CSTAErrorCode.operation("serviceNotSupported")
        name, device_id = found
        if device_id is None:
            return CSTAErrorCode.operation("invalidDeviceID")
        device = self.devices.find(device_id.value)
        if device is None or not client.rights.allows(device):
            # A device the client may not use is as unknown as one that does
            # not exist: the answer tells nothing about other clients' devices.
            return CSTAErrorCode.operation("invalidDeviceID")
        if not self._may_name(client, msg):
            return CSTAErrorCode.operation("invalidDeviceID")
        if device.mac not in TRACER.watched:
            return await self._at_device(client, msg, name, device)
        self._trace(device.mac, f"client {client.tag}", "server", msg)
        answer = await self._at_device(client, msg, name, device)
        self._trace(device.mac, "server", f"client {client.tag}", answer)
        return answer

    async def _at_device(
        self, client: ClientSession, msg: m.CstaMessage, name: str, device: Device
    ) -> Answer:
        await self.until_started(device)
        session = self._session(device)
        if session is None:
            return CSTAErrorCode.resource("deviceOutOfService")
        msg = respell(msg, name, device.id, lambda d: self.devices.find(d.value) is device)
        msg = self.calls.localise(msg, device)
        how = route(msg, session.profile)
        if how is Route.REFUSE:
            log.info(
                "%s refused: %s phones lack it",
                msg.root(),
                session.profile.label,
                extra=_tagged(client),
            )
            return CSTAErrorCode.operation("serviceNotSupported")
        # The device's events wait for the response (released by the face).
        client.hold(device.key)
        if how is Route.EMULATE:
            return await self._emulate(session, device, msg)
        return await self._ask(session, msg)

    def _may_name(self, client: ClientSession, msg: m.CstaMessage) -> bool:
        """Every call the request names (a TransferCall's activeCall, a
        conference's held call...) must be at a device the login may use, when
        it is one of ours."""
        for value in device_ids(msg):
            named = self.devices.find(value.value)
            if named is not None and not client.rights.allows(named):
                return False
        return True

    async def _ask(self, session: ControlledPhone, msg: m.CstaMessage) -> Answer:
        try:
            answer = await session.request(msg)
        except SessionError as exc:
            log.info(
                "%s to %s failed: %s", msg.root(), session.mac, exc, extra={"tag": session.mac}
            )
            return CSTAErrorCode.resource("deviceOutOfService")
        if isinstance(answer, DecodeError):
            log.warning(
                "unreadable answer from %s to %s: %s",
                session.mac,
                msg.root(),
                answer,
                extra={"tag": session.mac},
            )
            return CSTAErrorCode.of(ErrorCategory.UNSPECIFIED)
        return answer

    async def _emulate(
        self, session: ControlledPhone, device: Device, msg: m.CstaMessage
    ) -> Answer:
        if isinstance(msg, m.AlternateCall):
            held = await self._ask(session, m.HoldCall(callToBeHeld=msg.activeCall))
            if not isinstance(held, m.HoldCallResponse):
                return held
            back = await self._ask(session, m.RetrieveCall(callToBeRetrieved=msg.heldCall))
            if not isinstance(back, m.RetrieveCallResponse):
                return back
            return m.AlternateCallResponse()
        if isinstance(msg, m.SnapshotCall):
            return self._snapshot_call(device, msg.snapshotObject)
        return CSTAErrorCode.operation("serviceNotSupported")

    def _snapshot_call(self, device: Device, conn: ConnectionID) -> Answer:
        """SnapshotCall from the call state the monitors' events built up: every
        known connection of the call, each with the callID its own device uses
        (known where that device is monitored too)."""
        point = self.monitors.points.get(device.key)
        if point is None or point.state is not PointState.ACTIVE:
            # Without a monitor the server has not seen the call.
            return CSTAErrorCode.operation("serviceNotSupported")
        call = point.tracker.calls.get(conn.callID or "")
        if call is None:
            return CSTAErrorCode.operation("invalidCallID")
        on_call = call.device_id or device.id.value
        infos = [
            m.SnapshotCallResponseInfo(
                deviceOnCall=EventDevice.of(on_call),
                callIdentifier=ConnectionID(call.call_id, DeviceID(on_call)),
                localConnectionState=call.state,
            )
        ]
        for spelling in call.parties.values():
            if self._is(spelling, device):
                continue  # the monitored device itself, in another spelling
            theirs = self._party_call(spelling, device)
            infos.append(
                m.SnapshotCallResponseInfo(
                    deviceOnCall=EventDevice.of(spelling),
                    callIdentifier=ConnectionID(
                        theirs.call_id if theirs else None, DeviceID(spelling)
                    ),
                    localConnectionState=theirs.state if theirs else None,
                )
            )
        return m.SnapshotCallResponse(
            crossRefIDorSnapshotData=m.SnapshotCallData(snapshotData=infos)
        )

    def _is(self, spelling: str, device: Device) -> bool:
        return self.devices.find(spelling) is device or DeviceID(spelling).key == device.key

    def _party_call(self, spelling: str, other: Device) -> TrackedCall | None:
        """The call the party's own monitor knows with ``other`` in it."""
        device = self.devices.find(spelling)
        point = self.monitors.points.get(device.key) if device is not None else None
        if point is None or point.state is not PointState.ACTIVE:
            return None
        return next(
            (
                c
                for c in point.tracker.calls.values()
                if any(self._is(p, other) for p in c.parties.values())
            ),
            None,
        )

    def _server_service(self, client: ClientSession, msg: m.CstaMessage) -> Answer:
        if isinstance(msg, m.MonitorStart):
            return self._monitor_start(client, msg)
        if isinstance(msg, m.MonitorStop):
            sub = self.monitors.subscription(client, msg.monitorCrossRefID)
            if sub is None:
                return CSTAErrorCode.operation("invalidMonitorCrossReferenceID")
            self._unsubscribe(sub)
            if self.bus is not None:
                self.bus.monitors_changed(client)
            return m.MonitorStopResponse()
        if isinstance(msg, m.RequestSystemStatus):
            return m.RequestSystemStatusResponse(systemStatus=self.system_status())
        if isinstance(msg, m.SystemRegister):
            self._sys_reg += 1
            reg_id = str(self._sys_reg)
            self.registrations[reg_id] = SystemRegistration(reg_id, client, msg.requestTypes)
            return m.SystemRegisterResponse(sysStatRegisterID=reg_id)
        if isinstance(msg, m.SystemRegisterCancel):
            reg = self.registrations.get(msg.sysStatRegisterID)
            if reg is None or reg.client is not client:
                return CSTAErrorCode.operation("invalidCrossReferenceID")
            del self.registrations[msg.sysStatRegisterID]
            return m.SystemRegisterCancelResponse()
        if isinstance(msg, m.GetSwitchingFunctionDevices):
            ref = f"{client.number:x}-{time.monotonic_ns():x}"
            devices = [
                m.SwitchingFunctionDevice(deviceID=d.id, deviceCategory=DeviceCategory.STATION)
                for d in self.devices.all()
                if client.rights.allows(d)
            ]
            # The list follows the response, as the phones do it.
            client.push(
                m.SwitchingFunctionDevices(
                    serviceCrossRefID=ref, segmentID=1, lastSegment=True, deviceList=devices
                ),
                after_response=True,
            )
            return m.GetSwitchingFunctionDevicesResponse(serviceCrossRefID=ref)
        if isinstance(msg, m.GetLogicalDeviceInformation | m.GetPhysicalDeviceInformation):
            device = self.devices.find(msg.device.value)
            if device is None or not client.rights.allows(device):
                return CSTAErrorCode.operation("invalidDeviceID")
            model = self.phones.describe(device.mac) or None
            if isinstance(msg, m.GetLogicalDeviceInformation):
                return m.GetLogicalDeviceInformationResponse(
                    deviceCategory=DeviceCategory.STATION, deviceModelName=model
                )
            return m.GetPhysicalDeviceInformationResponse(
                deviceCategory=DeviceCategory.STATION, deviceModelName=model
            )
        return CSTAErrorCode.operation("serviceNotSupported")

    def _monitor_start(self, client: ClientSession, msg: m.MonitorStart) -> Answer:
        target = msg.monitorObject.deviceObject
        if target is None:
            # Call-type monitors (monitorObject callObject) are not offered by phones.
            return CSTAErrorCode.operation("invalidMonitorObject")
        device = self.devices.find(target.value)
        if device is None or not client.rights.allows(device):
            return CSTAErrorCode.operation("invalidDeviceID")
        sub = self.subscribe(client, device)
        if sub.point.state is PointState.ACTIVE:
            client.push(self.back_in_service(sub), after_response=True)
        return m.MonitorStartResponse(monitorCrossRefID=sub.xref)

    def subscribe(self, client: ClientSession, device: Device, xref: str = "") -> Subscription:
        """The client watches the device (the monitor in the phone started if
        need be); ``xref``: the one it had on another node (:mod:`.handover`)."""
        sub = self.monitors.subscribe(client, device, xref)
        point = sub.point
        log.info(
            "client %s monitors %s (%s)", client.tag, device.key, sub.xref, extra=_tagged(client)
        )
        if point.state in (PointState.IDLE, PointState.OUT_OF_SERVICE):
            self._start(point)
        if self.bus is not None:
            self.bus.monitors_changed(client)
        return sub

    def _unsubscribe(self, sub: Subscription) -> None:
        point = self.monitors.unsubscribe(sub)
        if point is None:
            return
        if point.state is PointState.ACTIVE and point.phone_xref is not None:
            session = self._session(point.device)
            phone_xref = point.phone_xref
            self.monitors.deactivate(point, PointState.IDLE)
            if session is not None:
                log.info(
                    "last watcher of %s left; monitor stopped in phone",
                    point.device.key,
                    extra={"tag": session.mac},
                )
                self._spawn(self._stop_in_phone(session, phone_xref))

    # -- status -----------------------------------------------------------------------------

    def status(self) -> dict[str, int]:
        return {
            "clients": sum(1 for c in self.clients.values() if c.attached),
            "clients_detached": sum(1 for c in self.clients.values() if not c.attached),
            "devices": len(self.devices),
            "monitors": sum(
                1 for p in self.monitors.points.values() if p.state is PointState.ACTIVE
            ),
            "subscriptions": sum(len(p.subscribers) for p in self.monitors.points.values()),
        }

    async def close(self) -> None:
        self.abort_registrations("server stopping")
        for client in list(self.clients.values()):
            self.logout(client, "server stopping")
        for task in list(self._tasks):
            task.cancel()
