"""The uacsta command as an administrator uses it: clear messages, non-zero exits."""

from __future__ import annotations

import json
import re
import socket
from pathlib import Path

import pytest
from click.testing import CliRunner, Result

from tests.helpers.process import UacstaProcess
from uacsta.cli import main


@pytest.fixture
def cli(tmp_path: Path) -> UacstaProcess:
    proc = UacstaProcess(tmp_path / "data")
    proc.data_dir.mkdir()
    return proc


class InProcess:
    """The same commands through click's runner: the CLI code without a new
    interpreter per call, for the many validation cases."""

    def __init__(self, data_dir: Path, monkeypatch: pytest.MonkeyPatch) -> None:
        monkeypatch.setenv("UACSTA_DATA_DIR", str(data_dir))
        monkeypatch.delenv("UACSTA_CONFIG", raising=False)
        self.runner = CliRunner()

    def cli(self, *args: str, check: bool = True) -> Result:
        result = self.runner.invoke(main, list(args))
        if check and result.exit_code != 0:
            raise AssertionError(f"uacsta {' '.join(args)} failed: {result.output}")
        return result


@pytest.fixture
def fast_cli(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> InProcess:
    """A data folder with its database, as after a first start."""
    import asyncio

    from uacsta.store.db import Database

    (tmp_path / "data").mkdir()

    async def create() -> None:
        db = Database(f"sqlite+aiosqlite:///{tmp_path / 'data' / 'uacsta.db'}")
        await db.migrate()
        await db.close()

    asyncio.run(create())
    return InProcess(tmp_path / "data", monkeypatch)


@pytest.mark.parametrize(
    ("key", "value", "message"),
    [
        ("phone_connection.lan.tcp_port", "70000", "less than or equal to 65535"),
        ("phone_connection.lan.tls_port", "5060", "cannot share a port"),
        ("phone_connection.lan.address", "not-an-ip", "is not an IP address"),
        ("advanced.sip_expiration", "5", "greater than or equal to 60"),
        ("advanced.keepalive", "99999", "less than or equal to 3600"),
        ("diagnostics.mac_filter", "AABBCCDDEEFF, nope", "'nope' is not a MAC address"),
        ("diagnostics.log_level", "CHATTY", "log_level"),
        ("advanced.no_such_thing", "1", "unknown setting"),
        ("nosection.x", "1", "unknown settings section"),
    ],
)
def test_bad_settings_are_refused_and_change_nothing(
    fast_cli: InProcess, key: str, value: str, message: str
) -> None:
    before = fast_cli.cli("settings", "show").output
    result = fast_cli.cli("settings", "set", key, value, check=False)
    assert result.exit_code != 0
    assert message in result.output, result.output
    assert fast_cli.cli("settings", "show").output == before


def test_several_settings_are_stored_together_or_not_at_all(fast_cli: InProcess) -> None:
    before = fast_cli.cli("settings", "show").output
    # the second pair is wrong: the first, valid on its own, is not stored either
    result = fast_cli.cli(
        "settings",
        "set",
        "advanced.sip_expiration",
        "900",
        "phone_connection.lan.tcp_port",
        "70000",
        check=False,
    )
    assert result.exit_code != 0
    assert "phone_connection.lan.tcp_port" in result.output, result.output
    assert fast_cli.cli("settings", "show").output == before
    fast_cli.cli("settings", "set", "advanced.sip_expiration", "900", "advanced.keepalive", "45")
    shown = json.loads(fast_cli.cli("settings", "show", "advanced").output)["advanced"]
    assert (shown["sip_expiration"], shown["keepalive"]) == (900, 45)
    odd = fast_cli.cli("settings", "set", "advanced.keepalive", check=False)
    assert odd.exit_code != 0 and "KEY VALUE pairs" in odd.output


def test_settings_round_trip(fast_cli: InProcess) -> None:
    fast_cli.cli("settings", "set", "diagnostics.mac_filter", "aabbccddeeff,001122334455")
    fast_cli.cli("settings", "set", "advanced.sip_expiration", "600")
    shown = json.loads(fast_cli.cli("settings", "show").output)
    assert shown["diagnostics"]["mac_filter"] == ["AABBCCDDEEFF", "001122334455"]
    assert shown["advanced"]["sip_expiration"] == 600
    assert shown["phone_connection"]["lan"]["tcp_port"] == 5060


def test_phone_commands_on_unknown_phone(fast_cli: InProcess) -> None:
    result = fast_cli.cli("phones", "disable", "000413AABBCC", check=False)
    assert result.exit_code != 0 and "no telephone '000413AABBCC'" in result.output
    bad = fast_cli.cli("phones", "enable", "xyz", check=False)
    assert bad.exit_code != 0 and "not a MAC address" in bad.output
    assert "No phones yet" in fast_cli.cli("phones", "list").output


def test_port_in_use_is_a_clear_error(cli: UacstaProcess) -> None:
    cli.configure("pw-1234567")
    with socket.socket() as busy:
        busy.bind(("127.0.0.1", cli.tcp_port))
        busy.listen()
        result = cli.cli("serve", check=False)  # fails at start, so it returns
    assert result.returncode != 0
    assert f"phone LAN TCP port {cli.tcp_port} on 127.0.0.1 is already in use" in result.stderr


def test_bad_database_url(cli: UacstaProcess) -> None:
    cli.env["UACSTA_DATABASE_URL"] = "mysql://x/y"
    result = cli.cli("phones", "list", check=False)
    assert result.returncode != 0 and "unsupported database 'mysql'" in result.stderr
    cli.env["UACSTA_DATABASE_URL"] = "sqlite+aiosqlite:////nonexistent/folder/x.db"
    result = cli.cli("phones", "list", check=False)
    assert result.returncode != 0 and "does not exist" in result.stderr


def test_unreadable_or_mismatched_certificate(cli: UacstaProcess, tmp_path: Path) -> None:
    cli.configure("pw-1234567")
    cli.cli("settings", "set", "tls.cert_file", str(tmp_path / "missing.pem"), check=False)
    result = cli.cli("settings", "set", "tls.key_file", str(tmp_path / "missing.key"), check=False)
    assert result.returncode != 0  # set one at a time: the pair rule refuses it
    result = cli.cli(
        "settings",
        "set",
        "tls",
        json.dumps(
            {"cert_file": str(tmp_path / "missing.pem"), "key_file": str(tmp_path / "missing.key")}
        ),
        check=False,
    )
    assert result.returncode != 0 and "SECTION.NAME" in result.stderr
    # a real certificate with another certificate's key
    from uacsta.net import tls

    a = tls.generate(tmp_path / "a", "a.example")
    b = tls.generate(tmp_path / "b", "b.example")
    env_db = cli.data_dir / "uacsta.db"
    assert env_db.exists()
    import asyncio

    from uacsta.store import repo
    from uacsta.store.db import Database

    async def put(cert: str, key: str) -> None:
        db = Database(f"sqlite+aiosqlite:///{env_db}")
        await repo.save_section(db, "tls", {"cert_file": cert, "key_file": key})
        await db.close()

    asyncio.run(put(str(a.cert), str(b.key)))
    result = cli.cli("serve", check=False)
    assert result.returncode != 0 and "does not match the certificate" in result.stderr
    asyncio.run(put(str(tmp_path / "missing.pem"), str(a.key)))
    result = cli.cli("cert", "show", check=False)
    assert result.returncode != 0 and "cannot read certificate" in result.stderr


def test_cert_show_and_client_password(fast_cli: InProcess) -> None:
    out = fast_cli.cli("cert", "show").output
    assert "Local CA" in out and "SHA-256" in out
    fast_cli.cli("password", "client", "crm-dialer", "--password", "dialer-pw-1")
    bad = fast_cli.cli("password", "client", "bad name", "--password", "dialer-pw-1", check=False)
    assert bad.exit_code != 0 and "not a valid client login name" in bad.output
    # one rule for the CLI and the admin UI: at least 8 characters for a client
    short = fast_cli.cli("password", "client", "crm-dialer", "--password", "pw", check=False)
    assert short.exit_code != 0 and "at least 8 characters" in short.output
    phone = fast_cli.cli("password", "phone", "--password", "abcd", check=False)
    assert phone.exit_code != 0 and "at least 10 characters" in phone.output
    assert fast_cli.cli("password", "client", "crm-dialer", "--remove").exit_code == 0


def test_admin_accounts(fast_cli: InProcess) -> None:
    def cli(*args: str) -> tuple[int, str]:
        result = fast_cli.cli("admin", *args, check=False)
        return result.exit_code, result.output

    assert cli("create", "ops", "--password", "ops-Password-1") == (
        0,
        "admin account ops created\n",
    )
    # an existing name is not silently given a new password
    code, out = cli("create", "ops", "--password", "other-Password-1")
    assert code != 0 and "exists; change its password with 'uacsta admin password ops'" in out
    code, out = cli("password", "ops", "--password", "ops-Password-2")
    assert code == 0 and "password changed" in out
    code, out = cli("password", "nobody", "--password", "ops-Password-2")
    assert code != 0 and "no admin account 'nobody'" in out
    code, out = cli("create", "x", "--password", "short")
    assert code != 0 and "at least 8 characters" in out
    assert cli("create", "backup", "--password", "backup-Password-1")[0] == 0
    assert cli("remove", "ops")[0] == 0
    code, out = cli("remove", "ops")
    assert code != 0 and "no admin account 'ops'" in out
    # the last account stays: nobody could administer the server otherwise
    code, out = cli("remove", "backup")
    assert code != 0 and "the last admin account" in out


def test_first_start_prints_the_admin_password_once(cli: UacstaProcess) -> None:
    import re
    import urllib.request

    cli.configure("phone-Password-1")
    cli.configure_clients("crm", "crm-Password-1")
    cli.start()
    try:
        import time

        deadline = time.monotonic() + 10
        while "Admin web UI account" not in cli.output() and time.monotonic() < deadline:
            time.sleep(0.1)
        found = re.search(
            r"Admin web UI account 'admin', password \(shown once[^)]*\): (\S+)", cli.output()
        )
        assert found, cli.output()
        request = urllib.request.Request(f"http://127.0.0.1:{cli.admin_port}/api/status")
        import base64

        token = base64.b64encode(f"admin:{found.group(1)}".encode()).decode()
        request.add_header("Authorization", f"Basic {token}")
        with urllib.request.urlopen(request, timeout=5) as response:
            status = json.loads(response.read())
        assert status["phone_service"]["running"] is True
        assert status["event_loop"] == "asyncio", status
        assert found.group(1) not in (cli.data_dir / "logs" / "uacsta.log").read_text()
        # the summary says what runs where
        out = cli.output()
        assert f"TCP 127.0.0.1:{cli.tcp_port}, TLS 127.0.0.1:{cli.tls_port}" in out, out
        assert f"admin web UI       http://127.0.0.1:{cli.admin_port}/" in out, out
        assert f"SIP TCP 127.0.0.1:{cli.client_sip_port}" in out, out
        assert f"CSTA TCP 127.0.0.1:{cli.client_csta_port}" in out, out
        assert f"data folder        {cli.data_dir}" in out, out
        # asyncio's loop by default (runtime/loop.py says why)
        assert re.search(r"event loop +asyncio\n", out), out
        # what was generated is kept for the owner only, in the data folder
        kept = cli.data_dir / "first-start.txt"
        assert kept.stat().st_mode & 0o777 == 0o600
        assert found.group(1) in kept.read_text()
        assert str(kept) in out
    finally:
        cli.stop()
    cli.env["UACSTA_EVENT_LOOP"] = "uvloop"  # the other loop, when chosen
    cli.start()  # the second start makes no new account and prints nothing
    try:
        # the notes are printed before the line that says it runs
        deadline = time.monotonic() + 10
        while "uacsta is running" not in cli.output() and time.monotonic() < deadline:
            time.sleep(0.05)
        assert "uacsta is running" in cli.output(), cli.output()
        assert cli.output().count("Admin web UI account") == 0
        assert re.search(r"event loop +uvloop \d", cli.output()), cli.output()
    finally:
        cli.stop()


def test_admin_port_in_use_says_how_to_move_it(cli: UacstaProcess) -> None:
    cli.configure("phone-Password-1")
    holder = socket.socket()
    holder.bind(("127.0.0.1", cli.admin_port))
    holder.listen()
    try:
        result = cli.cli("serve", check=False)
        assert result.returncode != 0
        assert f"admin WEB UI HTTP port {cli.admin_port} on 127.0.0.1 is already in use" in (
            result.stderr
        )
        assert "UACSTA_ADMIN_LISTEN" in result.stderr
    finally:
        holder.close()


def test_settings_export_and_import_round_trip(fast_cli: InProcess, tmp_path: Path) -> None:
    import tomllib

    fast_cli.cli(
        "settings",
        "set",
        "advanced.sip_expiration",
        "900",
        "phone_connection.lan.tls_port",
        "null",
        "diagnostics.mac_filter",
        "000413AABBCC",
    )
    exported = tmp_path / "settings.toml"
    fast_cli.cli("settings", "export", "--output", str(exported))
    document = tomllib.loads(exported.read_text())
    assert document["advanced"]["sip_expiration"] == 900
    assert document["phone_connection"]["lan"]["tls_port"] == "off"  # TOML has no null
    assert "password" not in exported.read_text().lower()
    before = fast_cli.cli("settings", "show").output
    # another server: other values, then the file brings them back
    fast_cli.cli(
        "settings", "set", "advanced.sip_expiration", "600", "phone_connection.lan.tls_port", "5071"
    )
    result = fast_cli.cli("settings", "import", str(exported))
    assert "settings stored: " in result.output
    assert fast_cli.cli("settings", "show").output == before


def test_a_bad_import_changes_nothing(fast_cli: InProcess, tmp_path: Path) -> None:
    before = fast_cli.cli("settings", "show").output
    part = tmp_path / "part.toml"
    # a valid section and a wrong one: neither is stored
    part.write_text(
        "[advanced]\nsip_expiration = 900\n\n[phone_connection.lan]\ntcp_port = 70000\n"
    )
    result = fast_cli.cli("settings", "import", str(part), check=False)
    assert result.exit_code != 0 and "[phone_connection]" in result.output, result.output
    assert "less than or equal to 65535" in result.output
    unknown = tmp_path / "unknown.toml"
    unknown.write_text("[advanced]\nsip_expiration = 900\n[nosuch]\nx = 1\n")
    result = fast_cli.cli("settings", "import", str(unknown), check=False)
    assert result.exit_code != 0 and "unknown settings section 'nosuch'" in result.output
    broken = tmp_path / "broken.toml"
    broken.write_text("[advanced\n")
    result = fast_cli.cli("settings", "import", str(broken), check=False)
    assert result.exit_code != 0 and "is not TOML" in result.output
    assert fast_cli.cli("settings", "show").output == before


def test_serve_tells_the_service_manager_when_it_is_ready(
    cli: UacstaProcess, tmp_path: Path
) -> None:
    """Type=notify: READY=1 once every listener is up, STOPPING=1 at the end."""
    address = str(tmp_path / "notify")
    with socket.socket(socket.AF_UNIX, socket.SOCK_DGRAM) as manager:
        manager.bind(address)
        manager.settimeout(30)
        cli.env["NOTIFY_SOCKET"] = address
        cli.configure("phone-Password-1")
        cli.start()
        try:
            ready = manager.recv(4096).decode()
            assert ready.startswith("READY=1\nSTATUS=running"), ready
            assert "uacsta is running" in cli.output()  # the listeners were up before it
        finally:
            cli.stop()
        assert manager.recv(4096).decode() == "STOPPING=1"


def test_reading_a_data_folder_without_a_database_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    wrong = InProcess(tmp_path / "typo", monkeypatch)
    for args in (("phones", "list"), ("settings", "show"), ("settings", "export")):
        result = wrong.cli(*args, check=False)
        assert result.exit_code != 0 and "no uacsta database in" in result.output, args
    assert not (tmp_path / "typo").exists()  # nothing was made there
    result = wrong.cli("status", check=False)
    assert result.exit_code != 0 and "no uacsta server runs on the data folder" in result.output


def test_the_operator_cli_asks_the_running_server(cli: UacstaProcess) -> None:
    import asyncio
    import subprocess
    import sys
    import time

    from uacsta.sim.phone import SimPhone, SimPhoneConfig

    cli.configure("phone-Password-1")
    cli.start()
    follow = subprocess.Popen(
        [sys.executable, "-m", "uacsta", "log", "follow", "--mac", "00:04:13:00:07:01"],
        env=cli.env,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    phone = SimPhone(
        SimPhoneConfig(
            "snom",
            "000413000701",
            ["sip:701@pbx.example"],
            "phone-Password-1",
            "127.0.0.1",
            cli.tcp_port,
        )
    )

    async def register() -> None:
        for _ in range(50):  # log follow connects meanwhile
            if follow.poll() is not None:
                break
            await asyncio.sleep(0.1)
            if (cli.data_dir / "control.json").exists():
                break
        assert (await phone.start()).status == 200
        for _ in range(100):
            if phone.dialog is not None:
                return
            await asyncio.sleep(0.05)

    try:
        loop = asyncio.new_event_loop()
        loop.run_until_complete(register())
        deadline = time.monotonic() + 15
        status = cli.cli("status").stdout
        while "1 controllable" not in status and time.monotonic() < deadline:
            loop.run_until_complete(asyncio.sleep(0.2))  # the phone's session runs meanwhile
            status = cli.cli("status").stdout
        assert "phone service   running" in status, status
        assert "snom" in status and "1 controllable" in status, status
        assert "events/s from the phones" in status, status
        shown = cli.cli("phones", "show", "000413000701").stdout
        assert "lifecycle    up" in shown, shown
        assert "identity     sip:701@pbx.example  monitor none" in shown, shown
        missing = cli.cli("phones", "show", "000413FFFFFF", check=False)
        assert missing.returncode != 0 and "no telephone '000413FFFFFF'" in missing.stderr
        # the phone's messages live, as a ladder, ending after the two asked for
        trace = subprocess.Popen(
            [sys.executable, "-m", "uacsta", "trace", "00:04:13:00:07:01", "--messages", "2"],
            env=cli.env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
        )
        assert trace.stdout is not None
        first = trace.stdout.readline()
        assert "tracing 000413000701 for 60 s or 2 messages" in first, first
        assert (loop.run_until_complete(phone.register())).status == 200
        rest, _ = trace.communicate(timeout=30)
        assert re.search(r"phone -> server\s+REGISTER", rest), rest
        assert re.search(r"server -> phone\s+401 Unauthorized \(REGISTER\)", rest), rest
        assert rest.rstrip().endswith("trace ended: message limit reached"), rest
        unknown = cli.cli("trace", "sip:999@nowhere", check=False)
        assert unknown.returncode != 0 and "no phone or device" in unknown.stderr
        # the followed log shows this phone's lines, as they are written
        assert follow.stdout is not None
        seen = ""
        deadline = time.monotonic() + 20
        while "000413000701" not in seen and time.monotonic() < deadline:
            seen = follow.stdout.readline()
        assert "000413000701" in seen, seen
    finally:
        follow.terminate()
        follow.wait(10)
        loop.run_until_complete(phone.stop())
        loop.close()
        cli.stop()
    assert not (cli.data_dir / "control.json").exists()  # removed at the stop
    after = cli.cli("status", check=False)
    assert after.returncode != 0 and "no uacsta server runs" in after.stderr
