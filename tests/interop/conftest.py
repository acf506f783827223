from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.helpers.process import UacstaProcess

PASSWORD = "interop-Password-1"


@pytest.fixture
def uacsta(tmp_path: Path) -> Iterator[UacstaProcess]:
    """`uacsta serve` as a subprocess on free loopback ports, phone password PASSWORD."""
    proc = UacstaProcess(tmp_path / "data")
    proc.data_dir.mkdir()
    proc.configure(PASSWORD)
    proc.start()
    try:
        yield proc
    finally:
        proc.stop()
