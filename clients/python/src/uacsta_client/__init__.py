"""uacsta-client: the Python client of the uacsta CSTA server.

- :class:`Client` (asyncio) and :class:`SyncClient` (blocking): JSON over
  WebSocket, every CSTA service and event, resuming by itself after a dropped
  connection without losing or repeating an event.
- :class:`Rest`: the REST face and its Server-Sent Events.

Events are :class:`Event` objects: ``kind``, ``device``, ``call`` (the
server's call reference, the same at every phone in the call), ``call_id``
(the phone's own), ``cause``, ``str(event)`` as one line, and the raw CSTA
(JSON, ECMA-323 names) in ``csta``.
"""

from .client import Client, SyncClient, connection
from .events import Call, CstaError, Event, LoginError, SessionLost
from .rest import Rest, RestError

__all__ = [
    "Call",
    "Client",
    "CstaError",
    "Event",
    "LoginError",
    "Rest",
    "RestError",
    "SessionLost",
    "SyncClient",
    "connection",
]
__version__ = "0.1.0"
