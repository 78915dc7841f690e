"""OIN identities: a PKIoverheid certificate and key, turned once into an `ssl.SSLContext`.

The context presents the certificate to RvIG (mTLS) and trusts only the configured CA bundle.
At start the certificate must carry the configured OIN in its subject's `serialNumber` (as
PKIoverheid certificates do), so a wrong mount is caught before the first request. This module
never reads the private key for anything but handing it to OpenSSL, and never logs it.
"""

from __future__ import annotations

import datetime as dt
import ssl

import msgspec
import structlog
from cryptography import x509
from cryptography.x509.oid import NameOID

from app.upstream.config import IdentityConfig

__all__ = ["IdentityError", "OinIdentity", "load_identity"]

_log = structlog.get_logger("app.upstream.identities")


class IdentityError(Exception):
    """An identity cannot be used; the message names the identity and the problem."""


class OinIdentity(msgspec.Struct, frozen=True):
    """A loaded identity: its OIN, the TLS context for its connections, and its validity."""

    name: str
    oin: str
    ssl_context: ssl.SSLContext
    not_after: dt.datetime
    expiry_warning_days: int

    def days_left(self, now: dt.datetime | None = None) -> int:
        """Whole days until the certificate expires (negative once expired)."""
        moment = now or dt.datetime.now(dt.UTC)
        return (self.not_after - moment).days

    def expires_soon(self, now: dt.datetime | None = None) -> bool:
        """Whether the certificate is within its warning period (or expired)."""
        return self.days_left(now) < self.expiry_warning_days


def load_identity(config: IdentityConfig) -> OinIdentity:
    """Load and check one identity; raise `IdentityError` when it cannot be used."""
    certificate = _read_certificate(config)
    oin = _oin_of(certificate)
    if oin != config.oin:
        raise IdentityError(
            f"identity {config.name}: the certificate carries OIN {oin or '(none)'}, not {config.oin}"
        )
    context = ssl.create_default_context(
        cafile=str(config.ca_bundle) if config.ca_bundle is not None else None
    )
    context.minimum_version = ssl.TLSVersion.TLSv1_2
    try:
        context.load_cert_chain(str(config.certificate), str(config.private_key))
    except ssl.SSLError as exc:
        # The certificate was read above: the key is no PEM key, encrypted, or another certificate's.
        raise IdentityError(
            f"identity {config.name}: private key {config.private_key} is unusable with certificate "
            f"{config.certificate} ({exc.reason or 'not a PEM private key'})"
        ) from None
    except OSError as exc:
        raise IdentityError(
            f"identity {config.name}: cannot read private key {config.private_key} ({exc.strerror or exc})"
        ) from None
    identity = OinIdentity(
        name=config.name,
        oin=config.oin,
        ssl_context=context,
        not_after=certificate.not_valid_after_utc,
        expiry_warning_days=config.expiry_warning_days,
    )
    if identity.expires_soon():
        _log.warning("certificate_expires_soon", identity=config.name, days_left=identity.days_left())
    return identity


def _read_certificate(config: IdentityConfig) -> x509.Certificate:
    try:
        return x509.load_pem_x509_certificate(config.certificate.read_bytes())
    except OSError as exc:
        raise IdentityError(
            f"identity {config.name}: cannot read certificate {config.certificate} ({exc.strerror})"
        ) from None
    except ValueError:
        raise IdentityError(
            f"identity {config.name}: {config.certificate} is not a PEM certificate"
        ) from None


def _oin_of(certificate: x509.Certificate) -> str | None:
    values = certificate.subject.get_attributes_for_oid(NameOID.SERIAL_NUMBER)
    return str(values[0].value) if values else None
