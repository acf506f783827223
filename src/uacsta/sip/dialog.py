"""SIP dialogs (RFC 3261 section 12): identity, CSeq spaces, remote target, route set."""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

from .address import NameAddr
from .errors import SipParseError
from .headers import Headers
from .message import Request, Response
from .transaction import new_branch
from .uri import Uri, parse_uri


def new_tag() -> str:
    return secrets.token_hex(6)


def new_call_id(host: str) -> str:
    return f"{secrets.token_hex(12)}@{host}"


@dataclass(slots=True)
class Dialog:
    call_id: str
    local_tag: str
    remote_tag: str
    local_uri: str
    remote_uri: str
    remote_target: str
    local_cseq: int
    remote_cseq: int | None = None
    route_set: list[str] = field(default_factory=list)
    # From and To as written in every request of the dialog; their URIs and
    # tags never change, so they are formatted once (an event INFO is sent
    # per client per event).
    _from_to: tuple[str, str] | None = field(default=None, init=False, repr=False, compare=False)

    @property
    def id(self) -> tuple[str, str, str]:
        return (self.call_id, self.local_tag, self.remote_tag)

    @classmethod
    def from_uac(cls, request: Request, response: Response) -> Dialog:
        """The dialog a 2xx to our INVITE (or SUBSCRIBE) creates (RFC 3261 12.1.2)."""
        remote_tag = response.to.tag
        local_tag = request.from_.tag
        if not remote_tag or not local_tag:
            raise SipParseError("dialog-creating response without tags")
        contacts = response.contacts
        if not contacts:
            raise SipParseError("dialog-creating response without Contact")
        routes = list(reversed(response.headers.get_list("Record-Route")))
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=str(request.from_.uri),
            remote_uri=str(request.to.uri),
            remote_target=str(contacts[0].uri),
            local_cseq=request.cseq.number,
            route_set=routes,
        )

    @classmethod
    def from_uas(cls, request: Request, local_tag: str) -> Dialog:
        """The dialog we create by answering an INVITE with 2xx (RFC 3261 12.1.1)."""
        remote_tag = request.from_.tag
        contacts = request.contacts
        if not remote_tag or not contacts:
            raise SipParseError("dialog-creating request without From tag or Contact")
        return cls(
            call_id=request.call_id,
            local_tag=local_tag,
            remote_tag=remote_tag,
            local_uri=str(request.to.uri),
            remote_uri=str(request.from_.uri),
            remote_target=str(contacts[0].uri),
            local_cseq=0,
            remote_cseq=request.cseq.number,
            route_set=request.headers.get_list("Record-Route"),
        )

    def matches(self, message: Request | Response, *, incoming_request: bool) -> bool:
        if message.call_id != self.call_id:
            return False
        if incoming_request:
            return message.from_.tag == self.remote_tag and message.to.tag == self.local_tag
        return message.from_.tag == self.local_tag and message.to.tag == self.remote_tag

    def accept_remote_cseq(self, request: Request) -> bool:
        """RFC 3261 12.2.2: a request with a lower CSeq than the last is out of
        order (answer 500); ACK and CANCEL reuse their INVITE's number."""
        number = request.cseq.number
        if request.method in ("ACK", "CANCEL"):
            return True
        if self.remote_cseq is not None and number <= self.remote_cseq:
            return False
        self.remote_cseq = number
        return True

    def create_request(
        self,
        method: str,
        *,
        via_host: str,
        transport: str = "TCP",
        contact: str | None = None,
        extra: list[tuple[str, str]] | None = None,
        body: bytes = b"",
        cseq: int | None = None,
        branch: str | None = None,
    ) -> Request:
        """An in-dialog request (RFC 3261 12.2.1.1); ACK reuses the INVITE's CSeq.
        ``branch`` is the Via branch to use, for a caller that keys its pending
        requests by branch and so need not parse the Via it has just written."""
        if cseq is None:
            self.local_cseq += 1
            cseq = self.local_cseq
        headers = Headers()
        branch = branch or new_branch()
        headers.add("Via", f"SIP/2.0/{transport} {via_host};branch={branch};rport")
        headers.add("Max-Forwards", "70")
        from_to = self._from_to
        if from_to is None:
            from_to = self._from_to = (
                str(NameAddr(_uri(self.local_uri), None, {"tag": self.local_tag})),
                str(NameAddr(_uri(self.remote_uri), None, {"tag": self.remote_tag})),
            )
        headers.add("From", from_to[0])
        headers.add("To", from_to[1])
        headers.add("Call-ID", self.call_id)
        headers.add("CSeq", f"{cseq} {method}")
        for route in self.route_set:
            headers.add("Route", route)
        if contact:
            headers.add("Contact", contact)
        for name, value in extra or ():
            headers.add(name, value)
        return Request(headers=headers, body=body, method=method, uri=self.remote_target)


def _uri(text: str) -> Uri:

    return parse_uri(text)
