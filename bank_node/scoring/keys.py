"""The bank's scoring keys: Paillier for linear models, CKKS for trees (EINI).

Linear models: the platform encrypts its partial score under the Paillier key; only the bank
can decrypt it. Trees: the bank encrypts its cell values under its CKKS key and reads the
platform's sealed sums (:mod:`models.secureboost.predict`). Both keys live in the bank
process's memory only (generated at first use, or in the background when the service starts)
and are never written anywhere: a restarted node simply makes new ones. The Paillier public
half travels with each linear request; the CKKS public context (~0.4 MB) is sent to the
platform once, when it asks for it.

Decryption of a score uses one half of the CRT: with ``n = p q`` and a plaintext ``|m| < p/2``
(a fixed-point partial log-odds is below ``2^100``), ``m`` is already determined by
``m mod p = L_p(c^(p-1) mod p^2) * h_p mod p``, so one exponentiation modulo ``p^2`` replaces
the usual two (about half the cost of a full decryption). A value outside the expected range
(wrong key, corrupted ciphertext) is refused.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass

import gmpy2
import numpy as np
from gmpy2 import mpz

from models.crypto.ckks_readout import ReadoutKey
from models.crypto.fixedpoint import decode_fixed
from models.crypto.paillier import MIN_KEY_BITS, EncryptedVector, PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import CryptoError
from models.logreg.he import SCORE_FRAC_BITS

#: Largest magnitude accepted for a decrypted fixed-point score value.
MAX_SCORE_INT = 1 << 120


@dataclass(frozen=True)
class _Secret:
    public: PaillierPublicKey
    p: mpz
    p2: mpz
    hp: mpz  # (L_p((n + 1)^(p-1) mod p^2))^-1 mod p


def _generate(key_bits: int) -> _Secret:
    if key_bits < MIN_KEY_BITS:
        raise CryptoError("Paillier keys shorter than 1024 bits are refused")
    from phe import paillier as phe_paillier

    pub, priv = phe_paillier.generate_paillier_keypair(n_length=key_bits)
    public = PaillierPublicKey(pub.n)
    p = mpz(priv.p)
    p2 = p * p
    hp = gmpy2.invert((gmpy2.powmod(public.n + 1, p - 1, p2) - 1) // p, p)
    return _Secret(public, p, p2, hp)


class ScoringKeys:
    """Lazily generated scoring keys (thread-safe)."""

    def __init__(self, key_bits: int = 2048) -> None:
        self.key_bits = key_bits
        self._secret: _Secret | None = None
        self._ckks: ReadoutKey | None = None
        self._lock = threading.Lock()
        self._ckks_lock = threading.Lock()

    def ckks(self) -> ReadoutKey:
        """The bank's CKKS key for tree models (EINI prediction)."""
        with self._ckks_lock:
            if self._ckks is None:
                from models.secureboost.predict import new_prediction_key

                self._ckks = new_prediction_key()
            return self._ckks

    def _get(self) -> _Secret:
        with self._lock:
            if self._secret is None:
                self._secret = _generate(self.key_bits)
            return self._secret

    @property
    def public_key(self) -> PaillierPublicKey:
        return self._get().public

    def public_bytes(self) -> bytes:
        return self._get().public.to_bytes()

    def warm_in_background(self) -> threading.Thread:
        """Generate the keys now in a daemon thread (the first score need not wait)."""

        def both() -> None:
            self.ckks()
            self._get()

        thread = threading.Thread(target=both, daemon=True, name="scoring-keygen")
        thread.start()
        return thread

    def decrypt_values(self, enc: CipherArray, count: int) -> np.ndarray:
        """Decrypt fixed-point values the platform encrypted under this key."""
        return self.decrypt_ciphertexts(self.ciphertexts(enc, count))

    def ciphertexts(self, enc: CipherArray, count: int) -> list[mpz]:
        """The ``count`` ciphertexts of ``enc``, checked to be under this key (scheme, key,
        sizes, range), so each can be decrypted on its own."""
        vec = EncryptedVector.from_wire(enc, self._get().public)
        if len(vec) != count:
            raise CryptoError("the platform sent the wrong number of ciphertexts")
        return list(vec.values)

    def decrypt_ciphertexts(self, values: list[mpz]) -> np.ndarray:
        """Decrypt ciphertexts taken from :meth:`ciphertexts` (fixed-point values)."""
        s = self._get()
        p, half = s.p, s.p // 2
        powers = gmpy2.powmod_base_list([c % s.p2 for c in values], p - 1, s.p2)
        out: list[int] = []
        for x in powers:
            m = (x - 1) // p * s.hp % p
            value = int(m - p) if m > half else int(m)
            if abs(value) > MAX_SCORE_INT:
                raise CryptoError("a decrypted score is out of range")
            out.append(value)
        return decode_fixed(out, SCORE_FRAC_BITS)
