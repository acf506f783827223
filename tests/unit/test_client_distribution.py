"""The client users install stands alone: its modules import the standard
library, websockets, httpx and themselves, nothing of the server."""

from __future__ import annotations

import ast
import sys
import tomllib
from pathlib import Path

CLIENT = Path(__file__).parents[2] / "clients" / "python"
ALLOWED = {"websockets", "httpx", "uacsta_client"}


def test_the_client_imports_nothing_of_the_server() -> None:
    files = [*(CLIENT / "src" / "uacsta_client").glob("*.py"), *(CLIENT / "examples").glob("*.py")]
    assert len(files) >= 8
    for path in files:
        for node in ast.walk(ast.parse(path.read_text(), str(path))):
            if isinstance(node, ast.Import):
                names = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
            else:
                continue
            for name in names:
                top = name.partition(".")[0]
                assert top in sys.stdlib_module_names or top in ALLOWED, f"{path.name}: {name}"


def test_its_distribution_declares_only_those() -> None:
    project = tomllib.loads((CLIENT / "pyproject.toml").read_text())["project"]
    assert project["name"] == "uacsta-client"
    assert {d.split(">")[0] for d in project["dependencies"]} == {"websockets", "httpx"}
    assert (CLIENT / "src" / "uacsta_client" / "py.typed").exists()
