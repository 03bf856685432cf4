"""Who runs a local command: a person's certificate (proven by its key), or the OS account.

Commands that change governed state on a node (promoting a model, granting consent) record
their actor from something the runner holds, never from a free-text flag:

- :func:`certified_person` loads ``cert.pem`` and ``key.pem`` from a certificate directory,
  checks that the key belongs to the certificate (possession of the key is the proof), that the
  certificate was issued by the node's CA and is within its validity period, and that its role
  and organisation are the ones the command needs. Every failure is a clear
  :class:`~models.errors.FedCreditError` that names the file, never a traceback.
- :func:`os_account` is the login name of the process's effective user id (from the password
  database, not from ``$USER``, which the caller can set to anything).
"""

from __future__ import annotations

import datetime as dt
import os
from collections.abc import Iterable
from pathlib import Path

from models.errors import FedCreditError, InvalidArgument, PermissionDenied, Unauthenticated
from models.federation.party import Caller

CERT_FILE = "cert.pem"
KEY_FILE = "key.pem"


def os_account() -> str:
    """The login name of the effective user (``uid-N`` when it has no passwd entry)."""
    try:
        import pwd

        return pwd.getpwuid(os.geteuid()).pw_name
    except (ImportError, KeyError):  # pragma: no cover - not POSIX, or no passwd entry
        return f"uid-{os.geteuid()}" if hasattr(os, "geteuid") else "unknown"


def _read(path: Path, what: str) -> bytes:
    try:
        return path.read_bytes()
    except FileNotFoundError:
        raise InvalidArgument(f"{what} not found: {path}") from None
    except IsADirectoryError:
        raise InvalidArgument(f"{what} is a directory, not a file: {path}") from None
    except PermissionError:
        raise InvalidArgument(f"{what} is not readable by this account: {path}") from None
    except OSError:
        raise InvalidArgument(f"{what} could not be read: {path}") from None


def certified_person(
    cert_dir: Path,
    ca_path: Path,
    *,
    roles: Iterable[str],
    organisation: str | None = None,
    now: dt.datetime | None = None,
) -> Caller:
    """The identity in ``cert_dir`` (``cert.pem`` + ``key.pem``), checked against ``ca_path``.

    Parameters
    ----------
    cert_dir
        A person's certificate directory from ``fedcredit pki init|issue``.
    ca_path
        The CA bundle of the node the command acts on (its config's ``pki_dir/ca.pem``).
    roles
        Roles (certificate OU) allowed to run the command.
    organisation
        The party the person must belong to (certificate O), e.g. the bank.

    Returns
    -------
    Caller
        ``party`` = ``<organisation>/<name>``, ``role`` and the certificate's SHA-256
        fingerprint, exactly as the node's TLS interceptor would identify the same certificate.
    """
    from cryptography import x509
    from cryptography.exceptions import InvalidSignature
    from cryptography.hazmat.primitives import serialization

    from proto.transport.tls import cert_identity

    cert_dir = Path(cert_dir)
    if not cert_dir.is_dir():
        raise InvalidArgument(f"certificate directory not found: {cert_dir}")
    cert_pem = _read(cert_dir / CERT_FILE, "certificate")
    key_pem = _read(cert_dir / KEY_FILE, "private key")
    ca_pem = _read(Path(ca_path), "CA certificate")
    try:
        cert = x509.load_pem_x509_certificate(cert_pem)
    except ValueError:
        raise InvalidArgument(f"not a PEM certificate: {cert_dir / CERT_FILE}") from None
    try:
        ca = x509.load_pem_x509_certificate(ca_pem)
    except ValueError:
        raise InvalidArgument(f"not a PEM certificate: {ca_path}") from None
    try:
        key = serialization.load_pem_private_key(key_pem, password=None)
    except TypeError:
        raise InvalidArgument(f"the private key is encrypted: {cert_dir / KEY_FILE}") from None
    except ValueError:
        raise InvalidArgument(f"not a PEM private key: {cert_dir / KEY_FILE}") from None
    der = serialization.Encoding.DER
    spki = serialization.PublicFormat.SubjectPublicKeyInfo
    if key.public_key().public_bytes(der, spki) != cert.public_key().public_bytes(der, spki):
        raise Unauthenticated(f"the private key does not belong to {cert_dir / CERT_FILE}")
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        raise Unauthenticated(
            f"{cert_dir / CERT_FILE} was not issued by the CA {ca_path}"
        ) from None
    when = now or dt.datetime.now(dt.UTC)
    if not cert.not_valid_before_utc <= when <= cert.not_valid_after_utc:
        raise Unauthenticated(
            f"the certificate is expired or not yet valid: {cert_dir / CERT_FILE}"
        )
    person = cert_identity(cert_pem)
    allowed = tuple(roles)
    if person.role not in allowed:
        raise PermissionDenied(
            f"this command needs a certificate with the role {' or '.join(allowed)}; "
            f"{cert_dir / CERT_FILE} has the role {person.role}"
        )
    if organisation is not None and not person.party.startswith(f"{organisation}/"):
        raise PermissionDenied(f"{cert_dir / CERT_FILE} does not belong to {organisation}")
    return person


def operator_identity(node_party: str, node_cert: Path | None = None) -> Caller:
    """The operator running a local command on a node: ``<node>/<OS account>``, role
    ``operator``, with the fingerprint of the node's certificate it acts under (if readable).
    """
    fingerprint = ""
    if node_cert is not None:
        try:
            from proto.transport.tls import cert_identity

            fingerprint = cert_identity(Path(node_cert).read_bytes()).cert_fingerprint
        except (OSError, FedCreditError):
            fingerprint = ""
    return Caller(party=f"{node_party}/{os_account()}", role="operator",
                  cert_fingerprint=fingerprint)  # fmt: skip
