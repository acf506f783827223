"""What a node knows of the other nodes' phones: the cluster directory's
entries (one per phone, written by the node that owns it) and the nodes'
heartbeats, without any I/O.

An entry counts only while its node is alive: a node that has not been heard
of for ``dead_after`` seconds loses its phones here at once, whatever its
entries still say, and they come back when a node (it, or another one the
phones registered with) writes them again.  Every change a node must pass on
to its switching function comes back from the mutators as a list of
:class:`RemoteLine`, in the order to apply them.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field

from ..csta.types import DeviceID
from ..phones.lifecycle import Phase

# A node's name is a token of NATS subjects and of the directory's keys.
NODE_NAME = re.compile(r"[A-Za-z0-9_-]{1,64}")
# MACs (and Gigaset handset IDs) as the telephone list holds them.
PHONE_KEY = re.compile(r"[A-Za-z0-9]{1,64}")
MAX_IDENTITIES = 64


class EntryError(ValueError):
    """A directory entry that is not one a node writes."""


@dataclass(frozen=True, slots=True)
class PhoneEntry:
    """One phone as its owning node publishes it in the directory."""

    mac: str
    node: str
    phase: Phase
    identities: tuple[str, ...] = ()
    vendor: str = "unknown"
    model: str = ""  # make, model and firmware, as the device information services say
    reason: str = ""
    # When the writing node started: an entry of an earlier run of a node of the
    # same name (a restarted worker) does not count (see ClusterView._current).
    epoch: float = 0.0

    def to_json(self) -> bytes:
        return json.dumps(
            {
                "node": self.node,
                "phase": self.phase.value,
                "identities": list(self.identities),
                "vendor": self.vendor,
                "model": self.model,
                "reason": self.reason,
                "epoch": self.epoch,
            },
            separators=(",", ":"),
        ).encode()

    @classmethod
    def from_json(cls, mac: str, data: bytes) -> PhoneEntry:
        """The entry under key ``mac``; EntryError for anything else (another
        program writing to the bucket, a node of another version)."""
        if not PHONE_KEY.fullmatch(mac):
            raise EntryError(f"bad phone key {mac!r}")
        try:
            raw = json.loads(data)
            node, phase = raw["node"], Phase(raw["phase"])
            identities = raw.get("identities", [])
            texts = (raw.get("vendor", "unknown"), raw.get("model", ""), raw.get("reason", ""))
            epoch = raw.get("epoch", 0.0)
            if not isinstance(epoch, int | float) or isinstance(epoch, bool):
                raise TypeError("bad epoch")
        except (ValueError, KeyError, TypeError) as exc:
            raise EntryError(f"unreadable entry for {mac}: {exc}") from None
        if not isinstance(node, str) or not NODE_NAME.fullmatch(node):
            raise EntryError(f"entry for {mac}: bad node name")
        if (
            not isinstance(identities, list)
            or len(identities) > MAX_IDENTITIES
            or not all(isinstance(i, str) and 0 < len(i) <= 256 for i in identities)
        ):
            raise EntryError(f"entry for {mac}: bad identities")
        if not all(isinstance(t, str) and len(t) <= 512 for t in texts):
            raise EntryError(f"entry for {mac}: bad text fields")
        return cls(mac, node, phase, tuple(identities), *texts, float(epoch))


@dataclass(frozen=True, slots=True)
class RemoteLine:
    """A phone of another node as the switching function sees a line."""

    mac: str
    node: str
    phase: Phase
    identities: list[DeviceID] = field(default_factory=list)
    reason: str = ""


@dataclass(slots=True)
class NodeState:
    name: str
    seen: float  # our clock, when its last heartbeat came
    info: dict[str, object] = field(default_factory=dict)
    alive: bool = True


class ClusterView:
    def __init__(self, me: str, dead_after: float) -> None:
        self.me = me
        self.dead_after = dead_after
        self.entries: dict[str, PhoneEntry] = {}
        self.nodes: dict[str, NodeState] = {}
        # What the switching function was last told of each remote phone.
        self._shown: dict[str, RemoteLine] = {}

    # -- reading ------------------------------------------------------------------------

    def line(self, mac: str) -> RemoteLine | None:
        """The phone as another live node owns it, else None."""
        return self._shown.get(mac)

    def entry(self, mac: str) -> PhoneEntry | None:
        line = self._shown.get(mac)
        return self.entries.get(mac) if line is not None else None

    def alive(self, node: str) -> bool:
        state = self.nodes.get(node)
        return state is not None and state.alive

    def phones_of(self, node: str) -> int:
        return sum(1 for line in self._shown.values() if line.node == node)

    # -- what the bus delivers --------------------------------------------------------------

    def put(self, entry: PhoneEntry) -> list[RemoteLine]:
        self.entries[entry.mac] = entry
        return self._update(entry.mac)

    def delete(self, mac: str) -> list[RemoteLine]:
        self.entries.pop(mac, None)
        return self._update(mac)

    def heartbeat(self, node: str, info: dict[str, object], now: float) -> list[RemoteLine]:
        """A node said it is alive; a node back from the dead gets its phones back."""
        if node == self.me:
            return []
        state = self.nodes.get(node)
        if state is None:
            # its entries may have come first (the two buckets are watched apart)
            self.nodes[node] = NodeState(node, now, info)
            return self._update_node(node)
        restarted = info.get("started") != state.info.get("started")
        state.seen, state.info = now, info
        if state.alive and not restarted:
            return []
        # back from the dead, or started again: what it wrote before may not hold
        state.alive = True
        return self._update_node(node)

    def node_left(self, node: str) -> list[RemoteLine]:
        """A node said goodbye (a clean stop) or its heartbeat key expired."""
        state = self.nodes.get(node)
        if state is None or not state.alive or node == self.me:
            return []
        state.alive = False
        return self._update_node(node)

    def expire(self, now: float) -> list[RemoteLine]:
        """Nodes not heard of for ``dead_after`` are dead: their phones offline."""
        out: list[RemoteLine] = []
        for state in self.nodes.values():
            if state.alive and now - state.seen >= self.dead_after:
                out.extend(self.node_left(state.name))
        return out

    def dead_nodes(self) -> list[str]:
        return [s.name for s in self.nodes.values() if not s.alive]

    def _current(self, entry: PhoneEntry) -> bool:
        """Written by its node in this run of it (a restarted node's entries
        from before count once it writes them again), and the node is alive."""
        state = self.nodes.get(entry.node)
        if state is None or not state.alive:
            return False
        started = state.info.get("started")
        return not isinstance(started, int | float) or entry.epoch == float(started)

    # -- one place the shown lines change ----------------------------------------------

    def _update_node(self, node: str) -> list[RemoteLine]:
        macs = [mac for mac, e in self.entries.items() if e.node == node]
        macs += [mac for mac, line in self._shown.items() if line.node == node]
        out: list[RemoteLine] = []
        for mac in dict.fromkeys(macs):
            out.extend(self._update(mac))
        return out

    def _update(self, mac: str) -> list[RemoteLine]:
        entry = self.entries.get(mac)
        new: RemoteLine | None = None
        if entry is not None and entry.node != self.me and self._current(entry):
            new = RemoteLine(
                mac,
                entry.node,
                entry.phase,
                [DeviceID(i) for i in entry.identities],
                entry.reason,
            )
        old = self._shown.get(mac)
        if new == old:
            return []
        out: list[RemoteLine] = []
        if old is not None and (new is None or new.node != old.node):
            # The phone left its node (or the node died): its monitors there are
            # gone, so clients hear OutOfService before anything else.
            why = f"node {old.node} is gone" if new is None else f"moved to node {new.node}"
            out.append(RemoteLine(mac, old.node, Phase.OFFLINE, old.identities, why))
        if new is None:
            del self._shown[mac]
        else:
            self._shown[mac] = new
            out.append(new)
        return out
