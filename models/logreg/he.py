"""The homomorphic part of vertical LR, for both modes behind one interface.

Bank (:class:`ActiveCrypto`, key holder): encrypts its expansion terms per batch, decrypts its
own output (gradient, ``sum d``, loss) and the masked read-outs of the platform's output that
it hands back, and decrypts encrypted partial scores at prediction. Platform
(:class:`PassiveCrypto`, public key only): combines the bank's terms with its own basis values
and features, masks its output, later unmasks what the bank hands back, and encrypts its
partial scores for prediction. The layouts are in :mod:`models.logreg.paillier_terms` and
:mod:`models.logreg.ckks_terms`; what each step reveals is in their docstrings and
``docs/logreg.md``.
"""

from __future__ import annotations

import contextlib
from contextlib import AbstractContextManager
from dataclasses import dataclass

import numpy as np

from models.crypto import ckks_coeff
from models.crypto.ckks import CkksContext
from models.crypto.fixedpoint import decode_fixed, encode_fixed
from models.crypto.histogram import decompress_plaintexts
from models.crypto.packing import KEY_MARGIN_BITS
from models.crypto.paillier import EncryptedVector, PaillierKeypair, PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument, OverflowDetected
from models.logreg import ckks_terms, paillier_terms, val_loss_terms
from models.logreg.paillier_terms import BankOutput

SCORE_FRAC_BITS = 32
#: Largest absolute platform feature value accepted (fixed-point range of both modes).
MAX_FEATURE_ABS = paillier_terms.MAX_PLATFORM_FEATURE


def basis_of(mode: str) -> str:
    """The platform's basis of the separable expansion in this mode."""
    return "monomial" if mode == "paillier" else "chebyshev"


@dataclass
class MaskState:
    """What the platform keeps between sending its masked output and unmasking it."""

    n_values: int
    paillier: paillier_terms.PlatformMasks | None = None
    ckks: list[int] | None = None


class ActiveCrypto:
    """The bank's keys for one training or scoring run."""

    def __init__(
        self,
        mode: str,
        *,
        keypair: PaillierKeypair | None = None,
        ckks: CkksContext | None = None,
    ) -> None:
        if mode not in ("paillier", "ckks"):
            raise InvalidArgument("mode must be 'paillier' or 'ckks'")
        if (mode == "paillier" and keypair is None) or (mode == "ckks" and ckks is None):
            raise InvalidArgument("keys for the mode are missing")
        self.mode = mode
        self.keypair = keypair
        self.ckks = ckks
        self._coeff: ckks_coeff.CoeffKey | None = None

    def _coeff_key(self) -> ckks_coeff.CoeffKey:
        assert self.ckks is not None
        if self._coeff is None:
            self._coeff = ckks_coeff.CoeffKey(self.ckks)
        return self._coeff

    @classmethod
    def generate(cls, mode: str, key_bits: int = 2048, *, scoring: bool = False) -> ActiveCrypto:
        """New keys. CKKS training contexts use the coefficient inner-product parameters of
        :mod:`models.crypto.ckks_coeff` (the platform gets the public key to rerandomise its
        results); scoring contexts use the default slot parameters (the platform encrypts its
        partial scores)."""
        if mode == "paillier":
            return cls(mode, keypair=PaillierKeypair.generate(key_bits))
        if mode == "ckks":
            if scoring:
                return cls(mode, ckks=CkksContext.create())
            return cls(mode, ckks=ckks_coeff.create_context())
        raise InvalidArgument("mode must be 'paillier' or 'ckks'")

    @property
    def basis(self) -> str:
        return basis_of(self.mode)

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

    # ------------------------------------------------------------------ training
    def background_randomness(
        self, max_batch_rows: int, n_terms: int, n_bank_features: int
    ) -> AbstractContextManager[bool]:
        """Paillier: keep the encryption randomness of up to one batch's terms precomputed by
        the helper process while the block runs (:meth:`PaillierKeypair.background_pool`);
        CKKS: nothing."""
        if self.keypair is None:
            return contextlib.nullcontext(False)
        layout = paillier_terms.Layout(n_bank_features + 1, self.keypair.public_key.key_bits)
        return self.keypair.background_pool(max_batch_rows * n_terms * len(layout.chunks))

    def encrypt_terms(self, residual: np.ndarray, Xb: np.ndarray) -> CipherArray:
        """The encrypted expansion terms of a batch (see :class:`LrTermsRequest`): residual
        coefficients (rows x K) and the bank's design rows."""
        if self.keypair is not None:
            return paillier_terms.encrypt_terms(self.keypair, residual, Xb)
        return ckks_terms.encrypt_terms(self._coeff_key(), residual, Xb)

    def decrypt_bank_output(self, enc: CipherArray, n_bank_features: int) -> BankOutput:
        if self.keypair is not None:
            return paillier_terms.decrypt_bank_output(self.keypair, enc, n_bank_features)
        return ckks_terms.decrypt_bank_output(self._coeff_key(), enc, n_bank_features)

    def decrypt_masked(self, enc: CipherArray, n_values: int) -> list[bytes]:
        """What to hand back to the platform: uniform residues to the bank."""
        if self.keypair is not None:
            return paillier_terms.decrypt_masked(self.keypair, enc, n_values)
        return ckks_terms.decrypt_masked(self._coeff_key(), enc, n_values)

    def encrypt_loss_terms(self, coef: np.ndarray) -> CipherArray:
        """The encrypted validation-loss coefficients (rows x K, see
        :mod:`models.logreg.val_loss_terms`)."""
        if self.keypair is not None:
            return val_loss_terms.paillier_encrypt(self.keypair, coef)
        return val_loss_terms.ckks_encrypt(self._coeff_key(), coef)

    def read_loss(self, enc: CipherArray, coef: np.ndarray) -> float:
        """The summed validation loss from the platform's result and the bank's coefficients."""
        if self.keypair is not None:
            return val_loss_terms.paillier_read(self.keypair, enc, coef)
        return val_loss_terms.ckks_read(self._coeff_key(), enc, coef)

    # ------------------------------------------------------------------ prediction
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
        self._evaluator: ckks_coeff.CoeffEvaluator | None = None
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

    @property
    def basis(self) -> str:
        return basis_of(self.mode)

    def _coeff(self) -> ckks_coeff.CoeffEvaluator:
        assert self.ckks is not None
        if self._evaluator is None:
            self._evaluator = ckks_coeff.CoeffEvaluator(self.ckks)
        return self._evaluator

    def check_training_key(self) -> None:
        """Refuse keys that cannot run the training protocol (e.g. a slot-only CKKS context)."""
        if self.ckks is not None:
            self._coeff()

    def combine(
        self, enc_terms: CipherArray, psi: np.ndarray, Xp: np.ndarray, n_bank_features: int
    ) -> tuple[CipherArray, CipherArray, MaskState]:
        """(bank output, masked platform output, what unmasking needs) of one batch: ``psi``
        the basis values and ``Xp`` the design rows of its rows."""
        Xp = np.asarray(Xp, dtype=np.float64)
        if self.public_key is not None:
            bank, plat, masks = paillier_terms.combine(
                self.public_key, enc_terms, psi, Xp, n_bank_features, workers=self.workers
            )
            return bank, plat, MaskState(n_values=Xp.shape[1], paillier=masks)
        bank, cplat, kept = ckks_terms.combine(self._coeff(), enc_terms, psi, Xp, n_bank_features)
        return bank, cplat, MaskState(n_values=Xp.shape[1], ckks=kept)

    def combine_loss(self, enc_terms: CipherArray, basis: np.ndarray) -> CipherArray:
        """The summed validation loss under the bank's key (one result, rerandomised or sealed):
        ``basis`` holds the platform's values ``T_k(t_i)`` of its validation rows."""
        if self.public_key is not None:
            return val_loss_terms.paillier_combine(
                self.public_key, enc_terms, basis, workers=self.workers
            )
        return val_loss_terms.ckks_combine(self._coeff(), enc_terms, basis)

    def unmask(self, state: MaskState, returned: list[bytes]) -> np.ndarray:
        """The platform's gradient ``X_p^T d`` of the batch (float64)."""
        if state.paillier is not None:
            return paillier_terms.unmask(state.paillier, returned)
        assert state.ckks is not None
        return ckks_terms.unmask(self._coeff(), state.ckks, returned)

    def encrypt_scores(self, values: np.ndarray) -> tuple[CipherArray, int, int]:
        """Encrypt partial scores under the bank's key (for prediction).

        Paillier: ``v = round(s * 2^SCORE_FRAC_BITS)`` plus ``2^(b-2)`` (``|v| < 2^(b-2)``)
        packed several per plaintext, so the bank decrypts one ciphertext per group. Returns
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
