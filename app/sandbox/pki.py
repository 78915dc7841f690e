"""The sandbox's development PKI: a CA, a server certificate, client certificates carrying an OIN.

PKIoverheid certificates carry the organisation's OIN in the subject's `serialNumber`; the dev
client certificates do the same, so the token endpoint can compare the OIN of the connection with
the OIN in the requested scope exactly as RvIG does. A second, unrelated "foreign" CA issues client
certificates the sandbox must refuse.

Everything lives in `<state_dir>/pki/` and is generated on first use, then reused: calling
`ensure_dev_pki` again changes nothing unless a file is missing, expired or no longer issued by the
current CA. Private keys are written 0600 and never read by anything but the sandbox and its
clients. A file lock serialises concurrent generation by several processes. This module never
logs key material.
"""

from __future__ import annotations

import datetime as dt
import fcntl
import ipaddress
import os
import ssl
import tempfile
from collections.abc import Iterable, Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import msgspec
import structlog
from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

__all__ = [
    "ClientIdentity",
    "DevPki",
    "ensure_dev_pki",
    "oin_of_certificate",
    "peer_oin",
]

_log = structlog.get_logger("app.sandbox.pki")

_CA_DAYS = 3650
_LEAF_DAYS = 825
# Regenerate a certificate this long before it expires, so a running sandbox never serves an
# expired one.
_RENEW_BEFORE = dt.timedelta(days=7)
_SERVER_NAMES = ("localhost", "127.0.0.1", "::1")


class ClientIdentity(msgspec.Struct, frozen=True):
    """A client certificate and its key (PEM files)."""

    oin: str
    cert: Path
    key: Path

    def ssl_context(self, trusted_ca: Path) -> ssl.SSLContext:
        """A client TLS context presenting this certificate and trusting `trusted_ca` for the server.

        Pass it as `httpx.Client(verify=context)` (httpx 0.28 takes the client certificate only
        through the context).
        """
        context = ssl.create_default_context(cafile=str(trusted_ca))
        context.load_cert_chain(str(self.cert), str(self.key))
        return context


class DevPki(msgspec.Struct, frozen=True):
    """Paths of the dev PKI in the state folder."""

    directory: Path
    ca_cert: Path
    server_cert: Path
    server_key: Path
    token_signing_key: Path
    foreign_ca_cert: Path
    clients: Mapping[str, ClientIdentity]
    foreign_clients: Mapping[str, ClientIdentity]

    def client(self, oin: str) -> ClientIdentity:
        """The dev-CA client certificate for an OIN (`KeyError` if none was generated)."""
        return self.clients[oin]

    def foreign_client(self, oin: str) -> ClientIdentity:
        """A client certificate for the same OIN issued by the foreign CA (must be refused)."""
        return self.foreign_clients[oin]

    def client_context(self, oin: str) -> ssl.SSLContext:
        """A TLS context for a client of the sandbox with the dev certificate of `oin`."""
        return self.client(oin).ssl_context(self.ca_cert)


def ensure_dev_pki(
    state_dir: Path, oins: Iterable[str], server_names: Iterable[str] = _SERVER_NAMES
) -> DevPki:
    """Create (or reuse) the dev PKI under `<state_dir>/pki/` with client certificates for `oins`."""
    directory = state_dir / "pki"
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    oin_list = list(dict.fromkeys(oins))
    with _locked(directory / ".lock"):
        ca = _ensure_ca(directory, "BRP Broker Sandbox Dev CA")
        foreign = _ensure_ca(directory / "foreign", "Foreign Test CA (not trusted by the sandbox)")
        server_cert, server_key = _ensure_server(directory, ca, tuple(server_names))
        clients = {oin: _ensure_client(directory, ca, oin) for oin in oin_list}
        foreign_clients = {oin: _ensure_client(directory / "foreign", foreign, oin) for oin in oin_list}
        signing_key = _ensure_key(directory / "token-signing.key")
    return DevPki(
        directory=directory,
        ca_cert=ca.cert_path,
        server_cert=server_cert,
        server_key=server_key,
        token_signing_key=signing_key,
        foreign_ca_cert=foreign.cert_path,
        clients=clients,
        foreign_clients=foreign_clients,
    )


def oin_of_certificate(pem: str | bytes) -> str | None:
    """The OIN in a certificate's subject `serialNumber` (PKIoverheid convention), if any."""
    data = pem.encode() if isinstance(pem, str) else pem
    try:
        cert = x509.load_pem_x509_certificate(data)
    except ValueError:
        return None
    values = cert.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    value = values[0].value if values else None
    return value if isinstance(value, str) and value.isdigit() and len(value) == 20 else None


def peer_oin(scope: Mapping[str, Any]) -> str | None:
    """The OIN of the TLS client certificate of this ASGI connection, if the server reported one.

    Reads the ASGI TLS extension (`scope["extensions"]["tls"]["client_cert_chain"]`), which the
    sandbox's uvicorn protocol fills in; without it there is no verified peer and no OIN.
    """
    tls = (scope.get("extensions") or {}).get("tls") or {}
    chain = tls.get("client_cert_chain") or ()
    return oin_of_certificate(chain[0]) if chain else None


class _Ca(msgspec.Struct, frozen=True):
    cert_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


def _ensure_ca(directory: Path, common_name: str) -> _Ca:
    directory.mkdir(parents=True, exist_ok=True, mode=0o700)
    cert_path, key_path = directory / "ca.pem", directory / "ca.key"
    existing = _load_pair(cert_path, key_path)
    if existing is not None and _is_fresh(existing[0]):
        return _Ca(cert_path=cert_path, cert=existing[0], key=existing[1])
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "brp-broker sandbox"),
            x509.NameAttribute(NameOID.COMMON_NAME, common_name),
        ]
    )
    builder = (
        _base_builder(name, name, key.public_key(), _CA_DAYS)
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(_key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    cert = builder.sign(key, hashes.SHA256())
    _write_key(key_path, key)
    _write_cert(cert_path, cert)
    _log.info("dev_pki_ca_created", directory=str(directory))
    return _Ca(cert_path=cert_path, cert=cert, key=key)


def _ensure_server(directory: Path, ca: _Ca, names: tuple[str, ...]) -> tuple[Path, Path]:
    cert_path, key_path = directory / "server.pem", directory / "server.key"
    existing = _load_pair(cert_path, key_path)
    if existing is not None and _is_valid_leaf(existing[0], ca) and _covers(existing[0], names):
        return cert_path, key_path
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    builder = (
        _leaf_builder(subject, ca, key)
        .add_extension(x509.SubjectAlternativeName([_general_name(n) for n in names]), critical=False)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
    )
    _write_key(key_path, key)
    _write_cert(cert_path, builder.sign(ca.key, hashes.SHA256()))
    return cert_path, key_path


def _ensure_client(directory: Path, ca: _Ca, oin: str) -> ClientIdentity:
    cert_path, key_path = directory / f"client-{oin}.pem", directory / f"client-{oin}.key"
    existing = _load_pair(cert_path, key_path)
    if existing is None or not _is_valid_leaf(existing[0], ca):
        key = ec.generate_private_key(ec.SECP256R1())
        # PKIoverheid: the OIN is the subject serialNumber; O and CN name the organisation.
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.COUNTRY_NAME, "NL"),
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, f"Sandbox organisatie {oin}"),
                x509.NameAttribute(NameOID.SERIAL_NUMBER, oin),
                x509.NameAttribute(NameOID.COMMON_NAME, f"sandbox-client-{oin}"),
            ]
        )
        builder = _leaf_builder(subject, ca, key).add_extension(
            x509.ExtendedKeyUsage([ExtendedKeyUsageOID.CLIENT_AUTH]), critical=False
        )
        _write_key(key_path, key)
        _write_cert(cert_path, builder.sign(ca.key, hashes.SHA256()))
    return ClientIdentity(oin=oin, cert=cert_path, key=key_path)


def _ensure_key(path: Path) -> Path:
    if path.exists():
        try:
            serialization.load_pem_private_key(path.read_bytes(), password=None)
        except ValueError:
            pass
        else:
            return path
    _write_key(path, ec.generate_private_key(ec.SECP256R1()))
    return path


def _leaf_builder(subject: x509.Name, ca: _Ca, key: ec.EllipticCurvePrivateKey) -> x509.CertificateBuilder:
    return (
        _base_builder(subject, ca.cert.subject, key.public_key(), _LEAF_DAYS)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(_key_usage(cert_sign=False), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca.key.public_key()), critical=False
        )
    )


def _base_builder(
    subject: x509.Name, issuer: x509.Name, public_key: ec.EllipticCurvePublicKey, days: int
) -> x509.CertificateBuilder:
    now = dt.datetime.now(dt.UTC)
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        # Backdated a little so a client with a slightly slow clock accepts it at once.
        .not_valid_before(now - dt.timedelta(hours=1))
        .not_valid_after(now + dt.timedelta(days=days))
    )


def _key_usage(*, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=True,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=not cert_sign,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _general_name(name: str) -> x509.GeneralName:
    try:
        return x509.IPAddress(ipaddress.ip_address(name))
    except ValueError:
        return x509.DNSName(name)


def _covers(cert: x509.Certificate, names: tuple[str, ...]) -> bool:
    try:
        san = cert.extensions.get_extension_for_class(x509.SubjectAlternativeName).value
    except x509.ExtensionNotFound:
        return False
    present = {str(v) for v in san.get_values_for_type(x509.DNSName)}
    present |= {str(v) for v in san.get_values_for_type(x509.IPAddress)}
    return all(str(_general_name(n).value) in present for n in names)


def _is_fresh(cert: x509.Certificate) -> bool:
    return cert.not_valid_after_utc - _RENEW_BEFORE > dt.datetime.now(dt.UTC)


def _is_valid_leaf(cert: x509.Certificate, ca: _Ca) -> bool:
    if not _is_fresh(cert):
        return False
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _load_pair(cert_path: Path, key_path: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey] | None:
    if not (cert_path.exists() and key_path.exists()):
        return None
    try:
        cert = x509.load_pem_x509_certificate(cert_path.read_bytes())
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
    except ValueError:
        return None
    if not isinstance(key, ec.EllipticCurvePrivateKey) or cert.public_key() != key.public_key():
        return None
    return cert, key


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    pem = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    )
    _atomic_write(path, pem, mode=0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    _atomic_write(path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)


def _atomic_write(path: Path, data: bytes, mode: int) -> None:
    # mkstemp creates the file 0600 before any byte is written, so a key is never world-readable,
    # not even for a moment; the rename makes the new file appear whole or not at all.
    fd, tmp = tempfile.mkstemp(dir=path.parent, prefix=f".{path.name}.")
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


@contextmanager
def _locked(lock_path: Path) -> Iterator[None]:
    with lock_path.open("a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
