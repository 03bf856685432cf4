"""Client certificate trust: full chain validation and revocation, checked by the auth
interceptor on every RPC (after the TLS handshake, which only proves key possession and a
signature path).

- **Chain**: the client's leaf and the intermediates it presented are validated against the
  CA bundle with RFC 5280 path building (``cryptography.x509.verification``): validity dates,
  signatures, ``basicConstraints`` (``CA:TRUE`` and ``pathlen`` on every issuer) and
  ``keyUsage`` (``keyCertSign`` on issuers). A leaf issued through an intermediate under a
  ``pathlen:0`` root is refused, as OpenSSL refuses it.
- **Key usage of the leaf**: its ``extendedKeyUsage`` must include ``clientAuth``, and a
  ``keyUsage``, when present, must allow ``digitalSignature``.
- **Revocation**: ``crl.pem`` beside the CA bundle (written by ``fedcredit pki revoke`` or
  by the organisation's CA) is verified against the CA and re-read when it changes; a
  certificate in the chain whose serial it lists is refused. An unreadable or unsigned CRL
  refuses every caller (fail closed).

Results are cached per certificate chain for :data:`CACHE_S` seconds (and never past the
leaf's expiry, never across a CRL change).
"""

from __future__ import annotations

import datetime as dt
import hashlib
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.x509.oid import ExtendedKeyUsageOID
from cryptography.x509.verification import (
    Criticality,
    ExtensionPolicy,
    PolicyBuilder,
    Store,
    VerificationError,
)

from models.errors import Unauthenticated

CACHE_S = 60.0
CRL_FILE = "crl.pem"


def _check_eku(_policy: Any, _cert: x509.Certificate, ext: Any) -> None:
    if ext is None or ExtendedKeyUsageOID.CLIENT_AUTH not in list(ext):
        raise ValueError("the certificate is not for client authentication")


def _check_key_usage(_policy: Any, _cert: x509.Certificate, ext: Any) -> None:
    if ext is not None and not ext.digital_signature:
        raise ValueError("the certificate's key may not sign")


def _leaf_policy() -> ExtensionPolicy:
    return (
        ExtensionPolicy.permit_all()
        .require_present(x509.ExtendedKeyUsage, Criticality.AGNOSTIC, _check_eku)
        .may_be_present(x509.KeyUsage, Criticality.AGNOSTIC, _check_key_usage)
    )


class CertTrust:
    """Validates client certificate chains against ``ca_path`` and its revocation list."""

    def __init__(
        self,
        ca_path: Path,
        crl_path: Path | None = None,
        *,
        clock: Callable[[], dt.datetime] = lambda: dt.datetime.now(dt.UTC),
    ) -> None:
        self.ca_path = Path(ca_path)
        self.crl_path = Path(crl_path) if crl_path is not None else self.ca_path.with_name(CRL_FILE)
        self._clock = clock
        self._cas = x509.load_pem_x509_certificates(self.ca_path.read_bytes())
        self._lock = threading.Lock()
        self._crl_stamp: tuple[int, int] | None = None
        self._revoked: frozenset[tuple[bytes, int]] = frozenset()
        self._crl_error = ""
        self._cache: dict[str, tuple[float, float]] = {}  # chain key -> (checked_at, not_after)

    # -- revocation ------------------------------------------------------------------------
    def _refresh_crl(self) -> None:
        try:
            st = self.crl_path.stat()
            stamp: tuple[int, int] | None = (st.st_mtime_ns, st.st_size)
        except FileNotFoundError:
            stamp = None
        if stamp == self._crl_stamp:
            return
        self._crl_stamp = stamp
        self._cache.clear()
        self._revoked, self._crl_error = frozenset(), ""
        if stamp is None:
            return
        try:
            crl = x509.load_pem_x509_crl(self.crl_path.read_bytes())
        except ValueError:
            self._crl_error = "the revocation list cannot be read"
            return
        issuer = next((c for c in self._cas if c.subject == crl.issuer), None)
        if issuer is None or not crl.is_signature_valid(issuer.public_key()):  # type: ignore[arg-type]
            self._crl_error = "the revocation list is not signed by the CA"
            return
        self._revoked = frozenset((crl.issuer.public_bytes(), r.serial_number) for r in crl)

    def revoked(self, cert: x509.Certificate) -> bool:
        return (cert.issuer.public_bytes(), cert.serial_number) in self._revoked

    # -- chains ----------------------------------------------------------------------------
    def check(self, leaf_pem: bytes, chain_pems: list[bytes] | None = None) -> None:
        """Raise :class:`Unauthenticated` unless the leaf chains to the CA under the rules
        of the module docstring."""
        chain_pems = list(chain_pems or [])
        key = hashlib.sha256(b"\0".join([leaf_pem, *chain_pems])).hexdigest()
        now = self._clock()
        mono = time.monotonic()
        with self._lock:
            self._refresh_crl()
            if self._crl_error:
                raise Unauthenticated(self._crl_error)
            hit = self._cache.get(key)
            if hit is not None and mono - hit[0] < CACHE_S and now.timestamp() < hit[1]:
                return
        try:
            leaf = x509.load_pem_x509_certificate(leaf_pem)
            extra = [x509.load_pem_x509_certificate(p) for p in chain_pems]
        except ValueError:
            raise Unauthenticated("client certificate could not be read") from None
        intermediates = [c for c in extra if c != leaf and c not in self._cas]
        verifier = (
            PolicyBuilder()
            .store(Store(self._cas))
            .time(now)
            .max_chain_depth(8)
            .extension_policies(
                ca_policy=ExtensionPolicy.webpki_defaults_ca(), ee_policy=_leaf_policy()
            )
            .build_client_verifier()
        )
        try:
            verified = verifier.verify(leaf, intermediates)
        except VerificationError:
            raise Unauthenticated(
                "client certificate chain is not valid (expired, constraints or key usage)"
            ) from None
        with self._lock:
            if any(self.revoked(c) for c in verified.chain):
                raise Unauthenticated("client certificate is revoked")
            self._cache[key] = (mono, leaf.not_valid_after_utc.timestamp())
            while len(self._cache) > 4096:
                self._cache.pop(next(iter(self._cache)))
