"""SIP transactions over reliable transports (RFC 3261 section 17, RFC 6026).

The states and their moves are a table, as in h11's ``_state.py``.  Over TCP and
TLS nothing is retransmitted, so the only timers left are the overall timeouts
(B and F for clients, H and L/M for INVITE) which become *deadlines*: plain
numbers the asyncio shell compares with its clock.
"""

from __future__ import annotations

import enum
import secrets
from dataclasses import dataclass, field

from .message import Request, Response

T1 = 0.5  # seconds (RFC 3261 17.1.1.1)
TIMEOUT = 64 * T1  # timers B, F, H, L, M


class Kind(enum.Enum):
    INVITE_CLIENT = "invite-client"
    NON_INVITE_CLIENT = "non-invite-client"
    INVITE_SERVER = "invite-server"
    NON_INVITE_SERVER = "non-invite-server"


class State(enum.Enum):
    CALLING = "calling"
    TRYING = "trying"
    PROCEEDING = "proceeding"
    ACCEPTED = "accepted"
    COMPLETED = "completed"
    CONFIRMED = "confirmed"
    TERMINATED = "terminated"


class Event(enum.Enum):
    PROVISIONAL = "1xx"  # sent (server) or received (client)
    SUCCESS = "2xx"
    FAILURE = "3xx-6xx"
    ACK = "ack"
    TIMEOUT = "timeout"
    TRANSPORT_ERROR = "transport-error"


K, S, E = Kind, State, Event
# (kind, state, event) -> next state.  A move missing here is ignored (a late
# response after completion, a second final response from a buggy peer...).
# Over reliable transports timers D, I, J and K are zero: COMPLETED and
# CONFIRMED pass straight to TERMINATED where the RFC would wait.
TRANSITIONS: dict[tuple[Kind, State, Event], State] = {
    (K.INVITE_CLIENT, S.CALLING, E.PROVISIONAL): S.PROCEEDING,
    (K.INVITE_CLIENT, S.CALLING, E.SUCCESS): S.ACCEPTED,
    (K.INVITE_CLIENT, S.CALLING, E.FAILURE): S.TERMINATED,  # ACK sent, timer D = 0
    (K.INVITE_CLIENT, S.CALLING, E.TIMEOUT): S.TERMINATED,  # timer B
    (K.INVITE_CLIENT, S.PROCEEDING, E.PROVISIONAL): S.PROCEEDING,
    (K.INVITE_CLIENT, S.PROCEEDING, E.SUCCESS): S.ACCEPTED,
    (K.INVITE_CLIENT, S.PROCEEDING, E.FAILURE): S.TERMINATED,
    (K.INVITE_CLIENT, S.PROCEEDING, E.TIMEOUT): S.TERMINATED,
    (K.INVITE_CLIENT, S.ACCEPTED, E.SUCCESS): S.ACCEPTED,  # 2xx from another fork
    (K.INVITE_CLIENT, S.ACCEPTED, E.TIMEOUT): S.TERMINATED,  # timer M
    (K.NON_INVITE_CLIENT, S.TRYING, E.PROVISIONAL): S.PROCEEDING,
    (K.NON_INVITE_CLIENT, S.TRYING, E.SUCCESS): S.TERMINATED,  # timer K = 0
    (K.NON_INVITE_CLIENT, S.TRYING, E.FAILURE): S.TERMINATED,
    (K.NON_INVITE_CLIENT, S.TRYING, E.TIMEOUT): S.TERMINATED,  # timer F
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.PROVISIONAL): S.PROCEEDING,
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.SUCCESS): S.TERMINATED,
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.FAILURE): S.TERMINATED,
    (K.NON_INVITE_CLIENT, S.PROCEEDING, E.TIMEOUT): S.TERMINATED,
    (K.INVITE_SERVER, S.PROCEEDING, E.PROVISIONAL): S.PROCEEDING,
    (K.INVITE_SERVER, S.PROCEEDING, E.SUCCESS): S.ACCEPTED,
    (K.INVITE_SERVER, S.PROCEEDING, E.FAILURE): S.COMPLETED,
    (K.INVITE_SERVER, S.COMPLETED, E.ACK): S.TERMINATED,  # confirmed, timer I = 0
    (K.INVITE_SERVER, S.COMPLETED, E.TIMEOUT): S.TERMINATED,  # timer H: no ACK
    (K.INVITE_SERVER, S.ACCEPTED, E.SUCCESS): S.ACCEPTED,
    (K.INVITE_SERVER, S.ACCEPTED, E.TIMEOUT): S.TERMINATED,  # timer L
    (K.NON_INVITE_SERVER, S.TRYING, E.PROVISIONAL): S.PROCEEDING,
    (K.NON_INVITE_SERVER, S.TRYING, E.SUCCESS): S.TERMINATED,  # timer J = 0
    (K.NON_INVITE_SERVER, S.TRYING, E.FAILURE): S.TERMINATED,
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.PROVISIONAL): S.PROCEEDING,
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.SUCCESS): S.TERMINATED,
    (K.NON_INVITE_SERVER, S.PROCEEDING, E.FAILURE): S.TERMINATED,
}
for _kind in Kind:
    for _state in State:
        if _state is not State.TERMINATED:
            TRANSITIONS.setdefault((_kind, _state, Event.TRANSPORT_ERROR), State.TERMINATED)
INITIAL = {
    Kind.INVITE_CLIENT: State.CALLING,
    Kind.NON_INVITE_CLIENT: State.TRYING,
    Kind.INVITE_SERVER: State.PROCEEDING,
    Kind.NON_INVITE_SERVER: State.TRYING,
}
# States whose deadline matters, and how long it is from entering them.
DEADLINES = {
    State.CALLING: TIMEOUT,
    State.TRYING: TIMEOUT,
    State.PROCEEDING: TIMEOUT,
    State.ACCEPTED: TIMEOUT,
    State.COMPLETED: TIMEOUT,
}

MAGIC_COOKIE = "z9hG4bK"


def new_branch() -> str:
    return MAGIC_COOKIE + secrets.token_hex(10)


def status_event(status: int) -> Event:
    if status < 200:
        return Event.PROVISIONAL
    return Event.SUCCESS if status < 300 else Event.FAILURE


TransactionKey = tuple[str, ...]


def server_key(request: Request) -> TransactionKey:
    """RFC 3261 17.2.3: branch + sent-by + method (ACK matches its INVITE); the
    RFC 2543 fallback for branches without the magic cookie."""
    top = request.vias[0]
    method = "INVITE" if request.method == "ACK" else request.method
    branch = top.branch or ""
    if branch.startswith(MAGIC_COOKIE):
        return (branch, top.sent_by.lower(), method)
    return (
        "2543",
        request.uri,
        request.from_.tag or "",
        request.call_id,
        str(request.cseq.number),
        method,
        str(top),
    )


def client_key(message: Request | Response) -> TransactionKey:
    """RFC 3261 17.1.3: a response matches by its top Via branch and CSeq method."""
    method = message.cseq.method
    if method == "ACK":
        method = "INVITE"
    return (message.vias[0].branch or "", method)


@dataclass(slots=True)
class Transaction:
    kind: Kind
    key: TransactionKey
    request: Request
    state: State
    deadline: float
    last_response: Response | None = None
    connection_id: object = field(default=None)

    def apply(self, event: Event, now: float) -> State:
        """Move on ``event``; returns the (possibly unchanged) state."""
        nxt = TRANSITIONS.get((self.kind, self.state, event))
        if nxt is None:
            return self.state
        if nxt is not self.state:
            self.state = nxt
            self.deadline = now + DEADLINES.get(nxt, 0.0)
        return self.state

    @property
    def terminated(self) -> bool:
        return self.state is State.TERMINATED


class TransactionTable:
    """Client and server transactions of one SIP element, with their deadlines."""

    def __init__(self) -> None:
        self._client: dict[TransactionKey, Transaction] = {}
        self._server: dict[TransactionKey, Transaction] = {}

    def __len__(self) -> int:
        return len(self._client) + len(self._server)

    def new_client(self, request: Request, now: float) -> Transaction:
        kind = Kind.INVITE_CLIENT if request.method == "INVITE" else Kind.NON_INVITE_CLIENT
        key = client_key(request)
        tx = Transaction(kind, key, request, INITIAL[kind], now + TIMEOUT)
        self._client[key] = tx
        return tx

    def response_received(self, response: Response, now: float) -> Transaction | None:
        """The client transaction this response belongs to, moved on; None for a stray."""
        tx = self._client.get(client_key(response))
        if tx is None:
            return None
        tx.last_response = response
        tx.apply(status_event(response.status), now)
        if tx.terminated:
            del self._client[tx.key]
        return tx

    def request_received(self, request: Request, now: float) -> tuple[Transaction, bool]:
        """The server transaction for a request and whether it is new.

        A known one means a retransmission (or the ACK of a failed INVITE): the
        caller re-sends ``last_response`` instead of handing it up again.
        """
        key = server_key(request)
        tx = self._server.get(key)
        if tx is not None:
            if request.method == "ACK":
                tx.apply(Event.ACK, now)
                if tx.terminated:
                    del self._server[key]
            return tx, False
        kind = Kind.INVITE_SERVER if request.method == "INVITE" else Kind.NON_INVITE_SERVER
        tx = Transaction(kind, key, request, INITIAL[kind], now + TIMEOUT)
        if request.method != "ACK":
            self._server[key] = tx
        return tx, True

    def response_sent(self, tx: Transaction, response: Response, now: float) -> None:
        tx.last_response = response
        tx.apply(status_event(response.status), now)
        if tx.terminated:
            self._server.pop(tx.key, None)

    def expire(self, now: float) -> list[Transaction]:
        """Transactions whose deadline has passed, terminated and removed."""
        expired: list[Transaction] = []
        for table in (self._client, self._server):
            for key, tx in list(table.items()):
                if tx.deadline <= now:
                    tx.apply(Event.TIMEOUT, now)
                    tx.state = State.TERMINATED
                    del table[key]
                    expired.append(tx)
        return expired

    def transport_failed(self, connection_id: object, now: float) -> list[Transaction]:
        """Every transaction bound to a connection that closed."""
        failed: list[Transaction] = []
        for table in (self._client, self._server):
            for key, tx in list(table.items()):
                if tx.connection_id is connection_id:
                    tx.apply(Event.TRANSPORT_ERROR, now)
                    del table[key]
                    failed.append(tx)
        return failed
