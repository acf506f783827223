"""Repository functions: the only code that writes SQL for the rest of the server."""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime
from typing import Any

from pydantic import BaseModel, ValidationError
from sqlalchemy import delete, select, update
from sqlalchemy.ext.asyncio import AsyncSession

from ..secrets_box import SecretBox
from ..settings import SECTIONS
from ..sip.digest import compute_ha1
from .db import Database
from .models import AdminAccount, ClientLogin, Phone, Provisioned, Secret, Setting, Webhook

REVISION_KEY = "_revision"
# Counted by every write of phone rows: nodes sharing one store follow each other's phones.
PHONES_REVISION_KEY = "_phones_revision"
PHONE_PASSWORD = "phone_password"
PHONE_WEB_PASSWORD = "provisioning_web_password"


class SettingsError(ValueError):
    """A setting that does not validate; ``str()`` is the message for the user."""


def _section(name: str) -> tuple[type[BaseModel], Any]:
    try:
        return SECTIONS[name]
    except KeyError:
        raise SettingsError(
            f"unknown settings section {name!r} (known: {', '.join(sorted(SECTIONS))})"
        ) from None


def format_validation_error(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors():
        where = ".".join(str(x) for x in err["loc"]) or "value"
        parts.append(f"{where}: {err['msg'].removeprefix('Value error, ')}")
    return "; ".join(parts)


async def load_section(db: Database, name: str) -> BaseModel:
    model, default = _section(name)
    async with db.session() as s:
        row = await s.get(Setting, name)
    if row is None:
        result: BaseModel = default()
        return result
    try:
        return model.model_validate(row.value)
    except ValidationError as exc:
        raise SettingsError(
            f"stored {name} settings are invalid: {format_validation_error(exc)}"
        ) from None


async def save_section(db: Database, name: str, value: BaseModel | dict[str, Any]) -> BaseModel:
    model, _ = _section(name)
    try:
        validated = model.model_validate(
            value.model_dump() if isinstance(value, BaseModel) else value
        )
    except ValidationError as exc:
        raise SettingsError(format_validation_error(exc)) from None
    async with db.session() as s, s.begin():
        row = await s.get(Setting, name)
        doc = validated.model_dump(mode="json")
        if row is None:
            s.add(Setting(key=name, value=doc))
        else:
            row.value = doc
        await _bump(s)
    return validated


def parse_value(text: str) -> Any:
    """A command-line value: JSON where it is JSON (numbers, true, null, lists),
    otherwise the text itself."""
    try:
        return json.loads(text)
    except json.JSONDecodeError:
        return text


def merge(base: dict[str, Any], changes: dict[str, Any]) -> dict[str, Any]:
    """``changes`` (a partial section) over ``base``, nested tables merged."""
    out = dict(base)
    for key, value in changes.items():
        if isinstance(value, dict) and isinstance(out.get(key), dict):
            out[key] = merge(out[key], value)
        else:
            out[key] = value
    return out


def setting_change(current: dict[str, Any], path: str, raw: str) -> dict[str, Any]:
    """``lan.tls_port`` and ``5062`` as a partial section, ``{"lan": {"tls_port":
    5062}}``, for a setting ``current`` (the section as stored) has; the rest
    of ``path`` after the section name."""
    node: Any = current
    keys = path.split(".")
    for key in keys[:-1]:
        node = node.get(key) if isinstance(node, dict) else None
    if not isinstance(node, dict) or keys[-1] not in node:
        raise SettingsError(f"unknown setting {path!r}")
    change: dict[str, Any] = {}
    target = change
    for key in keys[:-1]:
        target = target.setdefault(key, {})
    target[keys[-1]] = parse_value(raw)
    return change


async def set_path(db: Database, path: str, raw: str) -> BaseModel:
    """``advanced.sip_expiration`` = ``600``; ``phone_connection.lan.tls_port`` = ``5062``."""
    section, _, rest = path.partition(".")
    if not rest:
        raise SettingsError("give a setting as SECTION.NAME, e.g. advanced.sip_expiration")
    current = (await load_section(db, section)).model_dump(mode="json")
    try:
        change = setting_change(current, rest, raw)
    except SettingsError:
        raise SettingsError(f"unknown setting {path!r}") from None
    return await save_section(db, section, merge(current, change))


async def _bump(s: AsyncSession, key: str = REVISION_KEY) -> None:
    """Count every change so that a running server notices what the CLI wrote."""
    row = await s.get(Setting, key)
    if row is None:
        s.add(Setting(key=key, value={"n": 1}))
    else:
        n = row.value.get("n", 0)
        row.value = {"n": int(n) + 1 if isinstance(n, int) else 1}


async def revision(db: Database, key: str = REVISION_KEY) -> int:
    async with db.session() as s:
        row = await s.get(Setting, key)
    n = row.value.get("n", 0) if row else 0
    return n if isinstance(n, int) else 0


# -- secrets ---------------------------------------------------------------


async def get_secret(db: Database, box: SecretBox, key: str) -> str | None:
    async with db.session() as s:
        row = await s.get(Secret, key)
    return box.decrypt(row.token) if row else None


async def set_secret(db: Database, box: SecretBox, key: str, value: str) -> None:
    async with db.session() as s, s.begin():
        row = await s.get(Secret, key)
        token = box.encrypt(value)
        if row is None:
            s.add(Secret(key=key, token=token))
        else:
            row.token = token
        await _bump(s)


# -- the telephone list ------------------------------------------------------


async def list_phones(db: Database) -> Sequence[Phone]:
    async with db.session() as s:
        return (await s.scalars(select(Phone).order_by(Phone.mac))).all()


async def get_phone(db: Database, mac: str) -> Phone | None:
    async with db.session() as s:
        return await s.get(Phone, mac)


_PHONE_COLUMNS = [c.name for c in Phone.__table__.columns]
# A Phone made in Python carries None until flushed where its column has a
# default; the bulk upsert below writes values, so it writes the defaults.
_PHONE_DEFAULTS = {
    c.name: c.default.arg
    for c in Phone.__table__.columns
    if c.default is not None and not callable(c.default.arg)
}


def phone_row(p: Phone) -> dict[str, Any]:
    row = {name: getattr(p, name) for name in _PHONE_COLUMNS}
    for name, default in _PHONE_DEFAULTS.items():
        if row[name] is None:
            row[name] = default
    return row


async def save_phones(db: Database, phones: Sequence[Phone]) -> None:
    """Insert or update whole rows (the registrar's write-behind batches) with
    a native upsert, not a SELECT per row."""
    if not phones:
        return
    rows = [phone_row(p) for p in phones]
    from sqlalchemy.dialects import postgresql, sqlite

    dialect_insert: Any = (
        postgresql.insert if db.engine.dialect.name == "postgresql" else sqlite.insert
    )
    # One statement, its rows as executemany parameters: compiled once and then
    # taken from SQLAlchemy's cache.  (A multi-row VALUES is compiled anew for
    # every batch: 40 % of the server's time while thousands of phones register.)
    stmt = dialect_insert(Phone.__table__)
    stmt = stmt.on_conflict_do_update(
        index_elements=[Phone.__table__.c.mac],
        set_={name: stmt.excluded[name] for name in _PHONE_COLUMNS if name != "mac"},
    )
    async with db.session() as s, s.begin():
        await s.execute(stmt, rows)
        await _bump(s, PHONES_REVISION_KEY)


async def set_enabled(db: Database, mac: str | Sequence[str], enabled: bool) -> bool:
    """One phone, or many in one statement (the telephone list's selection)."""
    macs = [mac] if isinstance(mac, str) else list(mac)
    async with db.session() as s, s.begin():
        result = await s.execute(update(Phone).where(Phone.mac.in_(macs)).values(enabled=enabled))
        await _bump(s)
        return bool(getattr(result, "rowcount", 0))


async def put_in_operation(db: Database, macs: Sequence[str], vendor: str, ip: str) -> None:
    """Telephones just provided are meant to be controlled: listed and enabled
    before they first register, whatever *automatically put phones into
    operation* says."""
    async with db.session() as s, s.begin():
        for mac in macs:
            row = await s.get(Phone, mac)
            if row is None:
                s.add(Phone(mac=mac, vendor=vendor, last_ip=ip, status="offline", enabled=True))
            else:
                row.enabled = True
        await _bump(s)


async def remove_phone(db: Database, mac: str | Sequence[str]) -> bool:
    macs = [mac] if isinstance(mac, str) else list(mac)
    async with db.session() as s, s.begin():
        result = await s.execute(delete(Phone).where(Phone.mac.in_(macs)))
        await _bump(s)
        return bool(getattr(result, "rowcount", 0))


async def mark_all_offline(db: Database) -> None:
    """At start: bindings live in memory, so nothing is registered yet."""
    async with db.session() as s, s.begin():
        await s.execute(update(Phone).values(status="offline", note=""))


# -- client logins ------------------------------------------------------------


async def set_client_login(
    db: Database, name: str, password: str, realm: str, allowed: list[str] | None = None
) -> None:
    if not name or len(name) > 64 or any(c in name for c in ' \t\r\n:@"<>'):
        raise SettingsError(f"{name!r} is not a valid client login name")
    if not password:
        raise SettingsError("the password must not be empty")
    async with db.session() as s, s.begin():
        row = await s.get(ClientLogin, name)
        md5 = compute_ha1(name, realm, password, "MD5")
        sha = compute_ha1(name, realm, password, "SHA-256")
        if row is None:
            s.add(
                ClientLogin(
                    name=name,
                    realm=realm,
                    ha1_md5=md5,
                    ha1_sha256=sha,
                    allowed_devices=allowed or [],
                )
            )
        else:
            row.realm, row.ha1_md5, row.ha1_sha256 = realm, md5, sha
            if allowed is not None:
                row.allowed_devices = allowed
        await _bump(s)


async def set_client_allowed(db: Database, name: str, allowed: list[str]) -> bool:
    async with db.session() as s, s.begin():
        row = await s.get(ClientLogin, name)
        if row is None:
            return False
        row.allowed_devices = allowed
        await _bump(s)
        return True


async def get_client_login(db: Database, name: str) -> ClientLogin | None:
    async with db.session() as s:
        return await s.get(ClientLogin, name)


async def list_client_logins(db: Database) -> Sequence[ClientLogin]:
    async with db.session() as s:
        return (await s.scalars(select(ClientLogin).order_by(ClientLogin.name))).all()


async def remove_client_login(db: Database, name: str) -> bool:
    async with db.session() as s, s.begin():
        result = await s.execute(delete(ClientLogin).where(ClientLogin.name == name))
        await _bump(s)
        return bool(getattr(result, "rowcount", 0))


# -- admin accounts (web UI) ------------------------------------------------------


async def set_admin(db: Database, name: str, password_hash: str) -> bool:
    """Add an admin account or change its password; True when it is new."""
    if not name or len(name) > 64 or any(c.isspace() or c in ':"<>' for c in name):
        raise SettingsError(f"{name!r} is not a valid admin name")
    async with db.session() as s, s.begin():
        row = await s.get(AdminAccount, name)
        if row is None:
            s.add(AdminAccount(name=name, password_hash=password_hash, created=utcnow()))
            return True
        row.password_hash = password_hash
        return False


async def get_admin(db: Database, name: str) -> AdminAccount | None:
    async with db.session() as s:
        return await s.get(AdminAccount, name)


async def count_admins(db: Database) -> int:
    async with db.session() as s:
        return len((await s.scalars(select(AdminAccount.name))).all())


async def remove_admin(db: Database, name: str) -> bool:
    async with db.session() as s, s.begin():
        result = await s.execute(delete(AdminAccount).where(AdminAccount.name == name))
        return bool(getattr(result, "rowcount", 0))


# -- webhooks ------------------------------------------------------------------


async def add_webhook(
    db: Database,
    box: SecretBox,
    hook_id: str,
    login: str,
    url: str,
    devices: list[str],
    secret: str,
) -> Webhook:
    async with db.session() as s, s.begin():
        row = Webhook(
            id=hook_id,
            login=login,
            url=url,
            devices=devices,
            secret=box.encrypt(secret),
            created=utcnow(),
        )
        s.add(row)
    return row


async def list_webhooks(db: Database) -> Sequence[Webhook]:
    async with db.session() as s:
        return (await s.scalars(select(Webhook).order_by(Webhook.created))).all()


async def remove_webhook(db: Database, hook_id: str, login: str) -> bool:
    async with db.session() as s, s.begin():
        result = await s.execute(
            delete(Webhook).where(Webhook.id == hook_id, Webhook.login == login)
        )
        return bool(getattr(result, "rowcount", 0))


# -- provisioning records ----------------------------------------------------


async def save_provisioned(
    db: Database,
    mac: str,
    vendor: str,
    ip: str,
    slot: str,
    written: dict[str, str],
    previous: dict[str, str | None],
    web_port: int = 80,
) -> None:
    """Record a push (with the web port, for a restart later); a push again
    to the same phone keeps the values from before the first one, so that a
    delete restores the phone as it was."""
    async with db.session() as s, s.begin():
        row = await s.get(Provisioned, mac)
        if row is None:
            s.add(
                Provisioned(
                    mac=mac,
                    vendor=vendor,
                    ip=ip,
                    web_port=web_port,
                    slot=slot,
                    written=written,
                    previous=previous,
                    at=utcnow(),
                )
            )
            return
        kept = dict(row.previous)
        for key, value in previous.items():
            kept.setdefault(key, value)
        row.vendor, row.ip, row.slot, row.at = vendor, ip, slot, utcnow()
        row.web_port = web_port
        row.written = {**row.written, **written}
        row.previous = kept


async def get_provisioned(db: Database, mac: str) -> Provisioned | None:
    async with db.session() as s:
        return await s.get(Provisioned, mac)


async def list_provisioned(db: Database) -> Sequence[Provisioned]:
    async with db.session() as s:
        return (await s.scalars(select(Provisioned).order_by(Provisioned.mac))).all()


async def remove_provisioned(db: Database, mac: str) -> bool:
    async with db.session() as s, s.begin():
        result = await s.execute(delete(Provisioned).where(Provisioned.mac == mac))
        return bool(getattr(result, "rowcount", 0))


def utcnow() -> datetime:
    from datetime import UTC

    return datetime.now(UTC)
