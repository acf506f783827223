"""Simulated phones as boxes on a network, for provisioning: each has its own
IP address, answers SIP OPTIONS on UDP 5060, sends the plug-and-play SUBSCRIBE
when it boots (snom, Yealink, Poly), serves its vendor's web interface
(``webui.py``) and keeps its settings.  At every (re)start it reads its
uaCSTA account from those settings with its own reading of each vendor's keys
(``sim/vendors.py``, not the tables provisioning writes with, so a provisioning
test compares two sources) and registers where they point, as a
real phone does; a Mitel phone first loads startup.cfg from its configuration
server.  A Gigaset N870 base registers one uaCSTA account per handset.

The devices come from a JSON file (``uacsta sim --devices FILE``)::

    [{"vendor": "snom", "mac": "000413000001", "ip": "10.0.0.11",
      "web_user": "admin", "web_password": "secret"}, ...]
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import logging
import secrets
import socket
import ssl
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx

from ..net.http import HttpService
from ..net.multicast import join_sip_mcast
from ..sip.datagram import SIP_MCAST, SIP_PORT, udp_request
from ..sip.errors import SipParseError
from ..sip.message import Request, build_response, parse_message
from .phone import USER_AGENTS, SimPhone, SimPhoneConfig
from .switch import SimSwitch
from .vendors import accounts, parse_aastra_cfg
from .webui import APPS

log = logging.getLogger("uacsta.sim")

MODELS = {  # (model as the web interface names it, firmware)
    "snom": ("D785", "10.1.54.13"),
    "yealink": ("SIP-T54W", "96.85.0.5"),
    "mitel": ("6869i", "5.1.0.1024"),
    "poly": ("VVX 411", "6.1.0.6189"),
    "auerswald": ("COMfortel 2600 IP", "2.8A"),
    "gigaset": ("N870 IP PRO", "2.39.0"),
}
PNP_VENDORS = {"snom": "snom", "yealink": "Yealink", "poly": "Polycom"}


@dataclass
class DeviceSpec:
    vendor: str
    mac: str
    ip: str
    model: str = ""
    firmware: str = ""
    web_user: str = "admin"
    web_password: str = "admin"
    web_port: int = 80
    numbers: list[str] = field(default_factory=list)  # lines on the PBX (the switch)
    handsets: int = 2  # Gigaset N870
    fault: str = ""  # "write": the web interface refuses every change
    answers_options: bool = True
    boot_seconds: float = 0.5
    settings: dict[str, str] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.mac = self.mac.upper()
        model, firmware = MODELS[self.vendor]
        self.model = self.model or model
        self.firmware = self.firmware or firmware


def _factory_settings(spec: DeviceSpec) -> dict[str, str]:
    """What a phone in use holds before provisioning: its PBX line in the
    first slot, so that provisioning must find an unused one."""
    n = spec.numbers[0] if spec.numbers else "200"
    by_vendor: dict[str, dict[str, str]] = {
        "snom": {
            "user_active1": "on",
            "user_name1": n,
            "user_host1": "pbx.invalid",
            "csta_control": "off",
            "csta_legacy_control": "1",
        },
        "yealink": {
            "account.1.enable": "1",
            "account.1.user_name": n,
            "account.1.sip_server.1.address": "pbx.invalid",
            "features.csta_control.enable": "0",
        },
        "poly": {"reg.1.address": n, "reg.1.server.1.address": "pbx.invalid"},
        "auerswald": {
            "provider.1.name": "PBX",
            "provider.1.domain": "pbx.invalid",
            "account.1.user": n,
            "account.1.provider": "1",
            "account.1.enabled": "1",
        },
        "gigaset": {"SipProvider.0.Name": "PBX", "SipProvider.0.Domain": "pbx.invalid"},
        "mitel": {
            "download protocol": "TFTP",
            "http server": "",
            "http port": "80",
            "http path": "",
        },
    }
    out = dict(by_vendor[spec.vendor])
    if spec.vendor == "gigaset":
        for h in range(1, spec.handsets + 1):
            out[f"Handset.{h}.Name"] = f"Handset {h}"
    return out


class _Udp(asyncio.DatagramProtocol):
    def __init__(self, handle: Any) -> None:
        self.handle = handle
        self.transport: asyncio.DatagramTransport | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: tuple[Any, ...]) -> None:
        self.handle(data, (str(addr[0]), int(addr[1])))


def _udp_socket(host: str, group_on: str | None = None) -> socket.socket:
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_BROADCAST, 1)
    sock.bind((host, SIP_PORT))
    if group_on is not None:
        join_sip_mcast(sock, group_on)
    else:
        sock.setsockopt(socket.IPPROTO_IP, socket.IP_MULTICAST_IF, socket.inet_aton(host))
    return sock


class SimDevice:
    def __init__(self, spec: DeviceSpec, switch: SimSwitch) -> None:
        self.spec = spec
        self.switch = switch
        self.settings: dict[str, str] = {**_factory_settings(spec), **spec.settings}
        self.loaded_config: dict[str, str] = {}  # Mitel: the files loaded at start
        self.trusted_ca = ""  # Yealink: the CA loaded by URL at start
        self.phones: list[SimPhone] = []
        self.boots = 0
        self.restarts_asked = 0  # reboots asked through the web interface
        self._udp: _Udp | None = None
        self._web: HttpService | None = None
        self._restart: asyncio.Task[None] | None = None

    @property
    def vendor(self) -> str:
        return self.spec.vendor

    @property
    def mac(self) -> str:
        return self.spec.mac

    @property
    def user_agent(self) -> str:
        return USER_AGENTS[self.vendor]

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        udp = self._udp = _Udp(self._datagram)
        await loop.create_datagram_endpoint(lambda: udp, sock=_udp_socket(self.spec.ip))
        self._web = HttpService(f"sim {self.mac}", APPS[self.vendor](self))
        await self._web.listen("web", "HTTP", self.spec.ip, self.spec.web_port, None)
        await self.boot()

    async def stop(self) -> None:
        if self._restart is not None:
            self._restart.cancel()
        await self._stop_phones()
        if self._web is not None:
            await self._web.stop()
        if self._udp is not None and self._udp.transport is not None:
            self._udp.transport.close()

    async def _stop_phones(self) -> None:
        for phone in self.phones:
            with contextlib.suppress(Exception):
                await phone.stop()
        self.phones = []

    def schedule_restart(self) -> None:
        """What the reboot button does: the answer goes out, then the phone restarts."""
        self.restarts_asked += 1
        if self._restart is None or self._restart.done():
            self._restart = asyncio.get_running_loop().create_task(self.restart())

    async def restart(self) -> None:
        log.info("%s: restarting", self.mac)
        await asyncio.sleep(0.1)
        await self._stop_phones()
        await asyncio.sleep(self.spec.boot_seconds)
        await self.boot()

    # -- booting ----------------------------------------------------------------------

    async def boot(self) -> None:
        self.boots += 1
        if self.vendor in PNP_VENDORS:
            self._send_pnp_subscribe()
        if self.vendor == "yealink":
            await self._load_trusted_certificates()
        if self.vendor == "mitel":
            await self._load_mitel_config()
            registrations = accounts("mitel", self.loaded_config, self.mac)
        else:
            registrations = accounts(self.vendor, self.settings, self.mac)
        for i, reg in enumerate(registrations):
            number = self._number(i)
            phone = SimPhone(
                SimPhoneConfig(
                    vendor=self.vendor,
                    mac=reg.user,
                    identities=[f"sip:{number}@uacsta-sim"],
                    password=reg.password,
                    server_host=reg.server,
                    server_port=reg.port,
                    tls=self._tls() if reg.tls else None,
                    expires=reg.expiry,
                    local_address=self.spec.ip,
                    backup_servers=reg.backups,
                )
            )
            self.switch.attach(phone)
            self.phones.append(phone)
            asyncio.get_running_loop().create_task(self._register(phone))
        log.info("%s: started, %d uaCSTA accounts", self.mac, len(registrations))

    def _number(self, i: int) -> str:
        numbers = self.spec.numbers or [f"{self.mac[-4:]}{i}"]
        return numbers[i] if i < len(numbers) else f"{numbers[0]}{i}"

    async def _register(self, phone: SimPhone) -> None:
        try:
            response = await phone.start()
            if response.status != 200:
                log.warning("%s: REGISTER answered %d", phone.mac, response.status)
        except (OSError, TimeoutError, ssl.SSLError) as exc:
            log.warning("%s: cannot register with %s: %s", phone.mac, phone.config.server_host, exc)

    def _tls(self) -> ssl.SSLContext:
        ctx = ssl.create_default_context()
        ca = self.settings.get("device.sec.TLS.customCaCert1", "") or self.trusted_ca
        if ca:
            ctx.load_verify_locations(cadata=ca)
            ctx.check_hostname = False
        else:  # as phones without a CA do: encrypt, trust anyone
            ctx.check_hostname = False
            ctx.verify_mode = ssl.CERT_NONE
        return ctx

    async def _fetch(self, url: str) -> str | None:
        """A file from a provisioning server, asked from the phone's own address."""
        transport = httpx.AsyncHTTPTransport(local_address=self.spec.ip)
        async with httpx.AsyncClient(
            transport=transport, timeout=5.0, trust_env=False, verify=False
        ) as http:
            try:
                r = await http.get(url)
            except httpx.HTTPError as exc:
                log.warning("%s: cannot load %s: %s", self.mac, url, exc)
                return None
        if r.status_code == 200:
            return r.text
        if r.status_code != 404:
            log.warning("%s: %s: HTTP %d %s", self.mac, url, r.status_code, r.text)
        return None

    async def _load_mitel_config(self) -> None:
        s = self.settings
        self.loaded_config = {}
        if s.get("download protocol") != "HTTP" or not s.get("http server"):
            return
        path = s.get("http path", "").strip("/")
        url = f"http://{s['http server']}:{s.get('http port') or 80}/{path + '/' if path else ''}"
        for name in ("startup.cfg", f"{self.mac}.cfg"):
            text = await self._fetch(url + name)
            if text is not None:
                self.loaded_config.update(parse_aastra_cfg(text))

    async def _load_trusted_certificates(self) -> None:
        """Yealink: ``trusted_certificates.url``, trusted when ``security.trust_certificates``."""
        url = self.settings.get("trusted_certificates.url", "")
        self.trusted_ca = ""
        if url and self.settings.get("security.trust_certificates") == "1":
            self.trusted_ca = await self._fetch(url) or ""

    # -- SIP on UDP: OPTIONS and plug-and-play -----------------------------------------

    def _send_pnp_subscribe(self) -> None:
        if self._udp is None or self._udp.transport is None:
            return
        ip, mac = self.spec.ip, self.mac
        aor = f"sip:{mac}@{SIP_MCAST}"
        event = (
            f'ua-profile;profile-type="device";vendor="{PNP_VENDORS[self.vendor]}";'
            f'model="{self.spec.model}";version="{self.spec.firmware}"'
        )
        request = udp_request(
            "SUBSCRIBE",
            aor,
            f"{ip}:{SIP_PORT}",
            aor,
            aor,
            [
                ("Contact", f"<sip:{mac}@{ip}:{SIP_PORT}>"),
                ("Event", event),
                ("Accept", "application/url"),
                ("Expires", "0"),
                ("User-Agent", self.user_agent),
            ],
        )
        with contextlib.suppress(OSError):
            self._udp.transport.sendto(request, (SIP_MCAST, SIP_PORT))

    def _datagram(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse_message(data)
        except (SipParseError, ValueError):
            return
        if isinstance(msg, Request) and msg.method == "OPTIONS":
            self.answer_options(msg, addr)

    def answer_options(self, req: Request, addr: tuple[str, int]) -> None:
        if not self.spec.answers_options or self._udp is None or self._udp.transport is None:
            return
        response = build_response(
            req,
            200,
            to_tag=secrets.token_hex(4),
            extra=[
                ("Contact", f"<sip:{self.spec.ip}:{SIP_PORT}>"),
                ("User-Agent", self.user_agent),
                ("Allow", "INVITE, ACK, CANCEL, BYE, REFER, OPTIONS, NOTIFY, SUBSCRIBE, INFO"),
                ("Accept", "application/sdp"),
            ],
        )
        with contextlib.suppress(OSError):
            self._udp.transport.sendto(response.to_bytes(), addr)


class SimDevices:
    """All devices of one simulator, and the socket that hears broadcast and
    multicast OPTIONS for them (each device answers from its own address)."""

    def __init__(self, specs: list[DeviceSpec], switch: SimSwitch | None = None) -> None:
        self.switch = switch or SimSwitch()
        self.devices = [SimDevice(spec, self.switch) for spec in specs]
        self._shared: asyncio.DatagramTransport | None = None

    async def start(self) -> None:
        if self.devices:
            sock = _udp_socket("0.0.0.0", group_on=self.devices[0].spec.ip)
            udp = _Udp(self._broadcast)
            await asyncio.get_running_loop().create_datagram_endpoint(lambda: udp, sock=sock)
            self._shared = udp.transport
        for device in self.devices:
            await device.start()

    def _broadcast(self, data: bytes, addr: tuple[str, int]) -> None:
        try:
            msg = parse_message(data)
        except (SipParseError, ValueError):
            return
        if isinstance(msg, Request) and msg.method == "OPTIONS":
            for device in self.devices:
                device.answer_options(msg, addr)

    async def stop(self) -> None:
        for device in self.devices:
            await device.stop()
        if self._shared is not None:
            self._shared.close()

    def phones(self) -> list[SimPhone]:
        return [p for d in self.devices for p in d.phones]


def load_specs(path: Path) -> list[DeviceSpec]:
    """The devices file; ValueError says which entry is wrong."""
    items = json.loads(path.read_text())
    if not isinstance(items, list):
        raise ValueError(f"{path}: a JSON list of devices expected")
    out = []
    for i, item in enumerate(items):
        try:
            out.append(DeviceSpec(**item))
        except (TypeError, KeyError) as exc:
            raise ValueError(f"{path}: device {i + 1}: {exc}") from None
    return out
