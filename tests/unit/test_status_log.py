"""The status page's log: the same warning for a thousand phones is one line
with a count, not a thousand lines."""

from __future__ import annotations

from uacsta.admin.service import _collapsed


def test_repeated_messages_are_one_line_with_a_count() -> None:
    records = [
        {
            "ts": f"2026-12-01T10:00:{i:02d}",
            "level": "WARNING",
            "msg": f"refusing connection from 10.0.{i}.7: limit",
        }
        for i in range(40)
    ]
    records.insert(
        5, {"ts": "2026-12-01T10:00:05", "level": "INFO", "msg": "phone 000413AABBCC up"}
    )
    out = _collapsed(records)
    assert [(r["level"], r["count"]) for r in out] == [("WARNING", 40), ("INFO", 1)]
    assert out[0]["msg"] == "refusing connection from 10.0.0.7: limit"  # the first one
    assert out[0]["last_ts"] == "2026-12-01T10:00:39"
    # other words are other lines
    assert len(_collapsed([{"level": "INFO", "msg": "a"}, {"level": "INFO", "msg": "b"}])) == 2
