"""The bank's Paillier key for scoring linear models.

The platform encrypts its partial score under this key; only the bank can decrypt it. The key
lives in the bank process's memory only (generated at first use, or in the background when the
service starts) and is never written anywhere: a restarted node simply makes a new one and
sends its public half with each request.
"""

from __future__ import annotations

import threading

import numpy as np

from models.crypto.fixedpoint import decode_fixed
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.crypto.wire import CipherArray
from models.errors import CryptoError
from models.logreg.he import SCORE_FRAC_BITS


class ScoringKeys:
    """Lazily generated scoring key pair (thread-safe)."""

    def __init__(self, key_bits: int = 2048) -> None:
        self.key_bits = key_bits
        self._keypair: PaillierKeypair | None = None
        self._public: bytes = b""
        self._lock = threading.Lock()

    def keypair(self) -> PaillierKeypair:
        with self._lock:
            if self._keypair is None:
                self._keypair = PaillierKeypair.generate(self.key_bits)
                self._public = self._keypair.public_key.to_bytes()
            return self._keypair

    def public_bytes(self) -> bytes:
        if not self._public:
            self.keypair()
        return self._public

    def warm_in_background(self) -> threading.Thread:
        """Generate the key now in a daemon thread (the first linear score need not wait)."""
        thread = threading.Thread(target=self.keypair, daemon=True, name="scoring-keygen")
        thread.start()
        return thread

    def decrypt_values(self, enc: CipherArray, count: int) -> np.ndarray:
        """Decrypt fixed-point values the platform encrypted under this key."""
        keypair = self.keypair()
        vec = EncryptedVector.from_wire(enc, keypair.public_key)
        if len(vec) != count:
            raise CryptoError("the platform sent the wrong number of ciphertexts")
        return decode_fixed(keypair.decrypt(vec, workers=1), SCORE_FRAC_BITS)
