"""Mutual TLS credentials and caller identity from the peer certificate."""

from __future__ import annotations

import functools
import hashlib
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.x509.oid import NameOID

from models.errors import Unauthenticated
from models.federation.party import Caller
from models.keystore import unencrypted_pem

from .frames import MAX_MESSAGE_BYTES

if TYPE_CHECKING:  # grpc is imported by the functions that use it: config-only commands
    import grpc  # (consent, tables, audit on the node's files) start without it

#: Metadata key carrying a test identity, honoured ONLY by servers started in plaintext mode.
TEST_IDENTITY_HEADER = "x-fedcredit-test-identity"


@dataclass(frozen=True)
class TlsFiles:
    """Where a node finds its CA bundle, certificate and key."""

    ca: Path
    cert: Path
    key: Path

    @classmethod
    def in_pki_dir(cls, pki_dir: Path, party: str) -> TlsFiles:
        return cls(pki_dir / "ca.pem", pki_dir / party / "cert.pem", pki_dir / party / "key.pem")


def channel_options() -> list[tuple[str, int]]:
    """Explicit message-size limits and keepalive, shared by clients and servers."""
    return [
        ("grpc.max_send_message_length", MAX_MESSAGE_BYTES),
        ("grpc.max_receive_message_length", MAX_MESSAGE_BYTES),
        ("grpc.keepalive_time_ms", 30_000),
        ("grpc.keepalive_timeout_ms", 10_000),
        ("grpc.http2.max_pings_without_data", 0),
        ("grpc.keepalive_permit_without_calls", 1),
    ]


def server_credentials(files: TlsFiles) -> grpc.ServerCredentials:
    """Server credentials that REQUIRE a client certificate signed by the CA."""
    import grpc

    return grpc.ssl_server_credentials(
        [(unencrypted_pem(files.key), files.cert.read_bytes())],
        root_certificates=files.ca.read_bytes(),
        require_client_auth=True,
    )


def channel_credentials(files: TlsFiles) -> grpc.ChannelCredentials:
    import grpc

    return grpc.ssl_channel_credentials(
        root_certificates=files.ca.read_bytes(),
        private_key=unencrypted_pem(files.key),
        certificate_chain=files.cert.read_bytes(),
    )


@functools.lru_cache(maxsize=256)
def cert_identity(pem: bytes) -> Caller:
    """Party name (CN), role (OU) and SHA-256 fingerprint of a PEM certificate (cached: every
    RPC presents the same few certificates)."""
    try:
        cert = x509.load_pem_x509_certificate(pem)
    except ValueError:
        raise Unauthenticated("client certificate could not be read") from None
    cns = cert.subject.get_attributes_for_oid(NameOID.COMMON_NAME)
    ous = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATIONAL_UNIT_NAME)
    if not cns or not ous:
        raise Unauthenticated("client certificate names no party or role")
    fingerprint = hashlib.sha256(cert.public_bytes(serialization.Encoding.DER)).hexdigest()
    orgs = cert.subject.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    party = str(cns[0].value)
    role = str(ous[0].value)
    org = str(orgs[0].value) if orgs else party
    # A person (officer, approver) acts for its bank: its party is "<bank>/<name>".
    if role in ("officer", "approver"):
        party = f"{org}/{party}"
    return Caller(party=party, role=role, cert_fingerprint=fingerprint)


def cert_fingerprint(path: Path) -> str:
    return cert_identity(path.read_bytes()).cert_fingerprint


def identity_from_context(context: grpc.ServicerContext, *, plaintext: bool) -> Caller:
    """The authenticated caller of an RPC.

    With TLS the identity comes from the verified client certificate. In plaintext mode (an
    explicit flag for tests) it comes from the ``x-fedcredit-test-identity`` metadata as
    ``party:role``.
    """
    if plaintext:
        for key, value in context.invocation_metadata():
            if key == TEST_IDENTITY_HEADER:
                party, _, role = str(value).partition(":")
                if party and role:
                    return Caller(party=party, role=role, cert_fingerprint="plaintext")
        raise Unauthenticated("no caller identity")
    return identity_from_auth(context.auth_context())


def identity_from_auth(auth: Mapping[str, Sequence[bytes]]) -> Caller:
    """The caller named by the verified client certificate of an RPC's ``auth_context()``
    (for a caller that already read it: building it is a large share of a small call's CPU)."""
    pems = auth.get("x509_pem_cert") or []
    if not pems:
        raise Unauthenticated("no client certificate")
    return cert_identity(bytes(pems[0]))
