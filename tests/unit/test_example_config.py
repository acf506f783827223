"""The example configuration names every bootstrap setting with its default,
and loads as it is and with every line uncommented."""

from __future__ import annotations

import re
import socket
from pathlib import Path

import pytest

from uacsta.config import Config, default_node_name, load_config

EXAMPLE = Path(__file__).resolve().parents[2] / "examples" / "uacsta.toml"
SETTING = re.compile(r"^# ([a-z_]+) = (.*)$", re.M)


def test_every_bootstrap_setting_is_in_the_example() -> None:
    named = {m.group(1) for m in SETTING.finditer(EXAMPLE.read_text())}
    assert named == set(Config.model_fields)


def test_the_example_loads_commented_and_uncommented(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in Config.model_fields:
        monkeypatch.delenv(f"UACSTA_{name.upper()}", raising=False)
    # load_config points UACSTA_CONFIG at the file: undone after the test
    monkeypatch.delenv("UACSTA_CONFIG", raising=False)
    monkeypatch.setenv("HOME", str(tmp_path))
    monkeypatch.delenv("XDG_DATA_HOME", raising=False)
    as_shipped = load_config(str(EXAMPLE))
    uncommented = tmp_path / "uacsta.toml"
    uncommented.write_text(SETTING.sub(r"\1 = \2", EXAMPLE.read_text()))
    given = load_config(str(uncommented))
    for name in Config.model_fields:
        if name == "host_name":  # the example shows one; the default is this host's
            assert as_shipped.host_name == socket.getfqdn()
            continue
        if name == "node_name":  # likewise: the default is this host's short name
            assert as_shipped.node_name == default_node_name()
            continue
        # the values shown are the defaults
        assert getattr(given, name) == getattr(as_shipped, name), name
