"""Tables: settings (typed JSON documents), the telephone list, client logins."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import JSON, Boolean, DateTime, Integer, String, Text
from sqlalchemy.orm import DeclarativeBase, Mapped, mapped_column


class Base(DeclarativeBase):
    pass


class Setting(Base):
    """One settings section (phone_connection, advanced, ...) as a JSON document,
    validated by the pydantic model of that section on every read and write."""

    __tablename__ = "setting"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    value: Mapped[dict[str, object]] = mapped_column(JSON)


class Secret(Base):
    """Values that must be recoverable (the phone password: the server answers
    the phones' own digest challenges with it), encrypted with the key file."""

    __tablename__ = "secret"
    key: Mapped[str] = mapped_column(String(64), primary_key=True)
    token: Mapped[str] = mapped_column(Text)


class Phone(Base):
    __tablename__ = "phone"
    mac: Mapped[str] = mapped_column(String(12), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32), default="unknown")
    model: Mapped[str] = mapped_column(String(64), default="")
    firmware: Mapped[str] = mapped_column(String(64), default="")
    user_agent: Mapped[str] = mapped_column(String(255), default="")
    last_ip: Mapped[str] = mapped_column(String(64), default="")
    last_port: Mapped[int] = mapped_column(Integer, default=0)
    last_transport: Mapped[str] = mapped_column(String(8), default="")
    last_identity: Mapped[str] = mapped_column(String(255), default="")
    first_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    last_login: Mapped[datetime | None] = mapped_column(DateTime(timezone=True), nullable=True)
    status: Mapped[str] = mapped_column(String(16), default="offline")
    # What an admin should know: identities not reported, an identity conflict.
    note: Mapped[str] = mapped_column(String(255), default="")
    enabled: Mapped[bool] = mapped_column(Boolean, default=True)


class ClientLogin(Base):
    """A CTI client's login.  Only digest HA1 values are kept (per realm and
    algorithm), never the password."""

    __tablename__ = "client_login"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    realm: Mapped[str] = mapped_column(String(128))
    ha1_md5: Mapped[str] = mapped_column(String(32))
    ha1_sha256: Mapped[str] = mapped_column(String(64))
    allowed_devices: Mapped[list[str]] = mapped_column(JSON, default=list)


class AdminAccount(Base):
    """An administrator of the web UI: the password only as an argon2 hash."""

    __tablename__ = "admin_account"
    name: Mapped[str] = mapped_column(String(64), primary_key=True)
    password_hash: Mapped[str] = mapped_column(String(255))
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Provisioned(Base):
    """What provisioning wrote to one phone, and each key's value before, so
    that *Delete provisioning* removes exactly that (manual 3.5.1)."""

    __tablename__ = "provisioned"
    mac: Mapped[str] = mapped_column(String(12), primary_key=True)
    vendor: Mapped[str] = mapped_column(String(32))
    ip: Mapped[str] = mapped_column(String(64))
    web_port: Mapped[int] = mapped_column(Integer, default=80, server_default="80")
    slot: Mapped[str] = mapped_column(String(64))
    written: Mapped[dict[str, str]] = mapped_column(JSON)
    previous: Mapped[dict[str, str | None]] = mapped_column(JSON)
    at: Mapped[datetime] = mapped_column(DateTime(timezone=True))


class Webhook(Base):
    """A client login's webhook: where its devices' events are posted, and the
    key that signs them (encrypted like every secret)."""

    __tablename__ = "webhook"
    id: Mapped[str] = mapped_column(String(32), primary_key=True)
    login: Mapped[str] = mapped_column(String(64), index=True)
    url: Mapped[str] = mapped_column(String(2048))
    devices: Mapped[list[str]] = mapped_column(JSON)
    secret: Mapped[str] = mapped_column(Text)
    created: Mapped[datetime] = mapped_column(DateTime(timezone=True))
