"""The log file takes uvicorn's errors too, and floods collapse."""

from __future__ import annotations

import json
import logging
from pathlib import Path

from uacsta.logs import LogManager, OncePer
from uacsta.settings import Diagnostics


def test_http_face_errors_reach_the_json_log(tmp_path: Path) -> None:
    logs = LogManager(tmp_path, "CRITICAL")
    logs.apply(Diagnostics())
    try:
        try:
            raise RuntimeError("boom in a handler")
        except RuntimeError:
            logging.getLogger("uvicorn.error").exception("Exception in ASGI application")
    finally:
        logs.stop()
    lines = [json.loads(x) for x in (tmp_path / "uacsta.log").read_text().splitlines()]
    (line,) = [x for x in lines if x["logger"] == "uvicorn.error"]
    # the queue handler folds the traceback into the message
    assert line["level"] == "ERROR" and "boom in a handler" in line.get("exc", line["msg"])


def test_once_per_source_and_interval() -> None:
    say = OncePer(60.0)
    assert say("a", 0.0) == 0
    assert say("a", 1.0) is None and say("a", 2.0) is None
    assert say("b", 2.0) == 0  # another source speaks for itself
    assert say("a", 61.0) == 2  # the next line says how many were left out
