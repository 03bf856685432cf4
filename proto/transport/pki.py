"""A development PKI: one CA and a certificate per party (``fedcredit pki init``).

Each certificate names its party in the subject CN and its role in the OU:

- ``platform``: the city's credit platform (server, also a client of nothing);
- ``bank``: a bank node (server for its officers and the regulator, client of the platform);
- ``regulator``: reads lineage and audit data, may not train, score or change anything;
- ``officer``: a bank's credit officer (client of its bank's scoring service; O = the bank);
- ``approver``: a person at a bank who approves model promotions (``fedcredit model promote
  --cert-dir``; O = the bank). Approvers call no RPC; their key proves who approved.

Production deployments replace this CA with the city's own; nodes only need the CA bundle,
their certificate and key.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
import os
from dataclasses import dataclass
from pathlib import Path

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from models.errors import InvalidArgument

ROLES = ("platform", "bank", "regulator", "officer", "approver")
_NAME_OK = frozenset("abcdefghijklmnopqrstuvwxyz0123456789-._")


@dataclass(frozen=True)
class PartyFiles:
    name: str
    role: str
    cert: Path
    key: Path


def _check_name(name: str) -> None:
    if not name or len(name) > 64 or not set(name.lower()) <= _NAME_OK:
        raise InvalidArgument("party names are 1-64 characters of letters, digits, '-', '.', '_'")


def _write_private(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def init_ca(directory: Path, *, days: int = 825, common_name: str = "fedcredit dev CA") -> None:
    """Create ``ca.pem`` and ``ca.key`` in ``directory`` (refuses to overwrite)."""
    directory.mkdir(parents=True, exist_ok=True)
    if (directory / "ca.pem").exists():
        raise InvalidArgument("a CA already exists in this directory")
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name)])
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=True, path_length=0), critical=True)
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=False,
                key_cert_sign=True,
                crl_sign=True,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .sign(key, hashes.SHA256())
    )
    (directory / "ca.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(directory / "ca.key", _key_pem(key))


def issue(
    directory: Path,
    name: str,
    role: str,
    *,
    organisation: str = "",
    hosts: tuple[str, ...] = ("localhost", "127.0.0.1"),
    days: int = 365,
) -> PartyFiles:
    """Issue a certificate for party ``name`` with ``role``, signed by the CA in ``directory``."""
    _check_name(name)
    if role not in ROLES:
        raise InvalidArgument("unknown role (platform, bank, regulator, officer or approver)")
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    ca_key = serialization.load_pem_private_key((directory / "ca.key").read_bytes(), None)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument("the CA key is not an EC key")
    key = ec.generate_private_key(ec.SECP256R1())
    attrs = [
        x509.NameAttribute(NameOID.COMMON_NAME, name),
        x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, role),
        x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation or name),
    ]
    san: list[x509.GeneralName] = [x509.DNSName(name)]
    for h in hosts:
        try:
            san.append(x509.IPAddress(ipaddress.ip_address(h)))
        except ValueError:
            san.append(x509.DNSName(h))
    now = dt.datetime.now(dt.UTC)
    cert = (
        x509.CertificateBuilder()
        .subject_name(x509.Name(attrs))
        .issuer_name(ca_cert.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - dt.timedelta(minutes=5))
        .not_valid_after(now + dt.timedelta(days=days))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectAlternativeName(san), critical=False)
        .add_extension(
            x509.ExtendedKeyUsage(
                [ExtendedKeyUsageOID.SERVER_AUTH, ExtendedKeyUsageOID.CLIENT_AUTH]
            ),
            critical=False,
        )
        .sign(ca_key, hashes.SHA256())
    )
    party_dir = directory / name
    party_dir.mkdir(parents=True, exist_ok=True)
    (party_dir / "cert.pem").write_bytes(cert.public_bytes(serialization.Encoding.PEM))
    _write_private(party_dir / "key.pem", _key_pem(key))
    return PartyFiles(name, role, party_dir / "cert.pem", party_dir / "key.pem")


def init_pki(
    directory: Path,
    banks: list[str],
    *,
    platform: str = "platform",
    regulator: str = "regulator",
    officers: list[tuple[str, str]] | None = None,
    approvers: list[tuple[str, str]] | None = None,
) -> list[PartyFiles]:
    """``fedcredit pki init``: a CA plus certificates for the platform, each bank, a regulator
    and optional officers and approvers given as ``(person_name, bank_name)``."""
    if not banks:
        raise InvalidArgument("name at least one bank")
    init_ca(directory)
    out = [issue(directory, platform, "platform")]
    out += [issue(directory, b, "bank") for b in banks]
    out.append(issue(directory, regulator, "regulator"))
    for officer, bank in officers or []:
        out.append(issue(directory, officer, "officer", organisation=bank))
    for approver, bank in approvers or []:
        out.append(issue(directory, approver, "approver", organisation=bank))
    return out
