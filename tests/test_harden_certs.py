"""Certificates (issue 14 row 8): full chain validation with path-length and key-usage
constraints, revocation through the CA's CRL, expired certificates; and the PKI layout
(row 7): the CA key apart from the parties' keys, keys encrypted at rest."""

from __future__ import annotations

import datetime as dt
import stat
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from bank_node.federation_client import GrpcPassivePeer
from experiments.support.grpc_harness import KNOWN
from models.errors import Unauthenticated, Unavailable
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec
from models.keystore import ENV_PASSPHRASE
from proto.transport.channel import RetryPolicy
from proto.transport.pki import ca_key_dir, init_pki, revoke
from proto.transport.tls import TlsFiles
from proto.transport.trust import CertTrust
from tests.test_transport import TinyData

NOW = dt.datetime.now(dt.UTC)


def _key_usage(*, sign: bool, cert_sign: bool) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=sign,
        content_commitment=False,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _cert(
    subject: x509.Name,
    key: ec.EllipticCurvePrivateKey,
    issuer: x509.Certificate,
    issuer_key: ec.EllipticCurvePrivateKey,
    *,
    ca: bool = False,
    not_after: dt.datetime | None = None,
    client_auth: bool = True,
    sign: bool = True,
) -> x509.Certificate:
    b = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(NOW - dt.timedelta(days=30))
        .not_valid_after(not_after or NOW + dt.timedelta(days=30))
        .add_extension(x509.BasicConstraints(ca=ca, path_length=None), critical=True)
        .add_extension(_key_usage(sign=sign or ca, cert_sign=ca), critical=True)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
    )
    if not ca:
        usages = [ExtendedKeyUsageOID.CLIENT_AUTH] if client_auth else []
        usages.append(ExtendedKeyUsageOID.SERVER_AUTH)
        b = b.add_extension(x509.ExtendedKeyUsage(usages), critical=False)
        b = b.add_extension(x509.SubjectAlternativeName([x509.DNSName("bank-a")]), critical=False)
    return b.sign(issuer_key, hashes.SHA256())


def _bank_name() -> x509.Name:
    return x509.Name(
        [
            x509.NameAttribute(NameOID.COMMON_NAME, "bank-a"),
            x509.NameAttribute(NameOID.ORGANIZATIONAL_UNIT_NAME, "bank"),
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, "bank-a"),
        ]
    )


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Path:
    d = tmp_path_factory.mktemp("pki") / "pki"
    init_pki(d, ["bank-a"])
    return d


def _ca(pki: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    key = serialization.load_pem_private_key((ca_key_dir(pki) / "ca.key").read_bytes(), None)
    assert isinstance(key, ec.EllipticCurvePrivateKey)
    return cert, key


def _write(
    d: Path, cert: x509.Certificate, key: ec.EllipticCurvePrivateKey, *chain: x509.Certificate
) -> TlsFiles:
    d.mkdir(parents=True, exist_ok=True)
    pem = b"".join(c.public_bytes(serialization.Encoding.PEM) for c in (cert, *chain))
    (d / "cert.pem").write_bytes(pem)
    (d / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    return TlsFiles(
        d.parent / "ca.pem" if (d.parent / "ca.pem").exists() else d / "ca.pem",
        d / "cert.pem",
        d / "key.pem",
    )


def _pem(c: x509.Certificate) -> bytes:
    return c.public_bytes(serialization.Encoding.PEM)


def test_pki_layout_ca_key_apart_and_private(pki: Path) -> None:
    assert not (pki / "ca.key").exists()
    ca_dir = ca_key_dir(pki)
    assert (ca_dir / "ca.key").exists() and (pki / "ca.pem").exists()
    assert stat.S_IMODE((ca_dir / "ca.key").stat().st_mode) == 0o600
    assert stat.S_IMODE(ca_dir.stat().st_mode) == 0o700
    for party in ("platform", "bank-a", "regulator"):
        assert stat.S_IMODE((pki / party / "key.pem").stat().st_mode) == 0o600
        assert not any(p.name == "ca.key" for p in (pki / party).iterdir())


def test_keys_encrypted_at_rest_with_a_passphrase(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(ENV_PASSPHRASE, "s3cret passphrase")
    d = tmp_path / "pki"
    init_pki(d, ["bank-a"])
    for key in (ca_key_dir(d) / "ca.key", d / "bank-a" / "key.pem", d / "platform" / "key.pem"):
        assert key.read_bytes().startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
    # a node with the passphrase serves and connects over TLS with the encrypted keys
    from platform_node.server import create_server

    running = create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "platform",
        data=TinyData(),
        tls=TlsFiles.in_pki_dir(d, "platform"),
        known_parties=KNOWN,
    )
    try:
        peer = GrpcPassivePeer(f"127.0.0.1:{running.port}", TlsFiles.in_pki_dir(d, "bank-a"))
        peer.open_session(SessionSpec(job_id="enc", algorithm="describe", dataset="tiny"))
        assert peer.call("describe/0", DescribeRequest(), DescribeResponse).n_rows == 50
        peer.close()
    finally:
        running.stop(0.2)


def test_leaf_through_an_intermediate_under_pathlen0_root_is_refused(pki: Path) -> None:
    ca, ca_key = _ca(pki)
    trust = CertTrust(pki / "ca.pem")
    # the legitimate bank certificate chains
    trust.check((pki / "bank-a" / "cert.pem").read_bytes())
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue sub-CA")]),
        inter_key,
        ca,
        ca_key,
        ca=True,
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(_bank_name(), leaf_key, inter, inter_key)
    with pytest.raises(Unauthenticated):
        trust.check(_pem(leaf), [_pem(leaf), _pem(inter)])


def test_expired_and_wrong_usage_certificates_are_refused(pki: Path) -> None:
    ca, ca_key = _ca(pki)
    trust = CertTrust(pki / "ca.pem")
    key = ec.generate_private_key(ec.SECP256R1())
    expired = _cert(_bank_name(), key, ca, ca_key, not_after=NOW - dt.timedelta(days=1))
    with pytest.raises(Unauthenticated):
        trust.check(_pem(expired))
    server_only = _cert(_bank_name(), key, ca, ca_key, client_auth=False)
    with pytest.raises(Unauthenticated):
        trust.check(_pem(server_only))
    no_sign = _cert(_bank_name(), key, ca, ca_key, sign=False)
    with pytest.raises(Unauthenticated):
        trust.check(_pem(no_sign))
    fine = _cert(_bank_name(), key, ca, ca_key)
    trust.check(_pem(fine))
    # the same certificate, checked later than its expiry (the cache never outlives it)
    later = CertTrust(pki / "ca.pem", clock=lambda: NOW + dt.timedelta(days=31))
    with pytest.raises(Unauthenticated):
        later.check(_pem(fine))


def test_expired_certificate_over_grpc_is_refused(pki: Path, tmp_path: Path) -> None:
    from platform_node.server import create_server

    ca, ca_key = _ca(pki)
    key = ec.generate_private_key(ec.SECP256R1())
    expired = _cert(_bank_name(), key, ca, ca_key, not_after=NOW - dt.timedelta(hours=1))
    files = _write(tmp_path / "expired", expired, key)
    files = TlsFiles(pki / "ca.pem", files.cert, files.key)
    running = create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "platform",
        data=TinyData(),
        tls=TlsFiles.in_pki_dir(pki, "platform"),
        known_parties=KNOWN,
    )
    try:
        peer = GrpcPassivePeer(f"127.0.0.1:{running.port}", files, retry=RetryPolicy(attempts=1))
        with pytest.raises((Unauthenticated, Unavailable)):
            peer.open_session(SessionSpec(job_id="exp", algorithm="describe", dataset="tiny"))
        peer.close()
    finally:
        running.stop(0.2)


def test_revoked_certificate_is_refused_by_the_interceptor(tmp_path: Path) -> None:
    from platform_node.server import create_server

    d = tmp_path / "pki"
    init_pki(d, ["bank-a", "bank-b"])
    running = create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "platform",
        data=TinyData(),
        tls=TlsFiles.in_pki_dir(d, "platform"),
        known_parties=KNOWN,
    )
    try:

        def describe(party: str) -> int:
            peer = GrpcPassivePeer(
                f"127.0.0.1:{running.port}",
                TlsFiles.in_pki_dir(d, party),
                retry=RetryPolicy(attempts=1),
            )
            try:
                peer.open_session(
                    SessionSpec(job_id=f"r-{party}", algorithm="describe", dataset="t")
                )
                return peer.call("describe/0", DescribeRequest(), DescribeResponse).n_rows
            finally:
                peer.close()

        assert describe("bank-a") == 50
        revoke(d, d / "bank-a" / "cert.pem")
        with pytest.raises(Unauthenticated):
            describe("bank-a")
        assert describe("bank-b") == 50  # others are unaffected
        # a CRL not signed by the CA refuses everyone (fail closed)
        (d / "crl.pem").write_bytes(b"-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n")
        with pytest.raises(Unauthenticated):
            describe("bank-b")
    finally:
        running.stop(0.2)


def test_pathlen_violation_over_grpc_is_refused(pki: Path, tmp_path: Path) -> None:
    """The issue's reproduction: the client presents leaf + rogue intermediate."""
    from platform_node.server import create_server

    ca, ca_key = _ca(pki)
    inter_key = ec.generate_private_key(ec.SECP256R1())
    inter = _cert(
        x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "rogue sub-CA")]),
        inter_key,
        ca,
        ca_key,
        ca=True,
    )
    leaf_key = ec.generate_private_key(ec.SECP256R1())
    leaf = _cert(_bank_name(), leaf_key, inter, inter_key)
    files = _write(tmp_path / "rogue", leaf, leaf_key, inter)
    files = TlsFiles(pki / "ca.pem", files.cert, files.key)
    running = create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "platform",
        data=TinyData(),
        tls=TlsFiles.in_pki_dir(pki, "platform"),
        known_parties=KNOWN,
    )
    try:
        peer = GrpcPassivePeer(f"127.0.0.1:{running.port}", files, retry=RetryPolicy(attempts=1))
        with pytest.raises((Unauthenticated, Unavailable)) as err:
            peer.open_session(SessionSpec(job_id="rogue", algorithm="describe", dataset="tiny"))
        print("refused with", type(err.value).__name__)
        peer.close()
    finally:
        running.stop(0.2)


def test_certificate_whose_role_contradicts_its_registration_is_refused(
    pki: Path, tmp_path: Path
) -> None:
    """A CA-signed certificate naming bank-a with the regulator's role (issue 14 row 13: no
    test caught accepting it)."""
    from platform_node.server import create_server
    from proto.transport.pki import issue

    other = tmp_path / "pki2"
    other.mkdir()
    (other / "ca.pem").write_bytes((pki / "ca.pem").read_bytes())
    # issue() finds the CA key beside the PKI directory it is given
    ca_dir = ca_key_dir(other)
    ca_dir.mkdir(mode=0o700)
    (ca_dir / "ca.key").write_bytes((ca_key_dir(pki) / "ca.key").read_bytes())
    issue(other, "bank-a", "regulator")
    running = create_server(
        listen="127.0.0.1:0",
        data_dir=tmp_path / "platform",
        data=TinyData(),
        tls=TlsFiles.in_pki_dir(pki, "platform"),
        known_parties=KNOWN,
    )
    try:
        peer = GrpcPassivePeer(
            f"127.0.0.1:{running.port}",
            TlsFiles(pki / "ca.pem", other / "bank-a" / "cert.pem", other / "bank-a" / "key.pem"),
            retry=RetryPolicy(attempts=1),
        )
        with pytest.raises(Unauthenticated):
            peer.open_session(SessionSpec(job_id="role", algorithm="describe", dataset="tiny"))
        peer.close()
    finally:
        running.stop(0.2)
