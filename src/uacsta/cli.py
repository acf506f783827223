"""The ``uacsta`` command."""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import signal
import sys
from collections.abc import Awaitable, Callable, Iterator
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar, cast

import click

from . import __version__
from .config import Config, ConfigError, load_config

T = TypeVar("T")


def _config(ctx: click.Context) -> Config:
    try:
        return load_config(ctx.obj.get("config_path"))
    except ConfigError as exc:
        raise click.ClickException(str(exc)) from None


def _run(coro: Awaitable[T]) -> T:
    from .runtime.loop import run

    return run(coro)  # type: ignore[arg-type]


async def _with_store(
    cfg: Config, fn: Callable[[Any], Awaitable[T]], *, reading: bool = False
) -> T:
    """``fn`` on the store.  A reading command on a data folder with no
    database says so instead of making an empty one (a wrong --config or
    UACSTA_DATA_DIR would otherwise show "no phones")."""
    from .store.db import Database, StoreError

    if reading and not cfg.database_url and not (cfg.data_dir / "uacsta.db").exists():
        raise click.ClickException(
            f"no uacsta database in {cfg.data_dir} (not started there yet? "
            "give the data folder with --config or UACSTA_DATA_DIR)"
        )
    cfg.data_dir.mkdir(parents=True, exist_ok=True)
    try:
        db = Database(cfg.db_url)
        await db.migrate()
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        return await fn(db)
    finally:
        await db.close()


async def _with_admin(
    cfg: Config, fn: Callable[[Any], Awaitable[T]], *, reading: bool = False
) -> T:
    """Run ``fn`` with the admin service the web UI uses, on the store alone
    (no server here): one validation rule per change, whichever face asks.
    A running server picks the stored change up within a second."""
    from .admin.service import AdminError, AdminParts, AdminService
    from .logs import LogManager
    from .net.tls import Certificates
    from .phones.directory import PhoneDirectory

    async def run(db: Any) -> T:
        directory = PhoneDirectory(db)
        await directory.load()
        parts = AdminParts(
            db,
            _box(cfg),
            cfg.realm,
            LogManager(cfg.data_dir / "logs"),
            Certificates(cfg.data_dir / "certs", cfg.host_name),
            directory,
        )
        try:
            return await fn(AdminService(parts))
        except AdminError as exc:
            raise click.ClickException(str(exc)) from None

    return await _with_store(cfg, run, reading=reading)


def _box(cfg: Config) -> Any:
    from .secrets_box import SecretBox

    return SecretBox(cfg.data_dir / "secret.key")


@click.group()
@click.version_option(__version__, prog_name="uacsta")
@click.option(
    "--config",
    "config_path",
    envvar="UACSTA_CONFIG",
    type=click.Path(dir_okay=False),
    help="TOML file with bootstrap settings (data_dir, database_url, host_name, realm).",
)
@click.pass_context
def main(ctx: click.Context, config_path: str | None) -> None:
    """uacsta: uaCSTA server for SIP desk phones."""
    ctx.ensure_object(dict)
    ctx.obj["config_path"] = config_path


# -- serve ----------------------------------------------------------------------------


@main.command()
@click.option(
    "--workers",
    type=click.IntRange(1, 64),
    default=None,
    help="Run N server processes on the phone and client ports, nodes of a cluster on "
    "NATS (a local nats-server unless cluster_url is set; docs/scaling.md).",
)
@click.pass_context
def serve(ctx: click.Context, workers: int | None) -> None:
    """Run the server (phone registrar over TCP and TLS) until stopped."""
    from .runtime.loop import LoopUnavailable, run

    cfg = _config(ctx)
    if workers is not None:
        from .runtime.workers import Supervisor, WorkerError

        try:
            asyncio.run(Supervisor(cfg, workers, ctx.obj.get("config_path")).run())
        except WorkerError as exc:
            raise click.ClickException(str(exc)) from None
        return
    with contextlib.suppress(KeyboardInterrupt):
        try:
            run(_serve(cfg), cfg.event_loop)
        except LoopUnavailable as exc:
            raise click.ClickException(str(exc)) from None


async def _serve(cfg: Config) -> None:
    from .net.sip_service import ListenerError
    from .net.systemd import Notifier
    from .net.tls import CertificateError
    from .server import UacstaServer
    from .store.db import StoreError
    from .store.repo import SettingsError

    try:
        server = UacstaServer(cfg)
    except StoreError as exc:
        raise click.ClickException(str(exc)) from None
    try:
        await server.start()
    except (
        StoreError,
        ListenerError,
        CertificateError,
        SettingsError,
        RuntimeError,
        ValueError,
    ) as exc:
        await server.stop()
        raise click.ClickException(str(exc)) from None
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    click.echo(_summary(server), err=True)
    notifier = Notifier()
    notifier.ready(f"running; data folder {cfg.data_dir}")
    await stop.wait()
    await notifier.stopping()
    await server.stop()


def _summary(server: Any) -> str:
    """What runs where, once the server is up; then what was generated."""
    from .runtime.loop import loop_name

    def where(item: Any, path: str = "/") -> str:
        if item.transport.startswith("HTTP"):  # also "HTTP (configuration server)"
            scheme = "https" if item.transport.startswith("HTTPS") else "http"
            return f"{scheme}://{item.host}:{item.port}{path}"
        return f"{item.transport} {item.host}:{item.port}"

    phones = server.phone_service.listening
    rows = [
        ("phones", ", ".join(where(i) for i in phones if i.transport in ("TCP", "TLS"))),
        (
            "Mitel startup.cfg",
            ", ".join(where(i) for i in phones if i.transport.startswith("HTTP"))
            or "off (provisioning options: HTTP port)",
        ),
        (
            "CTI clients",
            ", ".join(
                where(i, "/api/v1/")
                if i.transport.startswith("HTTP")
                else ("CSTA " if " CSTA " in f" {i.name} " else "SIP ") + where(i)
                for i in server.client_service.listening
            ),
        ),
        (
            "admin web UI",
            ", ".join(where(i) for i in server.admin_ui.listening) if server.admin_ui else "off",
        ),
        (
            "metrics, health",
            ", ".join(where(i, "/metrics") for i in server.admin_web.metrics.listening)
            if server.admin_web.metrics
            else (
                f"{where(server.admin_ui.listening[0], '/metrics')} (admin login)"
                if server.admin_ui and server.admin_ui.listening
                else "off"
            ),
        ),
        ("data folder", str(server.config.data_dir)),
        ("log", str(server.log_file)),
        ("event loop", loop_name()),
    ]
    lines = ["uacsta is running:"] + [f"  {name:<18} {value}" for name, value in rows]
    if server.notes.lines:
        lines += ["", *server.notes.lines]
        lines.append(
            f"(Also written to {server.notes.path}, readable by this user only: "
            "delete it once they are kept elsewhere.)"
        )
    return "\n".join(lines)


# -- the running server ---------------------------------------------------------


def _control(cfg: Config) -> Any:
    """An HTTP client for the running server on this data folder: its admin
    API, with the local token it wrote to control.json."""
    import httpx

    path = cfg.data_dir / "control.json"
    try:
        control = json.loads(path.read_text())
    except FileNotFoundError:
        raise click.ClickException(
            f"no uacsta server runs on the data folder {cfg.data_dir} (no {path.name}: it is "
            "written while a server with the admin web UI runs; see --config / UACSTA_DATA_DIR)"
        ) from None
    except (OSError, ValueError) as exc:
        raise click.ClickException(f"cannot read {path}: {exc}") from None
    return httpx.Client(
        base_url=control["url"],
        headers={"Authorization": f"Bearer {control['token']}"},
        verify=control.get("ca") or True,
        timeout=httpx.Timeout(10.0, read=None),
        trust_env=False,
    )


def _ask(cfg: Config, path: str) -> Any:
    import httpx

    with _control(cfg) as http:
        try:
            r = http.get(path)
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"the uacsta server of {cfg.data_dir} does not answer at {http.base_url} "
                f"({exc}); if it is stopped, its control.json is left over"
            ) from None
    if r.status_code >= 400:
        raise click.ClickException(r.json().get("detail", r.text) if r.content else r.reason_phrase)
    return r.json()


@main.command()
@click.option("--json", "as_json", is_flag=True, help="Print the status as JSON.")
@click.pass_context
def status(ctx: click.Context, as_json: bool) -> None:
    """The running server: services, phones by vendor, clients."""
    s = _ask(_config(ctx), "/api/status")
    if as_json:
        click.echo(json.dumps(s, indent=2))
        return
    click.echo(f"uacsta {s['version']}, started {str(s['started_at'])[:19].replace('T', ' ')}")
    for key, label in (("phone_service", "phone service"), ("client_service", "client service")):
        svc = s[key]
        where = ", ".join(f"{i['name']} {i['host']}:{i['port']}" for i in svc["listening"])
        click.echo(f"{label:<15} {'running' if svc['running'] else 'stopped'}  {where}")
    click.echo(
        f"phones          {s['phones_known']} known, {s['phones_registered']} registered, "
        f"{s['dialogs_up']} with a uaCSTA dialog"
    )
    for vendor, row in sorted(s.get("phones_by_vendor", {}).items()):
        click.echo(
            f"  {vendor:<13} {row['known']} known, {row['registered']} registered, "
            f"{row['controllable']} controllable"
        )
    c = s["client_service"]
    click.echo(
        f"clients         {c.get('clients', 0)} logged in ({c.get('clients_detached', 0)} "
        f"away), {c.get('monitors', 0)} monitors, {c.get('subscriptions', 0)} subscriptions"
    )
    click.echo(
        f"traffic         {c.get('events_per_second', 0)} events/s from the phones, "
        f"{c.get('requests_per_second', 0)} requests/s from clients (last minute)"
    )
    click.echo(
        f"event loop      {s.get('event_loop', '?')}, {s['loop_lag_ms']} ms late at worst "
        "in the last minute"
    )
    cluster = s.get("cluster")
    if cluster:
        click.echo(
            f"cluster         node {cluster['node']}, "
            f"{'connected' if cluster['connected'] else 'NOT connected'} to NATS, "
            f"{cluster['remote_phones']} phones on other nodes"
        )
        for node in cluster["nodes"]:
            health = "up" if node["alive"] else "DOWN"
            click.echo(
                f"  {node['name']:<13} {health}, {node['phones']} phones, "
                f"heard {node['heard_ago']} s ago{' (this node)' if node['this'] else ''}"
            )


@main.group()
def log() -> None:
    """The running server's log."""


@log.command("follow")
@click.option("--mac", "macs", multiple=True, help="Only this phone (again for more).")
@click.pass_context
def log_follow(ctx: click.Context, macs: tuple[str, ...]) -> None:
    """Print the log as it is written (Ctrl-C ends)."""

    wanted = ",".join(_mac_arg(m) for m in macs)
    for rec in _stream(_config(ctx), "/api/logs/follow", {"macs": wanted}):
        tag = rec.get("tag") or "-"
        ts = str(rec.get("ts", ""))[11:19]
        req = f" {rec['req']}" if rec.get("req") else ""
        click.echo(f"{ts} {rec.get('level', ''):<7} {tag:<12}{req} {rec.get('msg', '')}")


def _stream(cfg: Config, path: str, params: dict[str, Any]) -> Iterator[dict[str, Any]]:
    """The running server's NDJSON stream at ``path``, one object at a time,
    until it ends or Ctrl-C."""
    import httpx

    with _control(cfg) as http:
        try:
            with http.stream("GET", path, params=params, timeout=None) as r:
                if r.status_code >= 400:
                    r.read()
                    raise click.ClickException(r.json().get("detail", r.text))
                for line in r.iter_lines():
                    if line:
                        yield json.loads(line)
        except httpx.HTTPError as exc:
            raise click.ClickException(
                f"the uacsta server of {cfg.data_dir} does not answer at {http.base_url} ({exc})"
            ) from None
        except KeyboardInterrupt:
            return


@main.command("trace")
@click.argument("target")
@click.option("--seconds", type=float, default=60.0, show_default=True, help="Stop after this.")
@click.option("--messages", type=int, default=1000, show_default=True, help="Or after this many.")
@click.option("--full", is_flag=True, help="Print each message in full, CSTA decoded.")
@click.pass_context
def trace(ctx: click.Context, target: str, seconds: float, messages: int, full: bool) -> None:
    """Follow one phone's SIP and CSTA messages live, as a ladder: TARGET is
    its MAC or one of its devices (sip:201@pbx.example, 201)."""
    params = {"target": target, "seconds": seconds, "messages": messages}
    for entry in _stream(_config(ctx), "/api/trace", params):
        if "tracing" in entry:
            click.echo(f"tracing {entry['tracing']} for {seconds:g} s or {messages} messages")
            continue
        if "end" in entry:
            dropped = f", {entry['dropped']} dropped" if entry.get("dropped") else ""
            click.echo(f"trace ended: {entry['end']}{dropped}")
            continue
        at = datetime.fromtimestamp(float(entry["at"])).strftime("%H:%M:%S.%f")[:-3]
        click.echo(f"{at} {entry['from']:>14} -> {entry['to']:<14} {entry['name']}")
        if full:
            click.echo(entry["text"].rstrip())
            if entry.get("csta") is not None:
                click.echo(json.dumps(entry["csta"], indent=2))
            click.echo()


# -- phones ----------------------------------------------------------------------------


@main.group()
def phones() -> None:
    """The telephone list."""


@phones.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def phones_list(ctx: click.Context, as_json: bool) -> None:
    """List every phone known to the server."""
    from .store import repo

    rows = _run(_with_store(_config(ctx), repo.list_phones, reading=True))
    docs = [
        {
            "mac": p.mac,
            "vendor": p.vendor,
            "model": p.model,
            "firmware": p.firmware,
            "last_ip": p.last_ip,
            "last_identity": p.last_identity,
            "last_login": p.last_login.isoformat() if p.last_login else None,
            "status": p.status,
            "note": p.note,
            "enabled": p.enabled,
        }
        for p in rows
    ]
    if as_json:
        click.echo(json.dumps(docs, indent=2))
        return
    if not docs:
        click.echo("No phones yet: they appear here when they first register.")
        return
    header = (
        "MAC",
        "VENDOR",
        "MODEL",
        "LAST IP",
        "LAST IDENTITY",
        "LAST LOGIN",
        "STATUS",
        "ENABLED",
    )
    table = [header] + [
        (
            d["mac"],
            d["vendor"],
            d["model"],
            d["last_ip"],
            d["last_identity"],
            (str(d["last_login"]) or "")[:19],
            f"{d['status']} ({d['note']})" if d["note"] else d["status"],
            "yes" if d["enabled"] else "no",
        )
        for d in docs
    ]
    widths = [max(len(str(row[i])) for row in table) for i in range(len(header))]
    for row in table:
        click.echo("  ".join(str(v).ljust(w) for v, w in zip(row, widths, strict=True)).rstrip())


def _mac_arg(mac: str) -> str:
    from .vendors import typed_user

    user = typed_user(mac)
    if user is None:
        raise click.BadParameter(f"{mac!r} is not a MAC address or handset ID")
    return user


def _phone_change(ctx: click.Context, mac: str, action: str) -> None:
    mac = _mac_arg(mac)

    async def change(service: Any) -> None:
        if action == "remove":
            await service.remove_phone(mac)
        else:
            await service.set_enabled(mac, action == "enable")

    _run(_with_admin(_config(ctx), change))
    click.echo(f"phone {mac}: {action}d")


@phones.command("show")
@click.argument("mac")
@click.option("--json", "as_json", is_flag=True, help="Print it as JSON.")
@click.pass_context
def phones_show(ctx: click.Context, mac: str, as_json: bool) -> None:
    """One phone in the running server: lifecycle, registration, identities, monitors."""
    p = _ask(_config(ctx), f"/api/phones/{_mac_arg(mac)}")
    if as_json:
        click.echo(json.dumps(p, indent=2))
        return
    click.echo(f"{p['mac']}  {p.get('vendor', '')} {p.get('model', '')} {p.get('firmware', '')}")
    click.echo(
        f"  status       {p.get('status', '')}{'' if p.get('enabled', True) else ' (disabled)'}"
    )
    if "phase" in p:
        click.echo(f"  lifecycle    {p['phase']} ({p['phase_reason']}), attempts {p['attempts']}")
    reg = p.get("registration")
    click.echo(
        f"  registered   {reg['transport']} from {reg['peer']}, {reg['expires_in']} s left"
        if reg
        else "  registered   no"
    )
    for note in (p.get("note"), p.get("problem"), p.get("conflict")):
        if note:
            click.echo(f"  note         {note}")
    for ident in p.get("identities", []):
        extra = f", {ident['problem']}" if ident["problem"] else ""
        click.echo(
            f"  identity     {ident['device']}  monitor {ident['monitor']}, "
            f"{ident['subscribers']} clients{extra}"
        )


@phones.command("enable")
@click.argument("mac")
@click.pass_context
def phones_enable(ctx: click.Context, mac: str) -> None:
    """Put a phone into operation (controllable by clients)."""
    _phone_change(ctx, mac, "enable")


@phones.command("disable")
@click.argument("mac")
@click.pass_context
def phones_disable(ctx: click.Context, mac: str) -> None:
    """Take a phone out of operation (it may register, but is not controlled)."""
    _phone_change(ctx, mac, "disable")


@phones.command("remove")
@click.argument("mac")
@click.pass_context
def phones_remove(ctx: click.Context, mac: str) -> None:
    """Remove a phone from the telephone list."""
    _phone_change(ctx, mac, "remove")


# -- settings ----------------------------------------------------------------------------


@main.group()
def settings() -> None:
    """Runtime settings stored in the database."""


@settings.command("show")
@click.argument("section", required=False)
@click.pass_context
def settings_show(ctx: click.Context, section: str | None) -> None:
    """Show every settings section, or one."""
    from .settings import SECTIONS
    from .store import repo

    names = [section] if section else list(SECTIONS)

    async def show(db: Any) -> dict[str, Any]:
        return {n: (await repo.load_section(db, n)).model_dump(mode="json") for n in names}

    try:
        click.echo(json.dumps(_run(_with_store(_config(ctx), show, reading=True)), indent=2))
    except repo.SettingsError as exc:
        raise click.ClickException(str(exc)) from None


@settings.command("set")
@click.argument("pairs", nargs=-1, required=True)
@click.pass_context
def settings_set(ctx: click.Context, pairs: tuple[str, ...]) -> None:
    """Set SECTION.NAME to VALUE, e.g. advanced.sip_expiration 600; several
    KEY VALUE pairs at once are stored together or not at all.

    Connection settings take effect when the phone service restarts."""
    if len(pairs) % 2:
        raise click.UsageError("give KEY VALUE pairs (an even number of arguments)")
    wanted = list(zip(pairs[::2], pairs[1::2], strict=True))

    async def change(service: Any) -> Any:
        return await service.set_paths(wanted)

    result = _run(_with_admin(_config(ctx), change))
    shown = {section: model.model_dump(mode="json") for section, model in result.items()}
    click.echo(json.dumps(shown if len(shown) > 1 else next(iter(shown.values())), indent=2))


@settings.command("export")
@click.option(
    "--output", "-o", type=click.Path(dir_okay=False), help="A file instead of standard output."
)
@click.pass_context
def settings_export(ctx: click.Context, output: str | None) -> None:
    """Every runtime settings section as TOML, for version control or another
    server (`settings import` reads it back; passwords are not settings)."""
    import tomli_w

    async def export(service: Any) -> Any:
        return await service.export_settings()

    text = tomli_w.dumps(_run(_with_admin(_config(ctx), export, reading=True)))
    header = '# uacsta runtime settings (uacsta settings import FILE); "off": turned off\n'
    if output:
        Path(output).write_text(header + text)
        click.echo(f"settings written to {output}", err=True)
    else:
        click.echo(header + text, nl=False)


@settings.command("import")
@click.argument("file", type=click.Path(exists=True, dir_okay=False))
@click.pass_context
def settings_import(ctx: click.Context, file: str) -> None:
    """Store the settings of a TOML file (whole sections or some settings of
    them): all checked first, stored together or not at all."""
    import tomllib

    try:
        document = tomllib.loads(Path(file).read_text())
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise click.ClickException(f"{file} is not TOML: {exc}") from None

    async def load(service: Any) -> Any:
        return await service.import_settings(document)

    stored = _run(_with_admin(_config(ctx), load))
    click.echo(f"settings stored: {', '.join(stored) or 'none'}")


# -- passwords ----------------------------------------------------------------------------


@main.group()
def admin() -> None:
    """Accounts of the admin web UI."""


def _admin_password(name: str, value: str | None) -> str:
    if value is None:
        value = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    from .settings import client_password_problem

    problem = client_password_problem(value or "")
    if problem:
        raise click.ClickException(problem)
    return value or ""


def _admin_change(ctx: click.Context, change: Callable[[Any], Awaitable[None]]) -> None:
    from .admin.auth import AccountError, AdminAuth
    from .store.repo import SettingsError

    async def run(db: Any) -> None:
        await change(AdminAuth(db))

    try:
        _run(_with_store(_config(ctx), run))
    except (AccountError, ValueError, SettingsError) as exc:
        raise click.ClickException(str(exc)) from None


@admin.command("create")
@click.argument("name")
@click.option("--password", "value", help="The password (prompted for when omitted).")
@click.pass_context
def admin_create(ctx: click.Context, name: str, value: str | None) -> None:
    """Add an admin account (an existing name is refused: use 'admin password')."""
    secret = _admin_password(name, value)
    _admin_change(ctx, lambda auth: auth.create(name, secret))
    click.echo(f"admin account {name} created")


@admin.command("password")
@click.argument("name")
@click.option("--password", "value", help="The new password (prompted for when omitted).")
@click.pass_context
def admin_password(ctx: click.Context, name: str, value: str | None) -> None:
    """Change the password of an existing admin account."""
    secret = _admin_password(name, value)
    _admin_change(ctx, lambda auth: auth.change_password(name, secret))
    click.echo(f"admin account {name}: password changed")


@admin.command("remove")
@click.argument("name")
@click.pass_context
def admin_remove(ctx: click.Context, name: str) -> None:
    """Remove an admin account (not the last one); its sessions end."""
    _admin_change(ctx, lambda auth: auth.remove(name))
    click.echo(f"admin account {name} removed")


@main.group()
def password() -> None:
    """Passwords of the phones and of client logins."""


@password.command("phone")
@click.option("--password", "value", help="The new password (prompted for when omitted).")
@click.pass_context
def password_phone(ctx: click.Context, value: str | None) -> None:
    """Set the password every phone uses to register (its user name is its MAC)."""
    if value is None:
        value = click.prompt("Phone password", hide_input=True, confirmation_prompt=True)
    password = value or ""

    async def change(service: Any) -> None:
        await service.set_phone_password(password)

    _run(_with_admin(_config(ctx), change))
    click.echo("phone password changed (a running server picks it up within a second)")


@password.command("client")
@click.argument("name")
@click.option("--password", "value", help="The new password (prompted for when omitted).")
@click.option("--allow", multiple=True, help="Devices this client may use (default: all).")
@click.option("--remove", is_flag=True, help="Remove this client login.")
@click.pass_context
def password_client(
    ctx: click.Context, name: str, value: str | None, allow: tuple[str, ...], remove: bool
) -> None:
    """Add a client login or change its password."""
    cfg = _config(ctx)
    if remove:
        _run(_with_admin(cfg, lambda service: service.remove_client(name)))
        click.echo(f"client login {name} removed")
        return
    if value is None:
        value = click.prompt(f"Password for {name}", hide_input=True, confirmation_prompt=True)
    secret = value or ""
    allowed = list(allow) or None
    _run(_with_admin(cfg, lambda service: service.set_client(name, secret, allowed)))
    click.echo(f"client login {name} saved")


# -- certificates ----------------------------------------------------------------------------


@main.group()
def cert() -> None:
    """The TLS certificate of the phone and client connections."""


def _cert_paths(cfg: Config) -> Any:
    from .net import tls
    from .settings import TlsSettings
    from .store import repo

    async def load(db: Any) -> Any:
        return await repo.load_section(db, "tls")

    tls_settings = cast(TlsSettings, _run(_with_store(cfg, load)))
    folder = cfg.data_dir / "certs"
    try:
        return tls.ensure(folder, cfg.host_name, tls_settings.cert_file, tls_settings.key_file)
    except tls.CertificateError as exc:
        raise click.ClickException(str(exc)) from None


@cert.command("show")
@click.pass_context
def cert_show(ctx: click.Context) -> None:
    """Show the certificate in use (generating one on first use)."""
    from .net import tls

    paths, _ = _cert_paths(_config(ctx))
    _print_cert("Server certificate", paths.cert)
    if paths.ca:
        _print_cert("Local CA (give this to the phones)", paths.ca)
    else:
        click.echo(f"key: {paths.key}")
    _ = tls


def _print_cert(title: str, path: Path) -> None:
    from .net import tls

    info = tls.info(path)
    click.echo(f"{title}: {path}")
    click.echo(f"  subject:  {info.subject}")
    click.echo(f"  issuer:   {info.issuer}")
    click.echo(f"  valid:    {info.not_before:%Y-%m-%d} to {info.not_after:%Y-%m-%d}")
    click.echo(f"  SHA-256:  {info.sha256}")
    if info.names:
        click.echo(f"  names:    {', '.join(info.names)}")


@cert.command("regenerate")
@click.pass_context
def cert_regenerate(ctx: click.Context) -> None:
    """Generate a new local CA and server certificate (restart the service to use them)."""

    async def regenerate(service: Any) -> Any:
        return await service.regenerate_certificate()

    paths = _run(_with_admin(_config(ctx), regenerate))
    _print_cert("New server certificate", paths.cert)
    if paths.ca:
        _print_cert("New local CA (give this to the phones)", paths.ca)


# -- provisioning -------------------------------------------------------------------


@main.group()
def provision() -> None:
    """Find telephones, provide them with the uaCSTA account, delete it (manual 3.5.1).

    Runs from this machine with the stored provisioning options; flags
    override them for this run only.  Mitel phones load startup.cfg from the
    running server's configuration server."""


def _provisioner(cfg: Config, db: Any) -> Any:
    from .provisioning.provisioner import Provisioner

    return Provisioner(db, _box(cfg), lambda: _ca_text(cfg))


def _ca_text(cfg: Config) -> str:
    ca = cfg.data_dir / "certs" / "ca.pem"
    return ca.read_text() if ca.exists() else ""


def _report(kind: str, payload: object) -> None:
    if kind == "progress":
        click.echo(str(payload), err=True)


def _addresses(values: tuple[str, ...]) -> list[str]:
    from .provisioning.discovery import expand_targets

    try:
        return expand_targets(" ".join(values))
    except ValueError as exc:
        raise click.BadParameter(str(exc), param_hint="ADDRESSES") from None


@provision.command("find")
@click.option("--interface", "local_ip", help="This host's IP address to search from.")
@click.option(
    "--address",
    "addresses",
    multiple=True,
    help="Also ask these addresses: IP, range a-b, or network a/n (repeatable).",
)
@click.option("--duration", default=3.0, show_default=True, type=click.FloatRange(0.5, 120))
@click.option("--web-user", help="User name of the phones' web interface.")
@click.option("--web-password", help="Password of the phones' web interface.")
@click.option("--json", "as_json", is_flag=True, help="Print JSON instead of a table.")
@click.pass_context
def provision_find(
    ctx: click.Context,
    local_ip: str | None,
    addresses: tuple[str, ...],
    duration: float,
    web_user: str | None,
    web_password: str | None,
    as_json: bool,
) -> None:
    """Find telephones: SIP OPTIONS to the interface's network and to
    sip.mcast.net, plug-and-play SUBSCRIBEs of booting phones, and the
    addresses given; each identified by its SIP answer and web interface."""
    import dataclasses

    from .provisioning.network import local_interfaces

    cfg = _config(ctx)
    targets = _addresses(addresses) if addresses else []
    if local_ip is None and not targets:
        raise click.UsageError("give --interface to search from, or --address")
    if local_ip is not None and local_ip not in {i.ip for i in local_interfaces()}:
        known = ", ".join(f"{i.ip} ({i.name})" for i in local_interfaces())
        raise click.BadParameter(f"{local_ip} is not an address of this host; known: {known}")

    async def work(db: Any) -> Any:
        from .provisioning.provisioner import WebLogins

        prov = _provisioner(cfg, db)
        if web_user is not None or web_password is not None:
            stored = (await prov.web_logins()).common
            given = WebLogins((web_user or stored[0], web_password or stored[1]), {})
            prov.web_logins = _fixed_logins(given)
        return await prov.find(local_ip, targets, duration, _report)

    found = _run(_with_store(cfg, work))
    if as_json:
        click.echo(json.dumps([dataclasses.asdict(s) for s in found], indent=2))
        return
    for s in found:
        click.echo(
            f"{s.ip:<16} {s.vendor or '?':<10} {s.model or '?':<18} {s.firmware or '?':<14} "
            f"{s.mac or '?':<13} {s.source}"
        )


def _fixed_logins(given: Any) -> Callable[[], Awaitable[Any]]:
    async def logins() -> Any:
        return given

    return logins


def _provision_options(f: Callable[..., Any]) -> Callable[..., Any]:
    decorators: list[Callable[[Any], Any]] = [
        click.argument("addresses", nargs=-1, required=True),
        click.option("--vendor", help="Vendor of all the phones (default: asked of each)."),
        click.option("--web-port", default=80, show_default=True, type=click.IntRange(1, 65535)),
        click.option("--web-user", help="User name of the phones' web interface."),
        click.option("--web-password", help="Password of the phones' web interface."),
        click.option("--restart/--no-restart", default=None, help="Restart the phones."),
        click.option("--transport", type=click.Choice(["TCP", "TLS"])),
        click.option("--interface", "iface", type=click.Choice(["lan", "wan"])),
        click.option("--server-address", help="Address the phones register with."),
        click.option(
            "--second-server",
            help="Where they register when it does not answer: host or host:port "
            "(Yealink, Poly; another node of a cluster).",
        ),
        click.option("--json", "as_json", is_flag=True, help="Print JSON results."),
        click.pass_context,
    ]
    for decorate in reversed(decorators):
        f = decorate(f)
    return f


def _provision_run(ctx: click.Context, action: str, **kw: Any) -> None:
    import dataclasses

    from .provisioning.provisioner import Target

    cfg = _config(ctx)
    vendor = kw["vendor"] or ""
    targets = [Target(ip, vendor, "", kw["web_port"]) for ip in _addresses(kw["addresses"])]
    names = {
        "web_user": "web_user",
        "web_password": "web_password",
        "restart": "restart",
        "transport": "transport",
        "iface": "interface",
        "server_address": "server_address",
        "second_server": "second_server",
    }
    overrides = {field: kw[flag] for flag, field in names.items() if kw[flag] is not None}

    async def work(db: Any) -> Any:
        prov = _provisioner(cfg, db)
        return await getattr(prov, action)(targets, _report, overrides)

    from pydantic import ValidationError

    try:
        outcomes = _run(_with_store(cfg, work))
    except ValidationError as exc:
        from .store.repo import format_validation_error

        raise click.ClickException(format_validation_error(exc)) from None
    if kw["as_json"]:
        click.echo(json.dumps([dataclasses.asdict(o) for o in outcomes], indent=2))
    else:
        for o in outcomes:
            click.echo(f"{o.ip:<16} {o.vendor or '?':<10} {o.mac or '?':<13} {o.state}: {o.detail}")
    if not all(o.ok for o in outcomes):
        sys.exit(1)


@provision.command("push")
@_provision_options
def provision_push(ctx: click.Context, **kw: Any) -> None:
    """Provide the telephones at ADDRESSES (IPs, ranges a-b, networks a/n) with the
    uaCSTA account through their web interfaces; each gets its own result."""
    _provision_run(ctx, "push", **kw)


@provision.command("delete")
@_provision_options
def provision_delete(ctx: click.Context, **kw: Any) -> None:
    """Delete provisioning: remove exactly what provisioning wrote to the telephones."""
    _provision_run(ctx, "delete", **kw)


# -- the phone simulator ---------------------------------------------------------------------


@main.command()
@click.option(
    "--server",
    default="127.0.0.1:5060",
    show_default=True,
    help="The uacsta server's phone connection, HOST:PORT.",
)
@click.option("--tls", "use_tls", is_flag=True, help="Connect over TLS.")
@click.option(
    "--ca",
    type=click.Path(exists=True, dir_okay=False),
    help="CA certificate to check the server with (TLS).",
)
@click.option("--phones", default=10, show_default=True, type=click.IntRange(1, 100000))
@click.option(
    "--vendors",
    default="snom,yealink,mitel,poly,auerswald,gigaset",
    show_default=True,
    help="Comma-separated vendor profiles, used in turn.",
)
@click.option("--password", help="The phone password of the server (not with --devices).")
@click.option("--ramp", default=100.0, show_default=True, help="Phones started per second.")
@click.option("--duration", type=float, help="Seconds to run (default: until Ctrl-C).")
@click.option(
    "--csta-challenge",
    type=click.IntRange(0, 2),
    default=0,
    help="snom phones challenge the server's uaCSTA requests (0, 1, 2).",
)
@click.option(
    "--calls-per-second",
    type=click.FloatRange(0, 10000),
    default=0.0,
    help="Phones call each other at this rate (answered after a ring), for event load.",
)
@click.option(
    "--call-seconds",
    type=click.FloatRange(0, 3600),
    default=5.0,
    show_default=True,
    help="How long each such call lasts.",
)
@click.option(
    "--control",
    metavar="HOST:PORT",
    help="Serve the by-hand control interface (JSON over HTTP) here, e.g. 127.0.0.1:8070.",
)
@click.option(
    "--external",
    type=click.Choice(["answer", "busy", "never"]),
    default="answer",
    show_default=True,
    help="What the party outside does when a phone calls a number starting with 0.",
)
@click.option(
    "--external-delay",
    type=click.FloatRange(0, 3600),
    default=2.0,
    show_default=True,
    help="Seconds the outside party rings before it answers.",
)
@click.option(
    "--devices",
    "devices_file",
    type=click.Path(exists=True, dir_okay=False, path_type=Path),
    help="JSON file of phones as network devices (own IP, web interface, not yet "
    "provided) for provisioning; the other phone options are then unused.",
)
def sim(
    server: str,
    use_tls: bool,
    ca: str | None,
    phones: int,
    vendors: str,
    password: str,
    ramp: float,
    duration: float | None,
    csta_challenge: int,
    calls_per_second: float,
    call_seconds: float,
    control: str | None,
    external: str,
    external_delay: float,
    devices_file: Path | None,
) -> None:
    """Simulate uaCSTA desk phones against a uacsta server."""
    import ssl as ssl_module

    if devices_file is not None:
        if control or calls_per_second:
            raise click.UsageError("--control and --calls-per-second are not for --devices")
        _sim_devices(devices_file, duration)
        return
    if not password:
        raise click.BadParameter("the server's phone password is needed", param_hint="--password")

    from .config import split_listen
    from .sim.runner import PREFIXES, SimOptions, run

    host, _, port_text = server.rpartition(":")
    if not host or not (port_text.isascii() and port_text.isdigit()):
        raise click.BadParameter("give HOST:PORT", param_hint="--server")
    names = [v.strip() for v in vendors.split(",") if v.strip()]
    unknown = [v for v in names if v not in PREFIXES]
    if unknown or not names:
        raise click.BadParameter(
            f"unknown vendor(s) {', '.join(unknown) or '(none)'}; "
            f"known: {', '.join(sorted(PREFIXES))}",
            param_hint="--vendors",
        )
    context = None
    if use_tls:
        context = ssl_module.create_default_context(cafile=ca)
        if ca is None:
            context = ssl_module.create_default_context()
    opts = SimOptions(
        host=host,
        port=int(port_text),
        password=password,
        phones=phones,
        vendors=names,
        tls=context,
        ramp=ramp,
        duration=duration,
        csta_challenge=csta_challenge,
        external=external,
        external_delay=external_delay,
        calls_per_second=calls_per_second,
        call_seconds=call_seconds,
    )
    if control:
        try:
            opts.control = split_listen(control)
        except ValueError as exc:
            raise click.BadParameter(str(exc), param_hint="--control") from None
    click.echo(
        f"uacsta sim: {phones} phones ({', '.join(names)}) against {server}"
        f"{' over TLS' if use_tls else ''}, {ramp:g} a second",
        err=True,
    )

    def progress(now: Any) -> None:
        click.echo(now.progress(phones), err=True)

    try:
        result = _run(run(opts, on_progress=progress))
    except KeyboardInterrupt:  # interrupted before the phones' report could be made
        return
    if result.interrupted:
        click.echo("interrupted: the phones were stopped", err=True)
    click.echo(result.line())
    for line in result.explain(phones):
        click.echo(line, err=True)
    if result.registered < result.started:
        sys.exit(1)


def _sim_devices(path: Path, duration: float | None) -> None:
    from .net.sip_service import ListenerError
    from .sim.device import SimDevices, load_specs

    try:
        specs = load_specs(path)
    except (ValueError, OSError) as exc:
        raise click.BadParameter(str(exc), param_hint="--devices") from None

    # What each device does (boots, uaCSTA accounts found, restarts) on stderr.
    handler = logging.StreamHandler()
    handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(message)s"))
    sim_log = logging.getLogger("uacsta.sim")
    sim_log.addHandler(handler)
    sim_log.setLevel(logging.INFO)

    async def run() -> str:
        devices = SimDevices(specs)
        try:
            await devices.start()
        except (ListenerError, OSError) as exc:
            await devices.stop()
            raise click.ClickException(f"cannot start the simulated phones: {exc}") from None
        click.echo(f"{len(specs)} simulated phones up", err=True)
        try:
            if duration is None:
                await asyncio.Event().wait()
            else:
                await asyncio.sleep(duration)
        finally:
            registered = sum(p.registered for p in devices.phones())
            await devices.stop()
        return f"phones {len(specs)}, uaCSTA accounts registered {registered}"

    with contextlib.suppress(KeyboardInterrupt):
        click.echo(_run(run()))


if __name__ == "__main__":  # pragma: no cover
    sys.exit(main())
