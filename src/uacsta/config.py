"""Bootstrap configuration: what the server needs before it can open its store.

Read from a TOML file (``--config`` or ``UACSTA_CONFIG``) and ``UACSTA_*``
environment variables (which win).  Everything else lives in the store.
"""

from __future__ import annotations

import os
import re
import socket
from pathlib import Path
from typing import Any, Literal

from pydantic import Field, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    TomlConfigSettingsSource,
)


def split_listen(value: str) -> tuple[str, int]:
    """``host:port`` or ``[v6]:port`` as a (host, port) pair, or ValueError."""
    host, sep, port = value.rpartition(":")
    if not sep or not (port.isascii() and port.isdigit()) or int(port) > 65535 or not host:
        raise ValueError(f"{value!r} is not host:port")
    return host.strip("[]"), int(port)


def default_node_name() -> str:
    """This machine's short host name, as a cluster node's name may be spelled."""
    name = re.sub(r"[^A-Za-z0-9_-]", "-", socket.gethostname().split(".")[0])[:64]
    return name or "uacsta"


def default_data_dir() -> Path:
    base = os.environ.get("XDG_DATA_HOME") or str(Path.home() / ".local" / "share")
    return Path(base) / "uacsta"


class Config(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="UACSTA_", extra="forbid")

    data_dir: Path = Field(default_factory=default_data_dir)
    database_url: str = Field("", description="Default: SQLite file uacsta.db in data_dir")
    host_name: str = Field(default_factory=socket.getfqdn)
    realm: str = "uacsta"
    max_connections_per_source: int = Field(1000, ge=1)
    # Connections of one side (phones, or clients) at once, and the bytes
    # they may hold in partly received messages together (docs/security.md).
    max_connections: int = Field(20000, ge=1)
    max_buffered_bytes: int = Field(64 * 1024 * 1024, ge=65536)
    # A message must be complete this many seconds after its first byte
    # (slowloris: one byte at a time never completes).
    message_deadline: float = Field(20.0, gt=0)
    tls_handshake_timeout: float = Field(10.0, gt=0)
    # 0: derived from the SIP expiration time (a phone that neither refreshes
    # nor pings within it is gone).
    idle_timeout: float = Field(0.0, ge=0)
    console_log_level: str = "INFO"
    # The admin web UI: "host:port" ("[::1]:8080" for IPv6); empty turns it off.
    # A bootstrap setting: the UI must be up before anything can be changed in it.
    admin_listen: str = "127.0.0.1:8080"
    # HTTPS for the admin web UI, with the server's certificate (the one the
    # phone and client connections use).
    admin_tls: bool = False
    # Prometheus metrics and health on a listener of their own, "host:port",
    # without a login (keep it on loopback or behind a firewall); empty: only
    # on the admin listener, where /metrics needs an admin login.
    metrics_listen: str = ""
    # Runtime settings (as `uacsta settings export` writes them) taken at the
    # first start, when the database holds none yet: ports and addresses for
    # containers, packages and tests.  Later starts leave the stored ones alone.
    initial_settings: str = ""
    # asyncio's own loop, or uvloop ("auto": uvloop where installed); runtime/loop.py
    # says why asyncio is the default.
    event_loop: Literal["auto", "uvloop", "asyncio"] = "asyncio"
    # A cluster on NATS (docs/scaling.md): the NATS server URLs, comma-separated
    # ("nats://10.0.0.5:4222,nats://10.0.0.6:4222"; "tls://..." for TLS).  Empty:
    # one server on its own, no NATS.
    cluster_url: str = ""
    # This node's name in the cluster: unique, letters, digits, '-' and '_'.
    node_name: str = Field(default_factory=default_node_name, pattern=r"^[A-Za-z0-9_-]{1,64}$")
    # A NATS credentials file (.creds) and, for tls:// URLs, the CA to trust
    # (empty: the system's).
    cluster_credentials: str = ""
    cluster_tls_ca: str = ""
    # A node not heard of for this long is dead: its phones are out of service
    # until they register with another node.
    cluster_dead_after: float = Field(6.0, ge=1.0, le=300.0)
    # Listen on the phone and client ports beside other processes (SO_REUSEPORT):
    # set by `uacsta serve --workers` for its workers, not by hand.
    share_ports: bool = False
    # The log file's name in the log folder: `serve --workers` gives each worker
    # after the first one of its own (uacsta-<node>.log).
    log_file_name: str = Field("uacsta.log", pattern=r"^[A-Za-z0-9_.-]{1,100}\.log$")

    @field_validator("admin_listen", "metrics_listen")
    @classmethod
    def _listen(cls, value: str) -> str:
        if value:
            split_listen(value)
        return value

    @property
    def admin_address(self) -> tuple[str, int] | None:
        return split_listen(self.admin_listen) if self.admin_listen else None

    @property
    def metrics_address(self) -> tuple[str, int] | None:
        return split_listen(self.metrics_listen) if self.metrics_listen else None

    @field_validator("data_dir")
    @classmethod
    def _expand(cls, value: Path) -> Path:
        return value.expanduser()

    @property
    def db_url(self) -> str:
        return self.database_url or f"sqlite+aiosqlite:///{self.data_dir / 'uacsta.db'}"

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings]
        toml_path = os.environ.get("UACSTA_CONFIG")
        if toml_path:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=Path(toml_path)))
        return tuple(sources)


class ConfigError(Exception):
    pass


def load_config(path: str | None = None, **overrides: Any) -> Config:
    from pydantic import ValidationError

    if path:
        if not Path(path).is_file():
            raise ConfigError(f"configuration file {path} does not exist")
        os.environ["UACSTA_CONFIG"] = path
    try:
        return Config(**overrides)
    except ValidationError as exc:
        from .store.repo import format_validation_error

        raise ConfigError(f"bad configuration: {format_validation_error(exc)}") from None
    except (OSError, ValueError) as exc:
        raise ConfigError(f"bad configuration: {exc}") from None
