"""Diagnostics as an administrator uses them: SIP messages at debug level tagged
with the phone's MAC, the MAC filter, daily deletion."""

from __future__ import annotations

import json
from pathlib import Path

from tests.conftest import PHONE_PASSWORD, eventually
from tests.helpers.sipphone import SipPhone
from uacsta.server import UacstaServer
from uacsta.store import repo

A, B = "000413AAAAAA", "001565BBBBBB"


def records(server: UacstaServer) -> list[dict[str, str]]:
    path: Path = server.log_file
    return [json.loads(line) for line in path.read_text().splitlines() if line.strip()]


async def register(server: UacstaServer, mac: str) -> SipPhone:
    assert server.phones is not None
    phone = SipPhone(mac)
    await phone.connect(server.phones.port("lan", "TCP"))
    assert (await phone.register(PHONE_PASSWORD)).status == 200
    return phone


async def test_debug_logs_every_sip_message_tagged_and_mac_filter(server: UacstaServer) -> None:
    await repo.set_path(server.db, "diagnostics.log_level", "DEBUG")
    await eventually(
        lambda: (
            server.logs.file is not None and __import__("logging").getLogger("uacsta").level == 10
        )
    )
    a = await register(server, A)

    def sent_to_a() -> list[str]:
        return [
            r["msg"] for r in records(server) if r["tag"] == A and r["msg"].startswith("sent to")
        ]

    # The phone may read the 200 OK before the server's log line for it is written.
    await eventually(lambda: any("SIP/2.0 200 OK" in m for m in sent_to_a()))
    assert any("REGISTER sip:uacsta.test" in r["msg"] and r["tag"] == A for r in records(server))
    assert any("SIP/2.0 401 Unauthorized" in m for m in sent_to_a())
    # now only phone B
    await repo.set_path(server.db, "diagnostics.mac_filter", B.lower())
    # the server picks the change up at its next housekeeping round
    await eventually(lambda: server.logs.filter.macs == frozenset({B}))
    mark = len(records(server))
    b = await register(server, B)
    assert (await a.register(PHONE_PASSWORD)).status == 200
    # B once more after A: the log is written in order, so once B's second
    # answer is in it, anything logged of A's would be there too
    assert (await b.register(PHONE_PASSWORD)).status == 200

    def answers_to_b() -> int:
        later = records(server)[mark:]
        return sum(r["tag"] == B and "SIP/2.0 200 OK" in r["msg"] for r in later)

    await eventually(lambda: answers_to_b() >= 2)
    later = records(server)[mark:]
    assert not [r for r in later if r["tag"] == A], "phone A was logged despite the filter"
    assert any(r["tag"] == B for r in later)
    await a.close()
    await b.close()


async def test_delete_log_files(server: UacstaServer) -> None:
    folder = server.log_file.parent
    (folder / "uacsta.log.1").write_text("old\n")
    (folder / "uacsta.log.2").write_text("older\n")
    assert server.logs.delete_files() == 2
    assert sorted(p.name for p in folder.iterdir()) == ["uacsta.log"]
    assert server.log_file.stat().st_size == 0
