"""The event catalogue in docs/ is what the model generates (it cannot drift)."""

from __future__ import annotations

from pathlib import Path

from uacsta.faces.asyncapi import catalogue

DOC = Path(__file__).resolve().parents[2] / "docs" / "csta-messages.md"


def test_the_catalogue_in_docs_is_the_generated_one() -> None:
    assert DOC.read_text() == catalogue(), (
        "docs/csta-messages.md is out of date: python -m uacsta.faces.asyncapi > "
        "docs/csta-messages.md"
    )
