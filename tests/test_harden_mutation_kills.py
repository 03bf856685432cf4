"""Tests written to kill mutants that survived the mutation check of the security checks
(``experiments/mutation_check.py``, issue 14 row 13): each one fails when its check is
disabled the way the named mutant disables it."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import grpc
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec

from experiments.support.grpc_harness import KNOWN, shared_pki
from models.errors import PermissionDenied, ResourceExhausted, Unauthenticated
from proto.transport.auth import AuthInterceptor
from proto.transport.limits import LimitsConfig, ResourceGuard
from proto.transport.tls import TEST_IDENTITY_HEADER
from proto.transport.trust import CertTrust
from tests.test_abuse_limits import (
    _header,
    _open,
    _raw_channel,
    _raw_exchange,
    make_platform,  # noqa: F401  (fixture)
)

TRAIN = "/fedcredit.v1.FederationService/Exchange"
SCORE = "/fedcredit.v1.ScoringService/Score"
POLICY = {TRAIN: ("bank",), SCORE: ("officer",)}


class _Context:
    """The part of a gRPC servicer context the interceptor reads (plaintext identity)."""

    def __init__(self, identity: str) -> None:
        self.identity = identity

    def invocation_metadata(self) -> list[tuple[str, str]]:
        return [(TEST_IDENTITY_HEADER, self.identity)]


def _interceptor() -> AuthInterceptor:
    return AuthInterceptor(POLICY, KNOWN, plaintext=True)


def test_officer_certificate_for_a_non_bank_party_is_refused() -> None:
    """Kills ``officer_of_a_non_bank_accepted``: an officer role under the platform's or the
    regulator's registered name is not an officer of any bank."""
    auth = _interceptor()
    assert auth.authorise(SCORE, _Context("bank-a/alice:officer")).party == "bank-a/alice"
    for party in ("platform/eve", "regulator/eve"):
        with pytest.raises(Unauthenticated):
            auth.authorise(SCORE, _Context(f"{party}:officer"))


def test_method_missing_from_the_policy_is_refused() -> None:
    """Kills ``method_missing_from_policy_allowed``: the policy fails closed."""
    auth = _interceptor()
    assert auth.authorise(TRAIN, _Context("bank-a:bank")).role == "bank"
    with pytest.raises(PermissionDenied):
        auth.authorise("/fedcredit.v1.AuditService/VerifyLog", _Context("bank-a:bank"))
    with pytest.raises(PermissionDenied):
        auth.authorise(TRAIN, _Context("regulator:regulator"))
    # health checks stay open to every known party
    assert auth.authorise("/grpc.health.v1.Health/Check", _Context("regulator:regulator"))


def _leaf(pki: Path, party: str) -> bytes:
    return (pki / party / "cert.pem").read_bytes()


def test_crl_not_signed_by_the_ca_refuses_everyone(tmp_path: Path) -> None:
    """Kills ``crl_signature_unchecked``: a well-formed CRL naming the CA as issuer but
    signed by another key is not trusted (fail closed), so nobody can forge revocations."""
    pki = shared_pki()
    ca = x509.load_pem_x509_certificate((pki / "ca.pem").read_bytes())
    ca_file = tmp_path / "ca.pem"
    ca_file.write_bytes((pki / "ca.pem").read_bytes())
    trust = CertTrust(ca_file)
    trust.check(_leaf(pki, "bank-a"))  # no CRL: accepted
    now = dt.datetime.now(dt.UTC)
    forged = (
        x509.CertificateRevocationListBuilder()
        .issuer_name(ca.subject)
        .last_update(now - dt.timedelta(minutes=1))
        .next_update(now + dt.timedelta(days=1))
        .sign(ec.generate_private_key(ec.SECP256R1()), hashes.SHA256())
    )
    (tmp_path / "crl.pem").write_bytes(forged.public_bytes(serialization.Encoding.PEM))
    with pytest.raises(Unauthenticated):
        trust.check(_leaf(pki, "bank-a"))


def test_cached_chain_is_not_trusted_past_the_leaf_expiry(tmp_path: Path) -> None:
    """Kills ``cached_trust_outlives_expiry``: a chain validated a moment ago is checked
    again once the leaf has expired, cache or not."""
    pki = shared_pki()
    leaf = x509.load_pem_x509_certificate(_leaf(pki, "bank-b"))
    now = [dt.datetime.now(dt.UTC)]
    trust = CertTrust(pki / "ca.pem", tmp_path / "no-crl.pem", clock=lambda: now[0])
    trust.check(_leaf(pki, "bank-b"))
    now[0] = leaf.not_valid_after_utc + dt.timedelta(seconds=1)
    with pytest.raises(Unauthenticated):
        trust.check(_leaf(pki, "bank-b"))


MiB = 1 << 20


def test_guard_refuses_a_body_over_the_maximum_within_the_party_budget() -> None:
    """Kills ``guard_body_size_check_removed``: the guard's own bound, not only the bytes in
    flight, refuses a body over ``max_body_bytes``."""
    guard = ResourceGuard(
        LimitsConfig(max_body_bytes=4 * MiB, party_bytes_in_flight=8 * MiB, reserve_wait_s=0.0)
    )
    with guard.reserve("bank-a", 4 * MiB):
        pass
    with pytest.raises(ResourceExhausted), guard.reserve("bank-a", 6 * MiB):
        pass
    assert guard.refused == {"body_size": 1}
    assert guard.in_flight() == (0, {}, {})


def test_body_over_the_maximum_but_within_the_budget_is_refused_over_grpc(
    make_platform,  # noqa: F811
) -> None:
    """Kills ``body_size_limit_removed`` (issue 14 row 13): a 6 MiB body under a 4 MiB maximum
    and an 8 MiB party budget is RESOURCE_EXHAUSTED at its header (the test of the 600 MiB
    body is also refused by the bytes in flight, so it did not catch the limit's removal)."""
    running = make_platform(max_body_bytes=4 * MiB, party_bytes_in_flight=8 * MiB)
    _open(running.port, "six")
    channel = _raw_channel(running.port)
    try:
        with pytest.raises(grpc.RpcError) as err:
            list(_raw_exchange(channel)(iter([_header("six", 6 * MiB)]), timeout=10))
        assert err.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    finally:
        channel.close()
