"""The admin web UI (the manual's administrator screens) and its REST API."""
