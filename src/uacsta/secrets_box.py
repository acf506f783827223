"""Encryption at rest for the few secrets the server must be able to read back."""

from __future__ import annotations

import os
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken


class SecretBox:
    """Fernet with a key file kept beside (not inside) the database, so that a
    database dump alone does not reveal the phone password."""

    def __init__(self, key_file: Path) -> None:
        self.key_file = key_file
        if not key_file.exists():
            key_file.parent.mkdir(parents=True, exist_ok=True)
            fd = os.open(key_file, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(fd, "wb") as fh:
                fh.write(Fernet.generate_key())
        self._fernet = Fernet(key_file.read_bytes().strip())

    def encrypt(self, value: str) -> str:
        return self._fernet.encrypt(value.encode()).decode()

    def decrypt(self, token: str) -> str:
        try:
            return self._fernet.decrypt(token.encode()).decode()
        except InvalidToken:
            raise ValueError(
                f"a stored secret cannot be read with {self.key_file}: was the key file replaced?"
            ) from None

    def raw_secret(self, name: str) -> bytes:
        """A stable per-purpose secret derived from the key (e.g. for digest nonces)."""
        import hashlib
        import hmac

        return hmac.new(self.key_file.read_bytes().strip(), name.encode(), hashlib.sha256).digest()
