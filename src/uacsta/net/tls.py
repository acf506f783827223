"""Certificates: load the configured pair, or generate a local CA and a server
certificate for the host on first start (Yealink phones trust only uploaded
CAs, so the CA is what gets provisioned to phones)."""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
import ssl
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID


class CertificateError(Exception):
    pass


@dataclass(frozen=True)
class CertificatePaths:
    cert: Path
    key: Path
    ca: Path | None  # the local CA, when we generated the certificate


@dataclass(frozen=True)
class CertificateInfo:
    subject: str
    issuer: str
    not_before: dt.datetime
    not_after: dt.datetime
    sha256: str
    names: list[str]


def _write(path: Path, data: bytes, private: bool) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(path.suffix + ".tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600 if private else 0o644)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)
    os.replace(tmp, path)


def _key() -> rsa.RSAPrivateKey:
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _pem_key(key: rsa.RSAPrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def _san(names: list[str]) -> x509.SubjectAlternativeName:
    entries: list[x509.GeneralName] = []
    for name in dict.fromkeys(n for n in names if n):
        try:
            entries.append(x509.IPAddress(ipaddress.ip_address(name.strip("[]"))))
        except ValueError:
            entries.append(x509.DNSName(name))
    return x509.SubjectAlternativeName(entries)


def generate(
    folder: Path, host_name: str, extra_names: list[str] | None = None
) -> CertificatePaths:
    """A new local CA (10 years) and server certificate (2 years) in ``folder``."""
    now = dt.datetime.now(dt.UTC) - dt.timedelta(minutes=5)
    ca_key = _key()
    ca_name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "uacsta"),
            x509.NameAttribute(NameOID.COMMON_NAME, f"uacsta local CA {host_name}"[:64]),
        ]
    )
    ca_cert = (
        x509.CertificateBuilder()
        .subject_name(ca_name)
        .issuer_name(ca_name)
        .public_key(ca_key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=3650))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                key_cert_sign=True,
                crl_sign=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(ca_key.public_key()), False)
        .sign(ca_key, hashes.SHA256())
    )
    key = _key()
    names = [
        host_name,
        host_name.split(".")[0],
        "localhost",
        "127.0.0.1",
        "::1",
        *(extra_names or []),
    ]
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, host_name[:64])]))
        .issuer_name(ca_name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now)
        .not_valid_after(now + dt.timedelta(days=730))
        .add_extension(_san(names), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()), False
        )
        .sign(ca_key, hashes.SHA256())
    )
    paths = CertificatePaths(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    assert paths.ca is not None
    _write(folder / "ca.key", _pem_key(ca_key), private=True)
    _write(paths.ca, ca_cert.public_bytes(serialization.Encoding.PEM), private=False)
    _write(paths.key, _pem_key(key), private=True)
    # The chain (server + CA) so that phones that were given the CA can build it.
    _write(
        paths.cert,
        cert.public_bytes(serialization.Encoding.PEM)
        + ca_cert.public_bytes(serialization.Encoding.PEM),
        private=False,
    )
    return paths


def ensure(
    folder: Path,
    host_name: str,
    cert_file: str = "",
    key_file: str = "",
    extra_names: list[str] | None = None,
) -> tuple[CertificatePaths, bool]:
    """The certificate to use, and whether it was generated just now."""
    if cert_file:
        paths = CertificatePaths(Path(cert_file), Path(key_file), None)
        check_pair(paths.cert, paths.key)
        return paths, False
    paths = CertificatePaths(folder / "server.pem", folder / "server.key", folder / "ca.pem")
    if paths.cert.exists() and paths.key.exists():
        check_pair(paths.cert, paths.key)
        return paths, False
    return generate(folder, host_name, extra_names), True


def load_cert(path: Path) -> x509.Certificate:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise CertificateError(f"cannot read certificate {path}: {exc.strerror}") from None
    try:
        return x509.load_pem_x509_certificates(data)[0]
    except ValueError:
        raise CertificateError(f"{path} is not a PEM certificate") from None


def check_pair(cert_path: Path, key_path: Path) -> None:
    cert = load_cert(cert_path)
    try:
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except OSError as exc:
        raise CertificateError(f"cannot read key {key_path}: {exc.strerror}") from None
    except (ValueError, TypeError):
        raise CertificateError(f"{key_path} is not an unencrypted PEM private key") from None

    def spki(k: object) -> bytes:
        return k.public_bytes(  # type: ignore[attr-defined, no-any-return]
            serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
        )

    if spki(cert.public_key()) != spki(key.public_key()):
        raise CertificateError(f"the key {key_path} does not match the certificate {cert_path}")


def fingerprint(cert: x509.Certificate) -> str:
    return cert.fingerprint(hashes.SHA256()).hex(":").upper()


def info(path: Path) -> CertificateInfo:
    cert = load_cert(path)
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
        names = [str(v) for v in san.get_values_for_type(x509.DNSName)] + [
            str(v) for v in san.get_values_for_type(x509.IPAddress)
        ]
    except x509.ExtensionNotFound:
        names = []
    return CertificateInfo(
        subject=cert.subject.rfc4514_string(),
        issuer=cert.issuer.rfc4514_string(),
        not_before=cert.not_valid_before_utc,
        not_after=cert.not_valid_after_utc,
        sha256=fingerprint(cert),
        names=names,
    )


def tune_asyncio_tls_buffers(size: int = 16 * 1024) -> None:
    """Shrink the read buffer asyncio allocates for every TLS connection.

    CPython's ``asyncio.sslproto.SSLProtocol`` keeps a ``max_size`` (256 KiB)
    bytearray per connection for decrypted reads: 2.5 GiB for 10,000 phones.
    A TLS record carries at most 16 KiB, and a longer CSTA message just takes
    two reads: 16 KiB costs nothing but the memory we keep.
    """
    import asyncio.sslproto

    if getattr(asyncio.sslproto.SSLProtocol, "max_size", size) > size:
        asyncio.sslproto.SSLProtocol.max_size = size


def server_context(paths: CertificatePaths) -> ssl.SSLContext:
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        ctx.load_cert_chain(paths.cert, paths.key)
    except (OSError, ssl.SSLError) as exc:
        raise CertificateError(f"cannot load {paths.cert} / {paths.key}: {exc}") from None
    return ctx


class Certificates:
    """The TLS certificate the server uses, as the TLS settings name it or
    generated with a local CA in ``folder`` (shared by the phone, client and
    admin listeners, shown and renewed by the administrator)."""

    def __init__(self, folder: Path, host_name: str) -> None:
        self.folder = folder
        self.host_name = host_name
        self.paths: CertificatePaths | None = None

    def ensure(
        self, cert_file: str, key_file: str, extra_names: list[str]
    ) -> tuple[CertificatePaths, bool]:
        """Load (or generate) the certificate; True when generated just now."""
        self.paths, generated = ensure(
            self.folder, self.host_name, cert_file, key_file, extra_names
        )
        return self.paths, generated

    def context(self) -> ssl.SSLContext:
        if self.paths is None:
            raise CertificateError("no TLS certificate loaded")
        return server_context(self.paths)

    def ca_pem(self) -> str:
        ca = self.paths.ca if self.paths is not None else None
        return ca.read_text() if ca is not None and ca.exists() else ""

    def regenerate(self) -> CertificatePaths:
        """A new local CA and certificate (used from the next start of a service)."""
        return generate(self.folder, self.host_name)
