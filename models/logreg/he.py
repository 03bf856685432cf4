"""The homomorphic part of vertical LR, for both modes behind one interface.

Bank (:class:`ActiveCrypto`, key holder): encrypts residuals, decrypts masked gradients and
encrypted partial scores. Platform (:class:`PassiveCrypto`, public key only): computes
``X_p^T enc(d)``, masks it, and later removes the mask from what the bank sends back.

Paillier: residuals in fixed point with ``RESIDUAL_FRAC_BITS`` fractional bits, platform
features with ``FEATURE_FRAC_BITS``; ``X^T d`` by multi-exponentiation
(:meth:`EncryptedVector.dot_columns`). Each entry ``g_j`` (``|g_j| < 2^v``) becomes
``s_j = g_j + 2^v + m_j`` with ``m_j`` uniform in ``[0, 2^(v+1+MASK_KAPPA))``: ``s_j`` is
non-negative, below ``2^(v+2+MASK_KAPPA)``, and hides ``g_j`` with statistical distance at most
``2^-MASK_KAPPA``. Several ``s_j`` are packed per ciphertext (one decryption and one
rerandomisation per batch instead of one per feature). Unmasking checks every slot: a value
outside its range means tampering or overflow and raises.

CKKS: ``enc(d)`` coefficient-encoded in chunks of ``N/2``; the platform returns two inner
products per ciphertext, rerandomised under the bank's public key and flooded with Gaussian
noise on every coefficient (see ``models/crypto/ckks_inner.py``). The floods' values at the
read-out coefficients stay with the platform.
"""

from __future__ import annotations

import secrets
from dataclasses import dataclass, field

import numpy as np

from models.crypto.ckks import CkksContext
from models.crypto.ckks_inner import (
    DEFAULT_FLOOD_SIGMA,
    INNER_COEFF_MOD_BIT_SIZES,
    InnerProductKey,
)
from models.crypto.fixedpoint import decode_fixed, encode_fixed
from models.crypto.histogram import compress_ciphertexts, decompress_plaintexts
from models.crypto.packing import KEY_MARGIN_BITS
from models.crypto.paillier import EncryptedVector, PaillierKeypair, PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument, OverflowDetected
from models.logreg.ckks_parallel import masked_xt_d

RESIDUAL_FRAC_BITS = 32
FEATURE_FRAC_BITS = 16
SCORE_FRAC_BITS = 32
MASK_KAPPA = 80
#: Largest absolute platform feature value accepted in Paillier mode (fixed-point range).
MAX_FEATURE_ABS = 2.0**30


@dataclass
class MaskState:
    """What the platform keeps between sending a masked gradient and unmasking it."""

    n_values: int
    masks: list[int] = field(default_factory=list)
    offset: int = 0
    slot_bits: int = 0
    slots_per_ciphertext: int = 0
    n_ciphertexts: int = 0
    mask_totals: np.ndarray = field(default_factory=lambda: np.zeros(0))


class ActiveCrypto:
    """The bank's keys for one training or scoring run."""

    def __init__(
        self,
        mode: str,
        *,
        keypair: PaillierKeypair | None = None,
        ckks: CkksContext | None = None,
    ) -> None:
        if (mode == "paillier" and keypair is None) or (mode == "ckks" and ckks is None):
            raise InvalidArgument("keys for the mode are missing")
        if mode not in ("paillier", "ckks"):
            raise InvalidArgument("mode must be 'paillier' or 'ckks'")
        self.mode = mode
        self.keypair = keypair
        self.ckks = ckks
        self._inner: InnerProductKey | None = None

    def _inner_key(self) -> InnerProductKey:
        assert self.ckks is not None
        if self._inner is None:
            self._inner = InnerProductKey(self.ckks)
        return self._inner

    @classmethod
    def generate(cls, mode: str, key_bits: int = 2048, *, scoring: bool = False) -> ActiveCrypto:
        """New keys. CKKS training contexts use the inner-product parameters of
        :mod:`models.crypto.ckks_inner` (the platform gets the public key to rerandomise its
        results; the bank still encrypts with its secret key); scoring contexts use the
        default slot parameters (the platform encrypts its partial scores)."""
        if mode == "paillier":
            return cls(mode, keypair=PaillierKeypair.generate(key_bits))
        if mode == "ckks":
            if scoring:
                return cls(mode, ckks=CkksContext.create())
            return cls(mode, ckks=CkksContext.create(coeff_mod_bit_sizes=INNER_COEFF_MOD_BIT_SIZES))
        raise InvalidArgument("mode must be 'paillier' or 'ckks'")

    @property
    def can_receive_scores(self) -> bool:
        """Whether the platform can encrypt under these keys (not a symmetric CKKS context)."""
        return self.keypair is not None or (
            self.ckks is not None and CkksContext.from_bytes(self.ckks.public_bytes()).can_encrypt
        )

    def public_bytes(self) -> bytes:
        if self.keypair is not None:
            return self.keypair.public_key.to_bytes()
        assert self.ckks is not None
        return self.ckks.public_bytes()

    def encrypt_residual(self, d: np.ndarray) -> CipherArray:
        """Encrypt residuals ``d`` (each in [-1, 1])."""
        d = np.asarray(d, dtype=np.float64)
        if d.size and (not np.all(np.isfinite(d)) or np.abs(d).max() > 1.0):
            raise InvalidArgument("residuals must lie in [-1, 1]")
        if self.keypair is not None:
            ints = encode_fixed(d, RESIDUAL_FRAC_BITS)
            return self.keypair.encrypt(ints).to_wire()
        return self._inner_key().encrypt_residual(d)

    def decrypt_masked(self, enc: CipherArray, n_values: int) -> tuple[list[bytes], np.ndarray]:
        """Decrypt a masked gradient: (packed plaintexts, []) or ([], masked sums)."""
        if self.keypair is not None:
            pk = self.keypair.public_key
            vec = EncryptedVector.from_wire(enc, pk)
            width = (pk.key_bits + 7) // 8
            plain = self.keypair.decrypt_unsigned(vec)
            return [int(v).to_bytes(width, "big") for v in plain], np.zeros(0)
        return [], self._inner_key().decrypt_pairs(enc, n_values)

    def decrypt_scores(
        self, enc: CipherArray, n_rows: int, slot_bits: int = 0, slots_per_ciphertext: int = 0
    ) -> np.ndarray:
        """Decrypt the platform's encrypted partial scores (Paillier: packed, see
        :meth:`PassiveCrypto.encrypt_scores`)."""
        if self.keypair is not None:
            pk = self.keypair.public_key
            vec = EncryptedVector.from_wire(enc, pk)
            per_ct = slots_per_ciphertext
            if (
                slot_bits < 3
                or per_ct < 1
                or slot_bits * per_ct > pk.key_bits - KEY_MARGIN_BITS
                or len(vec) != -(-n_rows // per_ct)
            ):
                raise CryptoError("encrypted scores have an invalid packing layout")
            plain = self.keypair.decrypt_unsigned(vec)
            if any(v >> (slot_bits * per_ct) for v in plain):
                raise CryptoError("a packed score plaintext is out of range")
            offset = 1 << (slot_bits - 2)
            slots = decompress_plaintexts(plain, slot_bits, per_ct, n_rows)
            return decode_fixed([v - offset for v in slots], SCORE_FRAC_BITS)
        assert self.ckks is not None
        return self.ckks.decrypt(self.ckks.vector_from_wire(enc, n_rows))


class PassiveCrypto:
    """The platform's view: the bank's public key or public CKKS context."""

    def __init__(self, mode: str, public: bytes, *, workers: int | None = None) -> None:
        self.mode = mode
        self.workers = workers
        self.public_key: PaillierPublicKey | None = None
        self.ckks: CkksContext | None = None
        if mode == "paillier":
            self.public_key = PaillierPublicKey.from_bytes(public)
        elif mode == "ckks":
            self.ckks = CkksContext.from_bytes(public)
        else:
            raise InvalidArgument("mode must be 'paillier' or 'ckks'")

    @property
    def fingerprint(self) -> str:
        if self.public_key is not None:
            return self.public_key.fingerprint
        assert self.ckks is not None
        return self.ckks.fingerprint

    def masked_gradient(
        self, X: np.ndarray, enc_residual: CipherArray, *, key: bytes | None = None
    ) -> tuple[CipherArray, MaskState]:
        """``X^T d`` under encryption, masked; returns (ciphertexts, what unmasking needs).

        ``key`` names ``X`` for the CKKS plaintext cache (default: a digest of ``X``); the
        caller must give a different key whenever ``X`` differs.
        """
        X = np.asarray(X, dtype=np.float64)
        f = X.shape[1]
        if self.public_key is not None:
            return self._paillier_gradient(X, enc_residual)
        assert self.ckks is not None
        wire, totals = masked_xt_d(
            self.ckks, X, enc_residual, sigma=DEFAULT_FLOOD_SIGMA, workers=self.workers, key=key
        )
        return wire, MaskState(n_values=f, mask_totals=totals)

    def _paillier_gradient(
        self, X: np.ndarray, enc_residual: CipherArray
    ) -> tuple[CipherArray, MaskState]:
        pk = self.public_key
        assert pk is not None
        n, f = X.shape
        enc_d = EncryptedVector.from_wire(enc_residual, pk)
        if len(enc_d) != n:
            raise CryptoError("encrypted residuals do not match the batch")
        if n and (not np.all(np.isfinite(X)) or np.abs(X).max() > MAX_FEATURE_ABS):
            raise InvalidArgument("platform features are outside the fixed-point range")
        xi = np.asarray(encode_fixed(X, FEATURE_FRAC_BITS), dtype=np.int64).reshape(n, f)
        enc_g = enc_d.dot_columns(xi, workers=self.workers)
        max_x = int(np.abs(xi).max()) if xi.size else 0
        bound = max(1, n * max_x * (1 << RESIDUAL_FRAC_BITS))
        value_bits = bound.bit_length()
        offset = 1 << value_bits
        slot_bits = value_bits + 2 + MASK_KAPPA
        per_ct = (pk.key_bits - KEY_MARGIN_BITS) // slot_bits
        if per_ct < 1:
            raise OverflowDetected("gradient entries do not fit in the plaintext space")
        mask_limit = 1 << (value_bits + 1 + MASK_KAPPA)
        masks = [secrets.randbelow(mask_limit) for _ in range(f)]
        shifted = enc_g.add_plain([offset + m for m in masks])
        packed = compress_ciphertexts(pk, shifted, slot_bits, per_ct)
        out = pk.rerandomize(packed)
        state = MaskState(
            n_values=f,
            masks=masks,
            offset=offset,
            slot_bits=slot_bits,
            slots_per_ciphertext=per_ct,
            n_ciphertexts=len(out),
        )
        return out.to_wire(), state

    def unmask(
        self, state: MaskState, masked_packed: list[bytes], masked_sums: np.ndarray
    ) -> np.ndarray:
        """Remove the masks: the gradient sums ``X^T d`` of the batch (float64)."""
        if self.public_key is None:
            sums = np.asarray(masked_sums, dtype=np.float64)
            if sums.shape != (state.n_values,) or not np.all(np.isfinite(sums)):
                raise InvalidArgument("masked gradient has the wrong shape")
            return sums - state.mask_totals
        if len(masked_packed) != state.n_ciphertexts:
            raise InvalidArgument("masked gradient has the wrong number of plaintexts")
        ints = [int.from_bytes(b, "big") for b in masked_packed]
        limit = 1 << (state.slot_bits * state.slots_per_ciphertext)
        if any(v >= limit for v in ints):
            raise OverflowDetected("a masked gradient plaintext is out of range")
        slots = decompress_plaintexts(
            ints, state.slot_bits, state.slots_per_ciphertext, state.n_values
        )
        g_int: list[int] = []
        for s, m in zip(slots, state.masks, strict=True):
            g = s - state.offset - m
            if not -state.offset < g < state.offset:
                raise OverflowDetected("an unmasked gradient entry is out of range")
            g_int.append(g)
        return decode_fixed(g_int, FEATURE_FRAC_BITS + RESIDUAL_FRAC_BITS)

    def encrypt_scores(self, values: np.ndarray) -> tuple[CipherArray, int, int]:
        """Encrypt partial scores under the bank's key (for scoring).

        Paillier: ``v = round(s * 2^SCORE_FRAC_BITS)`` plus ``2^(b-2)`` (``|v| < 2^(b-2)``)
        packed several per plaintext, so the bank decrypts one ciphertext per group (Paillier
        decryption, ~300/s per core at 2048 bits, would otherwise dominate scoring). Returns
        (ciphertexts, slot_bits, slots_per_ciphertext); CKKS returns zeros for the layout.
        """
        values = np.asarray(values, dtype=np.float64)
        pk = self.public_key
        if pk is not None:
            ints = encode_fixed(values, SCORE_FRAC_BITS)
            bound = max((abs(v) for v in ints), default=0)
            slot_bits = max(3, bound.bit_length() + 2)
            per_ct = (pk.key_bits - KEY_MARGIN_BITS) // slot_bits
            if per_ct < 1:
                raise OverflowDetected("scores do not fit in the plaintext space")
            offset = 1 << (slot_bits - 2)
            packed: list[int] = []
            for start in range(0, len(ints), per_ct):
                acc = 0
                for v in reversed(ints[start : start + per_ct]):
                    acc = (acc << slot_bits) | (v + offset)
                packed.append(acc)
            return pk.encrypt(packed).to_wire(), slot_bits, per_ct
        assert self.ckks is not None
        return self.ckks.vector_to_wire(self.ckks.encrypt_vector(values)), 0, 0
