"""Homomorphic layouts of the per-epoch validation loss (:mod:`models.logreg.val_loss`).

The bank encrypts its loss coefficients ``c_ik`` of terms ``k = 1 .. K-1`` (term 0 is
multiplied by ``T_0 = 1``: the bank adds ``sum_i c_i0`` itself); the platform multiplies them
by its basis values ``T_k(t_i)`` and sums over rows and terms. One result leaves the platform,
rerandomised; the bank decrypts ``sum_i sum_(k>=1) c_ik T_k(t_i)`` and nothing else.

**Paillier.** One ciphertext per row and term holding ``C_ik = round(c_ik 2^F_LC)`` (signed).
Exponents must be non-negative integers, so the platform raises ``E(C_ik)`` to
``e_ik = round((T_k(t_i) + 1) / 2 * 2^F_LE)`` in ``[0, 2^F_LE]`` and multiplies everything
(one multi-exponentiation):
``E(S)``, ``S = sum C_ik e_ik``; then a uniform ``r^n`` rerandomises it. The bank's read-out is
``2 S / 2^(F_LC + F_LE) - sum C_ik / 2^F_LC`` (it knows its own coefficients), exact up to the
rounding of the exponents (``2^-F_LE`` per term). The plaintext holds only this sum (no packed
slots, so nothing else to mask).

**CKKS.** Rows in chunks of ``N/2``; per chunk and term the bank encrypts
``forward_poly(c_k)``; the platform multiplies by ``pair_poly(T_k)``, accumulates over terms and
chunks and seals the result revealing coefficient 0 only
(:meth:`~models.crypto.ckks_coeff.CoeffEvaluator.seal`): every other coefficient the bank
decrypts is uniform modulo ``q``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.crypto.ckks_coeff import CoeffEvaluator, CoeffKey, forward_poly, pair_poly
from models.crypto.paillier import EncryptedVector, PaillierKeypair, PaillierPublicKey
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument

F_LC = 32
F_LE = 24
#: Largest |loss coefficient| accepted (partial scores are bounded by the protocol).
MAX_LOSS_COEF = 2.0**12
MAX_ROWS = 1 << 20
CKKS_BANK_BITS = 30
CKKS_PLATFORM_BITS = 30
#: A CKKS read-out beyond this (value units) means a tampered, foreign or overflowing result.
READ_LIMIT = 2.0**40


def _check_coefficients(coef: np.ndarray) -> None:
    n, K = coef.shape
    if K < 2 or n == 0 or n > MAX_ROWS:
        raise InvalidArgument("loss terms do not match the validation rows")
    if not np.all(np.isfinite(coef)) or np.abs(coef).max() > MAX_LOSS_COEF:
        raise InvalidArgument("loss coefficients are outside the fixed-point range")


def _check_basis(basis: np.ndarray) -> None:
    if basis.ndim != 2 or basis.shape[0] == 0 or basis.shape[1] < 2:
        raise InvalidArgument("basis values do not match the validation rows")
    if not np.all(np.isfinite(basis)) or np.abs(basis).max() > 1.0 + 1e-12:
        raise InvalidArgument("basis values must lie in [-1, 1]")


def _chunks(n: int, half: int) -> list[slice]:
    return [slice(s, min(s + half, n)) for s in range(0, n, half)]


# -- Paillier ---------------------------------------------------------------------------------
def paillier_fixed(coef: np.ndarray) -> np.ndarray:
    """The bank's fixed-point coefficients of terms ``1 .. K-1`` (rows x K-1, int64)."""
    _check_coefficients(coef)
    return np.round(coef[:, 1:] * 2.0**F_LC).astype(np.int64)


def paillier_encrypt(keypair: PaillierKeypair, coef: np.ndarray) -> CipherArray:
    """``E(C_ik)`` ordered (term, row), terms ``1 .. K-1``."""
    fixed = paillier_fixed(coef)
    return keypair.encrypt(fixed.T.reshape(-1).tolist()).to_wire()


def paillier_combine(
    pk: PaillierPublicKey, enc: CipherArray, basis: np.ndarray, *, workers: int | None = None
) -> CipherArray:
    """The platform's step: ``E(sum_ik C_ik e_ik)``, rerandomised (one ciphertext)."""
    _check_basis(basis)
    n, K = basis.shape
    vec = EncryptedVector.from_wire(enc, pk)
    if len(vec) != n * (K - 1):
        raise CryptoError("the encrypted loss terms do not match the validation rows")
    exps = np.round((basis[:, 1:] + 1.0) / 2.0 * 2.0**F_LE).astype(np.int64)
    total = vec.dot(exps.T.reshape(-1), workers=workers)
    return pk.rerandomize(total, workers=workers).to_wire()


def paillier_read(keypair: PaillierKeypair, enc: CipherArray, coef: np.ndarray) -> float:
    """The bank's read-out ``sum_i sum_k c_ik T_k(t_i)`` (term 0 included)."""
    fixed = paillier_fixed(coef)
    vec = EncryptedVector.from_wire(enc, keypair.public_key)
    if len(vec) != 1:
        raise CryptoError("the loss result has the wrong number of ciphertexts")
    s = int(keypair.decrypt(vec)[0])
    bound = fixed.size * int(MAX_LOSS_COEF) << (F_LC + F_LE + 1)
    if abs(s) > bound:
        raise CryptoError("the loss result decrypts out of range: tampered or foreign")
    doubled = 2 * s - int(fixed.sum()) * (1 << F_LE)
    return float(coef[:, 0].sum()) + doubled / 2.0 ** (F_LC + F_LE)


# -- CKKS -------------------------------------------------------------------------------------
def ckks_encrypt(key: CoeffKey, coef: np.ndarray) -> CipherArray:
    """``forward_poly(c_k)`` per chunk of ``N/2`` rows and term ``k >= 1``, ordered (chunk,
    term)."""
    _check_coefficients(coef)
    n, K = coef.shape
    deg = key.degree
    polys = [
        forward_poly(coef[sl, k], CKKS_BANK_BITS, deg)
        for sl in _chunks(n, deg // 2)
        for k in range(1, K)
    ]
    return key.wire(key.encrypt(polys))


def ckks_combine(ev: CoeffEvaluator, enc: CipherArray, basis: np.ndarray) -> CipherArray:
    """The platform's step: ``sum_k <c_k, T_k>`` over chunks, sealed revealing coefficient 0."""
    _check_basis(basis)
    n, K = basis.shape
    deg = ev.degree
    chunks = _chunks(n, deg // 2)
    blobs = ev.blobs(enc)
    if len(blobs) != len(chunks) * (K - 1):
        raise CryptoError("the encrypted loss terms do not match the validation rows")
    acc: Any = None
    i = 0
    for sl in chunks:
        for k in range(1, K):
            pt = ev.encode(pair_poly(basis[sl, k], None, CKKS_PLATFORM_BITS, deg))
            acc = ev.accumulate(acc, ev.load(blobs[i]), pt)
            i += 1
    ev.prepare(1)
    blob, _ = ev.seal(ev.finish(acc), reveal=(0,))
    return ev.wire([blob])


def ckks_read(key: CoeffKey, enc: CipherArray, coef: np.ndarray) -> float:
    """The bank's read-out ``sum_i sum_k c_ik T_k(t_i)`` (term 0 included)."""
    blobs = key.blobs(enc)
    if len(blobs) != 1:
        raise CryptoError("the loss result has the wrong number of ciphertexts")
    (value,) = key.read_values(blobs[0], (0,), CKKS_BANK_BITS + CKKS_PLATFORM_BITS, READ_LIMIT)
    return float(coef[:, 0].sum()) + float(value)
