"""A cluster of nodes on NATS (issue 18): docs/scaling.md."""
