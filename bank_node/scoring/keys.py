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
(wrong key, corrupted ciphertext) is refused. Packed answers (several companies' partials in
one plaintext, :mod:`models.logreg.packing`) use the same decryption: the bank asks for as many
128-bit slots as fit below ``2^(bits(p) - 1)`` (7 at 2048 bits, 3 at 1024), so the packed
plaintext, too, is ``m mod p``.
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
from models.logreg.packing import PACK_MAX_ABS, max_slots, unpack

#: Largest magnitude accepted for a decrypted fixed-point score value.
MAX_SCORE_INT = PACK_MAX_ABS


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

    def pack_slots(self) -> int:
        """Companies per packed ciphertext this key decrypts with one half-CRT exponentiation."""
        return max_slots(self._get().p.bit_length())

    def _residues(self, values: list[mpz]) -> list[mpz]:
        """``m mod p`` of each ciphertext (one exponentiation modulo ``p^2`` each)."""
        s = self._get()
        p = s.p
        powers = gmpy2.powmod_base_list([c % s.p2 for c in values], p - 1, s.p2)
        return [(x - 1) // p * s.hp % p for x in powers]

    def decrypt_ciphertexts(self, values: list[mpz]) -> np.ndarray:
        """Decrypt ciphertexts taken from :meth:`ciphertexts` (fixed-point values)."""
        p = self._get().p
        half = p // 2
        out: list[int] = []
        for m in self._residues(values):
            value = int(m - p) if m > half else int(m)
            if abs(value) > MAX_SCORE_INT:
                raise CryptoError("a decrypted score is out of range")
            out.append(value)
        return decode_fixed(out, SCORE_FRAC_BITS)

    def decrypt_packed(self, ciphertext: mpz, count: int) -> np.ndarray:
        """The ``count`` fixed-point values packed in one ciphertext from :meth:`ciphertexts`
        (CryptoError if any bit or slot is out of range)."""
        if not 1 <= count <= self.pack_slots():
            raise CryptoError("a packed ciphertext holds more values than this key allows")
        m = self._residues([ciphertext])[0]
        return decode_fixed(unpack(int(m), count), SCORE_FRAC_BITS)
