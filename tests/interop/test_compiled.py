"""The optional compiled build (packaging/compile.py, mypyc): it builds, the
modules it lists are the compiled ones when run from it, and the cores' unit
tests and the hostile-input tests pass against it as they do against the pure
Python package (which every other test runs)."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
sys.path.insert(0, str(ROOT / "packaging"))

from compile import COMPILED, build  # type: ignore[import-not-found]  # noqa: E402


@pytest.mark.timeout(900)
def test_the_compiled_cores_pass_the_cores_tests(tmp_path: Path) -> None:
    made = build(tmp_path)
    assert len(made) == len(COMPILED)
    env = {**os.environ, "PYTHONPATH": str(tmp_path)}
    modules = [f"uacsta.{name.removesuffix('.py').replace('/', '.')}" for name in COMPILED]
    where = subprocess.run(
        [
            sys.executable,
            "-c",
            f"import importlib; print('\\n'.join(importlib.import_module(m).__file__ "
            f"for m in {modules!r}))",
        ],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.split()
    assert len(where) == len(COMPILED)
    for path in where:
        assert path.startswith(str(tmp_path)) and path.endswith(".so"), path
    tests = subprocess.run(
        [
            sys.executable,
            "-m",
            "pytest",
            "-q",
            "-p",
            "no:cacheprovider",
            "tests/unit/sip",
            "tests/unit/dialog",
            "tests/unit/test_registrar.py",
            "tests/hostile/test_input.py",
        ],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert tests.returncode == 0, tests.stdout[-3000:]
    assert " passed" in tests.stdout and "failed" not in tests.stdout, tests.stdout[-500:]
