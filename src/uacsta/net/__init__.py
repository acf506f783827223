"""The asyncio shell: listeners, connections, TLS.  The only code that owns sockets."""
