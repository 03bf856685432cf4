"""A development PKI: one CA and a certificate per party (``fedcredit pki init``).

Each certificate names its party in the subject CN and its role in the OU:

- ``platform``: the city's credit platform (server, also a client of nothing);
- ``bank``: a bank node (server for its officers and the regulator, client of the platform);
- ``regulator``: reads lineage and audit data, may not train, score or change anything;
- ``officer``: a bank's credit officer (client of its bank's scoring service; O = the bank);
- ``approver``: a person at a bank who approves model promotions (``fedcredit model promote
  --cert-dir``; O = the bank). Approvers call no RPC; their key proves who approved.
- ``recommender``: a district or department that recommends companies for the financing white
  list (``fedcredit whitelist upload``); it may call nothing else on the platform.

Production deployments replace this CA with the city's own; nodes only need the CA bundle,
their certificate and key.

``init_pki`` writes the CA's private key apart from the parties' files: ``<dir>-ca/ca.key``
(0600, in a 0700 directory beside ``<dir>``), so copying ``<dir>/<party>`` and ``<dir>/ca.pem``
to a node never copies the CA key. Private keys are encrypted at rest when the node's key
passphrase is set (``models/keystore.py``; ``docs/operations.md``). ``revoke`` adds a
certificate to the CA's revocation list ``<dir>/crl.pem``, which every server checks.
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
from models.keystore import load_private_key, private_key_pem, write_private_file

#: Printed by ``fedcredit pki init``.
DEV_CA_WARNING = (
    "warning: this is a development CA; production deployments use the organisation's own CA "
    "(keep its key offline) and give each node only ca.pem, its certificate and its key"
)

ROLES = ("platform", "bank", "regulator", "officer", "approver", "recommender")
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
    write_private_file(path, data)


def _key_pem(key: ec.EllipticCurvePrivateKey) -> bytes:
    return private_key_pem(key)


def ca_key_dir(directory: Path) -> Path:
    """Where ``init_pki`` keeps the CA key: ``<dir>-ca`` beside the PKI directory."""
    directory = Path(directory)
    return directory.parent / f"{directory.name}-ca"


def ca_key_path(directory: Path) -> Path:
    """The CA key of the PKI in ``directory`` (``<dir>/ca.key`` for a CA made by ``init_ca``
    alone, else ``<dir>-ca/ca.key``)."""
    local = Path(directory) / "ca.key"
    return local if local.exists() else ca_key_dir(directory) / "ca.key"


def _ca(directory: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    ca_cert = x509.load_pem_x509_certificate((directory / "ca.pem").read_bytes())
    key_path = ca_key_path(directory)
    if not key_path.exists():
        raise InvalidArgument("the CA key is not here: issue certificates where the CA key is")
    ca_key = load_private_key(key_path)
    if not isinstance(ca_key, ec.EllipticCurvePrivateKey):
        raise InvalidArgument("the CA key is not an EC key")
    return ca_cert, ca_key


def init_ca(
    directory: Path,
    *,
    days: int = 825,
    common_name: str = "fedcredit dev CA",
    key_dir: Path | None = None,
) -> None:
    """Create ``ca.pem`` in ``directory`` and ``ca.key`` in ``key_dir`` (default
    ``directory``); refuses to overwrite."""
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
    pem = cert.public_bytes(serialization.Encoding.PEM)
    (directory / "ca.pem").write_bytes(pem)
    key_dir = directory if key_dir is None else Path(key_dir)
    _write_private(key_dir / "ca.key", _key_pem(key))
    if key_dir != directory:
        (key_dir / "ca.pem").write_bytes(pem)


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
        raise InvalidArgument(
            "unknown role (platform, bank, regulator, officer, approver or recommender)"
        )
    ca_cert, ca_key = _ca(directory)
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
        .add_extension(
            x509.KeyUsage(
                digital_signature=True,
                content_commitment=False,
                key_encipherment=False,
                data_encipherment=False,
                key_agreement=True,
                key_cert_sign=False,
                crl_sign=False,
                encipher_only=False,
                decipher_only=False,
            ),
            critical=True,
        )
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(ca_key.public_key()),
            critical=False,
        )
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
    recommenders: list[str] | None = None,
) -> list[PartyFiles]:
    """``fedcredit pki init``: a CA plus certificates for the platform, each bank, a regulator
    and optional officers and approvers given as ``(person_name, bank_name)`` and white-list
    recommenders (districts, departments) by name. The CA key goes
    to ``<dir>-ca/`` (:func:`ca_key_dir`), apart from the parties' keys."""
    if not banks:
        raise InvalidArgument("name at least one bank")
    init_ca(directory, key_dir=ca_key_dir(directory))
    out = [issue(directory, platform, "platform")]
    out += [issue(directory, b, "bank") for b in banks]
    out.append(issue(directory, regulator, "regulator"))
    for officer, bank in officers or []:
        out.append(issue(directory, officer, "officer", organisation=bank))
    for approver, bank in approvers or []:
        out.append(issue(directory, approver, "approver", organisation=bank))
    for recommender in recommenders or []:
        out.append(issue(directory, recommender, "recommender"))
    return out


def revoke(directory: Path, cert: Path, *, days: int = 30) -> Path:
    """Add the certificate at ``cert`` to the CA's revocation list ``<dir>/crl.pem`` (signed by
    the CA, kept with earlier revocations). Servers re-read it when it changes."""
    ca_cert, ca_key = _ca(directory)
    target = x509.load_pem_x509_certificate(Path(cert).read_bytes())
    if target.issuer != ca_cert.subject:
        raise InvalidArgument("the certificate was not issued by this CA")
    crl_path = Path(directory) / "crl.pem"
    revoked: dict[int, dt.datetime] = {}
    if crl_path.exists():
        old = x509.load_pem_x509_crl(crl_path.read_bytes())
        for r in old:
            revoked[r.serial_number] = r.revocation_date_utc
    now = dt.datetime.now(dt.UTC)
    revoked.setdefault(target.serial_number, now)
    builder = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca_cert.subject)
        .last_update(now - dt.timedelta(minutes=5))
        .next_update(now + dt.timedelta(days=days))
    )
    for serial, when in sorted(revoked.items()):
        builder = builder.add_revoked_certificate(
            x509.RevokedCertificateBuilder().serial_number(serial).revocation_date(when).build()
        )
    crl = builder.sign(ca_key, hashes.SHA256())
    tmp = crl_path.with_name(".crl.pem.tmp")
    tmp.write_bytes(crl.public_bytes(serialization.Encoding.PEM))
    os.replace(tmp, crl_path)
    return crl_path
