"""Runtime settings, one pydantic model per section of the admin (the manual's
phone connection, client connection, advanced settings, diagnostics).

They live in the store and are validated on every read and write, so the CLI,
the web UI and the server share one set of rules and error messages.
"""

from __future__ import annotations

import ipaddress
import re
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from .vendors import normalise_user

Port = Annotated[int, Field(ge=0, le=65535)]


def check_host(value: str) -> str:
    if not re.fullmatch(r"[A-Za-z0-9.\-:\[\]]{1,253}", value):
        raise ValueError(f"{value!r} is not a host name or IP address")
    return value


class Interface(BaseModel):
    """One network interface of the phone or client connection (LAN or WAN)."""

    model_config = ConfigDict(extra="forbid")
    enabled: bool
    address: str = Field("0.0.0.0", description="Listen address (IPv4 or IPv6 literal)")
    tcp_port: Port | None = Field(None, description="TCP port; empty turns TCP off")
    tls_port: Port | None = Field(None, description="TLS port; empty turns TLS off")
    public_address: str | None = Field(
        None,
        description="Public IP address or DNS name used in Via and Contact for phones behind "
        "NAT (WAN interface)",
    )

    @field_validator("address")
    @classmethod
    def _address(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"{value!r} is not an IP address") from None
        return value

    @field_validator("public_address")
    @classmethod
    def _public(cls, value: str | None) -> str | None:
        if value in (None, ""):
            return None
        assert value is not None
        return check_host(value)

    def ports(self) -> list[tuple[str, int]]:
        """The ports this interface listens on, by kind."""
        pairs = [("TCP", self.tcp_port), ("TLS", self.tls_port)]
        return [(kind, port) for kind, port in pairs if port is not None]

    @model_validator(mode="after")
    def _ports(self) -> Interface:
        if self.enabled and not self.ports():
            raise ValueError("an enabled interface needs a TCP or a TLS port")
        # port 0: one chosen by the system (tests), never shared
        seen: dict[int, str] = {}
        for kind, port in self.ports():
            if port and port in seen:
                raise ValueError(f"{seen[port]} and {kind} cannot share a port ({port})")
            seen[port] = kind
        return self


class ClientInterface(Interface):
    """A client connection interface: uaCSTA over SIP (TCP, TLS) and the JSON
    face (REST and WebSocket over HTTP or HTTPS)."""

    http_port: Port | None = Field(
        None, description="HTTP port of the JSON API (REST, WebSocket); empty turns it off"
    )
    https_port: Port | None = Field(
        None, description="HTTPS port of the JSON API (REST, WebSocket); empty turns it off"
    )
    csta_tcp_port: Port | None = Field(
        None,
        description="TCP port of CSTA XML over TCP (ECMA-323 Annex J framing, ECMA-354 "
        "application sessions); empty turns it off",
    )
    csta_tls_port: Port | None = Field(
        None, description="TLS port of CSTA XML over TCP; empty turns it off"
    )

    def ports(self) -> list[tuple[str, int]]:
        pairs = [
            ("HTTP", self.http_port),
            ("HTTPS", self.https_port),
            ("CSTA TCP", self.csta_tcp_port),
            ("CSTA TLS", self.csta_tls_port),
        ]
        return super().ports() + [(kind, port) for kind, port in pairs if port is not None]

    def csta_ports(self) -> list[tuple[str, int | None]]:
        """The CSTA-over-TCP listeners, as the stream service opens them."""
        return [("TCP", self.csta_tcp_port), ("TLS", self.csta_tls_port)]


class ConnectionSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    lan: Interface
    wan: Interface

    @model_validator(mode="after")
    def _distinct(self) -> ConnectionSettings:
        seen: dict[tuple[str, int], str] = {}
        for name, iface in (("LAN", self.lan), ("WAN", self.wan)):
            if not iface.enabled:
                continue
            for kind, port in iface.ports():
                if not port:
                    continue
                for (addr, other_port), other in seen.items():
                    if other_port == port and _overlap(addr, iface.address):
                        raise ValueError(f"{name} {kind} port {port} is already used by {other}")
                seen[(iface.address, port)] = f"{name} {kind}"
        return self


def _overlap(a: str, b: str) -> bool:
    wildcard = ("0.0.0.0", "::")
    return a == b or a in wildcard or b in wildcard


DigestAlgorithm = Literal["SHA-256", "MD5"]


def _md5_only() -> list[DigestAlgorithm]:
    return ["MD5"]


class PhoneConnection(ConnectionSettings):
    digest_algorithms: list[DigestAlgorithm] = Field(
        default_factory=_md5_only,
        description="Digest algorithms offered to phones, preferred first. MD5 is what the "
        "phones of the manual's firmware versions speak.",
        min_length=1,
    )


def default_phone_connection() -> PhoneConnection:
    return PhoneConnection(
        lan=Interface(enabled=True, address="0.0.0.0", tcp_port=5060, tls_port=5061),
        wan=Interface(enabled=False, address="0.0.0.0", tcp_port=5070, tls_port=5071),
    )


class ClientConnection(ConnectionSettings):
    lan: ClientInterface
    wan: ClientInterface
    resume_window: int = Field(
        60,
        ge=0,
        le=3600,
        description="Seconds a JSON client's session (monitors and events) is kept after its "
        "connection drops, so that it can reconnect and resume without losing events; "
        "0 ends it at once.",
    )
    max_queued_events: int = Field(
        10_000,
        ge=100,
        le=1_000_000,
        description="Events waiting for one client; a client further behind is disconnected.",
    )
    request_timeout: float = Field(
        5.0,
        ge=0.5,
        le=60.0,
        description="Seconds to wait for a phone's answer before the client gets an error.",
    )
    webhook_targets: list[str] = Field(
        default_factory=list,
        max_length=20,
        description="Addresses webhooks may post to, as URL prefixes "
        "(https://crm.example/hooks/); empty: no webhooks. The server posts to them on a "
        "client's behalf, so list only your applications.",
    )

    @field_validator("webhook_targets", mode="before")
    @classmethod
    def _split(cls, value: Any) -> Any:
        # "https://a/, https://b/" from the command line or a form field
        if isinstance(value, str):
            return [v for v in value.replace(",", " ").split() if v]
        return value

    @field_validator("webhook_targets")
    @classmethod
    def _targets(cls, value: list[str]) -> list[str]:
        for prefix in value:
            url = urlsplit(prefix)
            if url.scheme not in ("http", "https") or not url.hostname:
                raise ValueError(f"{prefix!r} is not an http:// or https:// URL")
            if url.username or url.password or url.query or url.fragment:
                raise ValueError(f"{prefix!r}: no credentials, query or fragment in a prefix")
            if len(prefix) > 512:
                raise ValueError("a webhook target is at most 512 characters")
        return value


def default_client_connection() -> ClientConnection:
    return ClientConnection(
        lan=ClientInterface(
            enabled=True,
            address="127.0.0.1",
            tcp_port=5080,
            tls_port=5081,
            http_port=8090,
            https_port=8091,
            csta_tcp_port=1040,
            csta_tls_port=1041,
        ),
        wan=ClientInterface(
            enabled=False,
            address="0.0.0.0",
            tcp_port=5090,
            tls_port=5091,
            http_port=8092,
            https_port=8093,
            csta_tcp_port=1050,
            csta_tls_port=1051,
        ),
    )


class Advanced(BaseModel):
    model_config = ConfigDict(extra="forbid")
    auto_enable: bool = Field(
        True,
        description="Automatically put phones into operation: unknown telephones are placed "
        "into operation as soon as they have registered with the server for the first time.",
    )
    sip_expiration: int = Field(
        300,
        ge=60,
        le=86400,
        description="SIP expiration time (seconds) suggested for SIP registrations and dialogs. "
        "Modify only in case of need.",
    )
    min_expiration: int = Field(
        60, ge=10, le=3600, description="Shortest registration accepted (423 below it)."
    )
    keepalive: int = Field(
        60,
        ge=10,
        le=3600,
        description="Keep connection alive time (seconds): interval of the CSTA keep-alive "
        "messages between the server and the telephone. Modify only in case of need.",
    )

    @model_validator(mode="after")
    def _order(self) -> Advanced:
        if self.min_expiration > self.sip_expiration:
            raise ValueError("min_expiration must not exceed sip_expiration")
        return self


LogLevel = Literal["DEBUG", "INFO", "WARNING", "ERROR"]


class Diagnostics(BaseModel):
    model_config = ConfigDict(extra="forbid")
    log_level: LogLevel = "INFO"
    max_file_size_mb: int = Field(10, ge=1, le=1024, description="Maximum size of a log file")
    delete_daily: bool = Field(False, description="Delete log files daily")
    log_folder: str = Field("", description="Log file directory (empty: logs/ in the data folder)")
    mac_filter: list[str] = Field(
        default_factory=list,
        description="Log only these telephones (MAC addresses, comma separated)",
    )

    @field_validator("log_level", mode="before")
    @classmethod
    def _level(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    @field_validator("mac_filter", mode="before")
    @classmethod
    def _macs(cls, value: Any) -> Any:
        if isinstance(value, str | list):
            return parse_mac_list(value)
        return value


def parse_mac_list(value: str | list[Any]) -> list[str]:
    """MAC addresses (or Gigaset handset IDs) as an admin types them: comma
    separated, with or without ':' / '-' separators; ValueError names a bad one."""
    items = value.split(",") if isinstance(value, str) else value
    out = []
    for item in items:
        text = given = str(item).strip()
        if not text:
            continue
        # Admins copy MACs as 00:04:13:… or 00-04-13-…: the filter takes those too.
        bare = re.sub(r"[:.\-]", "", text)
        if len(bare) == 12 and all(c in "0123456789abcdefABCDEF" for c in bare):
            text = bare
        user = normalise_user(text)
        if user is None:
            raise ValueError(f"{given!r} is not a MAC address (12 hex digits) or handset ID")
        out.append(user)
    return out


class TlsSettings(BaseModel):
    model_config = ConfigDict(extra="forbid")
    cert_file: str = Field("", description="Server certificate (PEM); empty: generated")
    key_file: str = Field("", description="Private key of the certificate (PEM)")

    @model_validator(mode="after")
    def _pair(self) -> TlsSettings:
        if bool(self.cert_file) != bool(self.key_file):
            raise ValueError("give both a certificate file and a key file, or neither")
        return self


VendorName = Literal["snom", "yealink", "mitel", "poly", "auerswald", "gigaset"]


class ProvisioningOptions(BaseModel):
    """The *Options* of the manual's Manage telephones dialog (3.5.1)."""

    model_config = ConfigDict(extra="forbid")
    web_user: str = Field(
        "admin", max_length=64, description="User name of the phones' web interface"
    )
    restart: bool = Field(
        True, description="Restart the telephones after providing or deleting provisioning"
    )
    interface: Literal["lan", "wan"] = Field(
        "lan", description="Phone connection interface the telephones register with"
    )
    transport: Literal["TCP", "TLS"] = Field("TCP", description="Connection protocol")
    server_address: str = Field(
        "",
        description="Address the telephones contact (DNS name or IP). Empty: the interface's "
        "public address (WAN), its listen address, or the address the phone is reached from",
    )
    second_server: str = Field(
        "",
        description="A second server the telephones register with when the first does not "
        "answer (another node of a cluster): host, or host:port when its port differs. "
        "Yealink and Poly take it; for the other vendors use DNS SRV (docs/scaling.md)",
    )
    expiry: int = Field(300, ge=60, le=86400, description="Registration period (seconds)")
    http_port: Port | None = Field(
        8088,
        description="Port of uacsta's configuration server for phones that load their uaCSTA "
        "settings from a file (Mitel startup.cfg) or its CA by URL (Yealink); empty turns it "
        "off. Takes effect when the phone service starts",
    )
    concurrency: int = Field(16, ge=1, le=256, description="Telephones provided at the same time")
    vendor_web_users: dict[VendorName, str] = Field(
        default_factory=dict,
        description="A vendor's own web interface user (its password is stored apart), "
        "where its phones do not take the common one",
    )

    @field_validator("server_address")
    @classmethod
    def _server(cls, value: str) -> str:
        value = value.strip()
        return check_host(value) if value else value

    @field_validator("second_server")
    @classmethod
    def _second(cls, value: str) -> str:
        value = value.strip()
        if value:
            host_port(value)
        return value


def host_port(value: str) -> tuple[str, int | None]:
    """``host``, ``host:port`` or ``[v6]:port``; ValueError otherwise."""
    found = re.fullmatch(r"\[([0-9A-Fa-f:.]+)\](?::(\d{1,5}))?|([^:\[\]]+)(?::(\d{1,5}))?", value)
    if found is None:
        if ":" in value:  # a bare IPv6 address, no port
            return check_host(value), None
        raise ValueError(f"{value!r} is not host or host:port")
    host = check_host(found.group(1) or found.group(3))
    port_text = found.group(2) or found.group(4)
    port = int(port_text) if port_text else None
    if port is not None and not 1 <= port <= 65535:
        raise ValueError(f"port {port} out of range")
    return host, port


SECTIONS: dict[str, tuple[type[BaseModel], Any]] = {
    "phone_connection": (PhoneConnection, default_phone_connection),
    "client_connection": (ClientConnection, default_client_connection),
    "advanced": (Advanced, Advanced),
    "diagnostics": (Diagnostics, Diagnostics),
    "tls": (TlsSettings, TlsSettings),
    "provisioning": (ProvisioningOptions, ProvisioningOptions),
}


# -- passwords: one rule each, for the CLI, the admin UI and its API alike ----------------

PHONE_PASSWORD_MIN = 10  # every phone shares it: guessed once, all are open
CLIENT_PASSWORD_MIN = 8
PASSWORD_MAX = 256


def _password_problem(value: str, minimum: int, what: str) -> str | None:
    if len(value) < minimum:
        return f"the {what} needs at least {minimum} characters"
    if len(value) > PASSWORD_MAX:
        return f"the {what} is longer than {PASSWORD_MAX} characters"
    if any(ord(c) < 32 or ord(c) == 127 for c in value):
        return f"the {what} must not contain control characters"
    return None


def phone_password_problem(value: str) -> str | None:
    """Why a phone password cannot be used, or None."""
    return _password_problem(value, PHONE_PASSWORD_MIN, "phone password")


def client_password_problem(value: str) -> str | None:
    """Why a client login's password cannot be used, or None."""
    return _password_problem(value, CLIENT_PASSWORD_MIN, "client password")
