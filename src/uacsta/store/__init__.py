"""The embedded store: SQLite by default, PostgreSQL by URL, behind small repository functions."""

from .db import Database

__all__ = ["Database"]
