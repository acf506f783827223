"""The cluster directory's view, without NATS: entries count while their node
is heard of, a phone that moves is out of service at its old node before it
is up at the new one, and nothing a stranger writes to the bucket gets in."""

from __future__ import annotations

import pytest

from uacsta.cluster.view import ClusterView, EntryError, PhoneEntry
from uacsta.phones.lifecycle import Phase

MAC = "000413000201"


def entry(node: str, phase: Phase = Phase.UP, *ids: str) -> PhoneEntry:
    return PhoneEntry(MAC, node, phase, ids or ("sip:201@pbx",), "snom", "snom D785", "")


def test_an_entry_counts_only_while_its_node_is_heard_of() -> None:
    view = ClusterView("b", dead_after=5.0)
    assert view.put(entry("a")) == []  # node a never heard of: not shown
    shown = view.heartbeat("a", {}, now=0.0)
    assert [(line.node, line.phase) for line in shown] == [("a", Phase.UP)]
    assert view.line(MAC) is not None and view.line(MAC).identities[0].value == "sip:201@pbx"  # type: ignore[union-attr]
    assert view.expire(now=4.9) == []
    gone = view.expire(now=5.0)
    assert [(line.node, line.phase) for line in gone] == [("a", Phase.OFFLINE)]
    assert view.line(MAC) is None and not view.alive("a")
    # heard of again: the phone is back as its entry says
    back = view.heartbeat("a", {}, now=6.0)
    assert [(line.node, line.phase) for line in back] == [("a", Phase.UP)]


def test_a_phone_that_moves_leaves_its_old_node_first() -> None:
    view = ClusterView("c", dead_after=5.0)
    view.heartbeat("a", {}, 0.0)
    view.heartbeat("b", {}, 0.0)
    view.put(entry("a"))
    moved = view.put(entry("b"))
    assert [(line.node, line.phase) for line in moved] == [("a", Phase.OFFLINE), ("b", Phase.UP)]
    assert "moved to node b" in moved[0].reason
    # the same entry again changes nothing
    assert view.put(entry("b")) == []
    # a phase change at the same node is one line
    assert [line.phase for line in view.put(entry("b", Phase.RECOVERING))] == [Phase.RECOVERING]


def test_our_own_entries_are_not_shown_and_hide_what_was_elsewhere() -> None:
    view = ClusterView("b", dead_after=5.0)
    view.heartbeat("a", {}, 0.0)
    view.put(entry("a"))
    mine = view.put(entry("b"))  # the phone registered with us
    assert [(line.node, line.phase) for line in mine] == [("a", Phase.OFFLINE)]
    assert view.line(MAC) is None and view.phones_of("a") == 0
    assert view.heartbeat("b", {}, 1.0) == []  # our own heartbeat is not a node


def test_a_node_that_leaves_takes_its_phones_and_deleted_entries_go() -> None:
    view = ClusterView("b", dead_after=5.0)
    view.heartbeat("a", {}, 0.0)
    view.put(entry("a"))
    assert [line.phase for line in view.node_left("a")] == [Phase.OFFLINE]
    assert view.node_left("a") == []
    view.heartbeat("a", {}, 1.0)
    assert [line.phase for line in view.delete(MAC)] == [Phase.OFFLINE]
    assert view.line(MAC) is None


@pytest.mark.parametrize(
    ("key", "data"),
    [
        (MAC, b"not json"),
        (MAC, b"[]"),
        (MAC, b'{"node": "a"}'),
        (MAC, b'{"node": "a", "phase": "dancing"}'),
        (MAC, b'{"node": "a.b", "phase": "up"}'),  # would be a subject wildcard's token
        (MAC, b'{"node": "a", "phase": "up", "identities": "sip:1@x"}'),
        (MAC, b'{"node": "a", "phase": "up", "identities": [1]}'),
        (MAC, b'{"node": "a", "phase": "up", "identities": ["' + b"x" * 300 + b'"]}'),
        (MAC, b'{"node": "a", "phase": "up", "model": 5}'),
        ("00:04:13", b'{"node": "a", "phase": "up"}'),
    ],
)
def test_entries_no_node_writes_are_refused(key: str, data: bytes) -> None:
    with pytest.raises(EntryError):
        PhoneEntry.from_json(key, data)


def test_an_entry_survives_the_bucket() -> None:
    e = entry("a", Phase.UP, "sip:201@pbx", "sip:2010@pbx")
    assert PhoneEntry.from_json(MAC, e.to_json()) == e


def test_a_restarted_node_s_old_entries_do_not_count() -> None:
    """A worker killed and started again under the same name: what its earlier
    run wrote is not shown until the new run writes it again."""
    view = ClusterView("b", dead_after=5.0)
    view.heartbeat("a", {"started": 100.0}, 0.0)
    old = PhoneEntry(MAC, "a", Phase.UP, ("sip:201@pbx",), epoch=100.0)
    assert [line.phase for line in view.put(old)] == [Phase.UP]
    # node a starts again: the same name, a new start time
    gone = view.heartbeat("a", {"started": 200.0}, 1.0)
    assert [line.phase for line in gone] == [Phase.OFFLINE] and view.line(MAC) is None
    back = view.put(PhoneEntry(MAC, "a", Phase.UP, ("sip:201@pbx",), epoch=200.0))
    assert [line.phase for line in back] == [Phase.UP]
    # the same start time again is only a heartbeat
    assert view.heartbeat("a", {"started": 200.0}, 2.0) == []
