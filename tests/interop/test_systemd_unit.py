"""packaging/uacsta.service as systemd reads it: `systemd-analyze verify`
finds nothing to say (an unknown key or a bad value is only a warning
there, so any output fails this test), with its ExecStart pointed at this
environment's `uacsta`."""

from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.interop
UNIT = Path(__file__).resolve().parents[2] / "packaging" / "uacsta.service"


def test_the_unit_verifies_cleanly(tmp_path: Path) -> None:
    analyze = shutil.which("systemd-analyze")
    assert analyze, (
        "systemd-analyze is not installed: .ci/run installs it (apt-get install systemd)"
    )
    here = Path(sys.executable).parent / "uacsta"
    assert here.exists()
    text = UNIT.read_text()
    assert "ExecStart=/opt/uacsta/bin/uacsta " in text
    unit = tmp_path / "uacsta.service"
    unit.write_text(text.replace("/opt/uacsta/bin/uacsta", str(here)))
    done = subprocess.run(
        [analyze, "verify", str(unit)], capture_output=True, text=True, timeout=60, check=False
    )
    assert done.returncode == 0 and not (done.stdout + done.stderr).strip(), (
        done.stdout + done.stderr
    )
    for wanted in ("Type=notify", "WatchdogSec=", "NoNewPrivileges=yes", "ProtectSystem=strict"):
        assert wanted in text
