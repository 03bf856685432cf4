"""Reference re-enactment of the OLD CKKS gradient path of vertical LR (``before`` variant).

A compact copy of what ``models/crypto/ckks_inner.py`` did before issue 12, kept here so the
attacks keep measuring it after the product code is replaced:

- the bank encodes a chunk of ``N/2`` residuals as ``D(X) = sum_r round(2^40 d_r) X^r`` and
  sends a seeded symmetric encryption; each pair of platform columns ``(a, b)`` becomes
  ``W(X) = sum_r round(2^30 a_r) X^-r + sum_r round(2^30 b_r) X^(H-r)``;
- both polynomials went through SEAL's encoder as "their canonical embedding" computed with
  the slot order ``zeta^(5^k)``. SEAL's encoder uses ``zeta^(3^k)``, so the plaintexts SEAL
  actually held were the roundings of an algebra automorphism of ``D`` and ``W`` (not ``D``
  and ``W``; see :func:`old_embed`). Slot sums are invariant under it, so the two read-out
  coefficients still came out right; the attacks undo it (the bank knows the code);
- the platform multiplies, sums over chunks and adds a **flood**: Gaussian slots of standard
  deviation ``sigma sqrt(N/4)`` (``sigma = 2^36`` value units) drawn in float64 from a seeded
  PCG64 and rounded by SEAL's encoder, encrypted under the bank's public key. In float64 a
  coefficient near ``2^106`` is a multiple of about ``2^54``: the flood leaves the low ~48
  bits of every coefficient alone;
- the bank decrypts to float64 slots and reads ``c_0 = (2/N) sum Re z``,
  ``c_H = (2/N) sum Im z``: ``v_j + flood_j``; the platform subtracts ``flood_j``.
"""

from __future__ import annotations

import math
import secrets
from typing import Any

import numpy as np
import tenseal.sealapi as seal

from experiments.privacy.logreg_seal import embed, load_ciphertext, save
from models.crypto.ckks import CkksContext

#: Coefficient modulus of the old inner-product contexts (120-bit data level + special prime).
OLD_COEFF_MOD_BIT_SIZES: tuple[int, ...] = (60, 60, 60)
RESIDUAL_SCALE_BITS = 40
FEATURE_SCALE_BITS = 30
OLD_FLOOD_SIGMA = 2.0**36
#: The slot order the old code assumed (SEAL's is 3).
OLD_GENERATOR = 5


def new_bank_context() -> CkksContext:
    """A bank key pair with the old inner-product parameters."""
    return CkksContext.create(coeff_mod_bit_sizes=OLD_COEFF_MOD_BIT_SIZES)


def old_embed(coeffs: np.ndarray) -> np.ndarray:
    """The old code's "canonical embedding" (slot order ``zeta^(5^k)``)."""
    return embed(coeffs, OLD_GENERATOR)


def residual_poly(d: np.ndarray, degree: int) -> np.ndarray:
    out = np.zeros(degree)
    out[: d.shape[0]] = np.round(d * 2.0**RESIDUAL_SCALE_BITS)
    return out


def column_pair_poly(a: np.ndarray, b: np.ndarray | None, degree: int) -> np.ndarray:
    half = degree // 2
    ra = np.round(a * 2.0**FEATURE_SCALE_BITS)
    out = np.zeros(degree)
    out[0] = ra[0] if ra.size else 0.0
    if ra.size > 1:
        out[degree - np.arange(1, ra.size)] = -ra[1:]
    if b is not None and b.size:
        out[half - np.arange(b.size)] = np.round(b * 2.0**FEATURE_SCALE_BITS)
    return out


def pair_coefficients(slots: np.ndarray) -> tuple[float, float]:
    degree = 2 * slots.shape[0]
    total = np.sum(slots)
    return 2.0 / degree * float(total.real), 2.0 / degree * float(total.imag)


class _Seal:
    def __init__(self, ctx: CkksContext) -> None:
        self.ctx = ctx
        self.seal_context = ctx.native.seal_context().data
        self.top = self.seal_context.first_parms_id()
        self.degree = ctx.params.poly_modulus_degree
        self.encoder = seal.CKKSEncoder(self.seal_context)

    def encode_old(self, coeffs: np.ndarray) -> Any:
        pt = seal.Plaintext()
        self.encoder.encode(old_embed(coeffs).tolist(), self.top, 1.0, pt)
        return pt


class OldBankCkks(_Seal):
    """The old bank side: seeded symmetric ``enc(D)`` per chunk, float64 read-outs."""

    def __init__(self, ctx: CkksContext) -> None:
        super().__init__(ctx)
        secret = ctx.native.secret_key().data
        self._encryptor = seal.Encryptor(self.seal_context, secret)
        self._decryptor = seal.Decryptor(self.seal_context, secret)

    def encrypt_residual(self, d: np.ndarray) -> list[bytes]:
        half = self.degree // 2
        return [
            save(
                self._encryptor.encrypt_symmetric(
                    self.encode_old(residual_poly(d[s : s + half], self.degree))
                )
            )
            for s in range(0, d.size, half)
        ]

    def decrypt_pairs(self, blobs: list[bytes], n_values: int) -> np.ndarray:
        out: list[float] = []
        pt = seal.Plaintext()
        for blob in blobs:
            self._decryptor.decrypt(load_ciphertext(self.seal_context, blob), pt)
            slots = np.asarray(self.encoder.decode_complex(pt)) * 2.0 ** -(
                RESIDUAL_SCALE_BITS + FEATURE_SCALE_BITS
            )
            out.extend(pair_coefficients(slots))
        return np.array(out[:n_values])


class OldFloodEvaluator(_Seal):
    """The old platform side: ``X^T enc(d)`` by coefficient-encoded products plus a flood.

    ``respond(blobs)`` is the attack interface (the platform's evaluation of its columns on the
    bank's chunk ciphertexts); ``masked_xt_d`` also returns the floods' read-out values, which
    the platform kept to unmask.
    """

    def __init__(self, public: CkksContext, X: np.ndarray, sigma: float = OLD_FLOOD_SIGMA):
        super().__init__(public)
        self._encryptor = seal.Encryptor(self.seal_context, public.native.public_key().data)
        self._evaluator = seal.Evaluator(self.seal_context)
        self.X = np.asarray(X, dtype=np.float64)
        self.sigma = sigma
        half = self.degree // 2
        n, f = self.X.shape
        self.plain = [
            [
                self.encode_old(
                    column_pair_poly(
                        self.X[s : s + half, j],
                        self.X[s : s + half, j + 1] if j + 1 < f else None,
                        self.degree,
                    )
                )
                for j in range(0, f, 2)
            ]
            for s in range(0, n, half)
        ]
        self._rng = np.random.default_rng(secrets.randbits(128))

    def _flood(self) -> tuple[Any, np.ndarray]:
        half = self.degree // 2
        unit = 2.0 ** (RESIDUAL_SCALE_BITS + FEATURE_SCALE_BITS)
        std = self.sigma * math.sqrt(half) / math.sqrt(2.0)
        slots = (self._rng.normal(0.0, std, half) + 1j * self._rng.normal(0.0, std, half)) * unit
        pt = seal.Plaintext()
        self.encoder.encode(slots.tolist(), self.top, 1.0, pt)
        ct = seal.Ciphertext()
        self._encryptor.encrypt(pt, ct)
        return ct, np.array(pair_coefficients(slots / unit))

    def masked_xt_d(self, blobs: list[bytes]) -> tuple[list[bytes], np.ndarray]:
        if len(blobs) != len(self.plain):
            raise ValueError("one ciphertext per chunk of rows")
        cts = [load_ciphertext(self.seal_context, b) for b in blobs]
        ev = self._evaluator
        out: list[bytes] = []
        totals: list[float] = []
        tmp = seal.Ciphertext()
        for p in range(len(self.plain[0])):
            acc = seal.Ciphertext()
            ev.multiply_plain(cts[0], self.plain[0][p], acc)
            for c in range(1, len(cts)):
                ev.multiply_plain(cts[c], self.plain[c][p], tmp)
                ev.add_inplace(acc, tmp)
            flood, pair = self._flood()
            ev.add_inplace(acc, flood)
            out.append(save(acc))
            totals.extend(pair.tolist())
        return out, np.array(totals[: self.X.shape[1]])

    def respond(self, blobs: list[bytes]) -> list[bytes]:
        return self.masked_xt_d(blobs)[0]
