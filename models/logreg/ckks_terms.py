"""CKKS layout of one vertical-LR batch: coefficient-encoded term vectors and inner products.

Rows are cut into chunks of ``N/2``. Per chunk and term ``k`` the bank encrypts

- ``D_k``: the residual coefficients ``r_k`` (one vector per ciphertext), for the platform's
  gradient ``X_p^T d = sum_k <r_k, psi_k * x_j>``;
- the bank-output vectors ``[r_k * xb_1, ..., r_k * xb_f, r_k]`` two per ciphertext
  (:func:`~models.crypto.ckks_coeff.forward_poly` with a second vector), for ``X_b^T d`` and
  ``sum d``: ``sum_k <v_k, psi_k>``.

The platform encodes its plaintexts ``psi_k`` and ``psi_k * x_j`` (two columns per plaintext),
multiplies and sums over terms and chunks, and seals each result
(:meth:`~models.crypto.ckks_coeff.CoeffEvaluator.seal`): bank outputs reveal their two
read-outs and nothing else; platform outputs are masked uniformly at the read-outs too, the bank
hands the raw read-outs back and the platform removes its masks. Scales: bank vectors ``2^30``
(``|v| <= 2^20``), platform vectors ``2^30`` (``|v| <= 2^10``), products ``2^60``.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from models.crypto.ckks_coeff import CoeffEvaluator, CoeffKey, forward_poly, pair_poly
from models.crypto.wire import CipherArray
from models.errors import CryptoError, InvalidArgument
from models.logreg.paillier_terms import BankOutput

BANK_SCALE_BITS = 30
PLATFORM_SCALE_BITS = 30
MAX_BANK_VALUE = 2.0**20
MAX_PLATFORM_VALUE = 2.0**10
#: A bank read-out beyond this (value units) means a tampered, foreign or overflowing result.
READ_LIMIT = 2.0**48


def _chunks(n: int, half: int) -> list[slice]:
    return [slice(s, min(s + half, n)) for s in range(0, n, half)]


def _pairs(count: int) -> list[tuple[int, int | None]]:
    return [(j, j + 1 if j + 1 < count else None) for j in range(0, count, 2)]


def _check(values: np.ndarray, limit: float, what: str) -> None:
    if values.size and (not np.all(np.isfinite(values)) or np.abs(values).max() > limit):
        raise InvalidArgument(f"{what} are outside the fixed-point range of the protocol")


def bank_vectors(residual: np.ndarray, Xb: np.ndarray, k: int) -> np.ndarray:
    """The bank-output vectors of term ``k`` (f_b + 1 columns)."""
    r = residual[:, k]
    return np.column_stack([r[:, None] * Xb, r])


def encrypt_terms(key: CoeffKey, residual: np.ndarray, Xb: np.ndarray) -> CipherArray:
    """The bank's term ciphertexts, ordered (chunk, term, [D, bank-output pairs...])."""
    n, K = residual.shape
    if K < 2 or Xb.shape[0] != n or n == 0:
        raise InvalidArgument("term arrays do not match the batch")
    deg, half = key.degree, key.degree // 2
    polys = []
    for sl in _chunks(n, half):
        for k in range(K):
            vecs = bank_vectors(residual[sl], Xb[sl], k)
            _check(vecs, MAX_BANK_VALUE, "bank values")
            polys.append(forward_poly(residual[sl, k], BANK_SCALE_BITS, deg))
            for j, j2 in _pairs(vecs.shape[1]):
                second = vecs[:, j2] if j2 is not None else None
                polys.append(forward_poly(vecs[:, j], BANK_SCALE_BITS, deg, second=second))
    return key.wire(key.encrypt(polys))


def combine(
    ev: CoeffEvaluator,
    enc_terms: CipherArray,
    psi: np.ndarray,
    Xp: np.ndarray,
    n_bank_features: int,
) -> tuple[CipherArray, CipherArray, list[int]]:
    """The platform's step: (bank output, masked platform outputs, kept masks)."""
    n, K = psi.shape
    if Xp.shape[0] != n or n == 0:
        raise InvalidArgument("platform arrays do not match the batch")
    _check(Xp, MAX_PLATFORM_VALUE, "platform features")
    deg, half = ev.degree, ev.degree // 2
    chunks = _chunks(n, half)
    bank_pairs = _pairs(n_bank_features + 1)
    per_term = 1 + len(bank_pairs)
    blobs = ev.blobs(enc_terms)
    if len(blobs) != len(chunks) * K * per_term:
        raise CryptoError("the encrypted terms do not match the batch")
    plat_pairs = _pairs(Xp.shape[1])
    plat_acc: list[Any] = [None] * len(plat_pairs)
    bank_acc: list[Any] = [None] * len(bank_pairs)
    i = 0
    for sl in chunks:
        for k in range(K):
            p = psi[sl, k]
            d_ct = ev.load(blobs[i])
            for m, (a, b) in enumerate(plat_pairs):
                col_b = p * Xp[sl, b] if b is not None else None
                pt = ev.encode(pair_poly(p * Xp[sl, a], col_b, PLATFORM_SCALE_BITS, deg))
                plat_acc[m] = ev.accumulate(plat_acc[m], d_ct, pt)
            psi_pt = ev.encode(pair_poly(p, None, PLATFORM_SCALE_BITS, deg))
            for m in range(len(bank_pairs)):
                bank_acc[m] = ev.accumulate(bank_acc[m], ev.load(blobs[i + 1 + m]), psi_pt)
            i += per_term
    ev.prepare(len(bank_pairs) + len(plat_pairs))
    bank_out = [ev.seal(ev.finish(acc), reveal=(0, half))[0] for acc in bank_acc]
    kept: list[int] = []
    plat_out = []
    for m, (_, b) in enumerate(plat_pairs):
        blob, masks = ev.seal(ev.finish(plat_acc[m]), keep=(0, half))
        plat_out.append(blob)
        kept.append(masks[0])
        if b is not None:
            kept.append(masks[half])
    return ev.wire(bank_out), ev.wire(plat_out), kept


def decrypt_bank_output(key: CoeffKey, enc: CipherArray, n_bank_features: int) -> BankOutput:
    half = key.degree // 2
    blobs = key.blobs(enc)
    pairs = _pairs(n_bank_features + 1)
    if len(blobs) != len(pairs):
        raise CryptoError("the bank's result has the wrong number of ciphertexts")
    values: list[float] = []
    for blob, (_, b) in zip(blobs, pairs, strict=True):
        pos = (0, half) if b is not None else (0,)
        values.extend(key.read_values(blob, pos, BANK_SCALE_BITS + PLATFORM_SCALE_BITS, READ_LIMIT))
    return BankOutput(
        residual_sum=float(values[-1]), gradient=np.asarray(values[:-1], dtype=np.float64)
    )


def decrypt_masked(key: CoeffKey, enc: CipherArray, n_values: int) -> list[bytes]:
    """The raw read-outs (uniform residues mod q to the bank), to hand back to the platform."""
    half = key.degree // 2
    blobs = key.blobs(enc)
    pairs = _pairs(n_values)
    if len(blobs) != len(pairs):
        raise CryptoError("the platform's result has the wrong number of ciphertexts")
    width = (key.layout.q.bit_length() + 7) // 8
    out: list[bytes] = []
    for blob, (_, b) in zip(blobs, pairs, strict=True):
        pos = (0, half) if b is not None else (0,)
        out.extend(v.to_bytes(width, "big") for v in key.read(blob, pos))
    return out


def unmask(ev: CoeffEvaluator, kept: list[int], returned: list[bytes]) -> np.ndarray:
    """The platform's gradient from the read-outs the bank handed back."""
    if len(returned) != len(kept):
        raise InvalidArgument("the returned gradient has the wrong number of values")
    width = (ev.layout.q.bit_length() + 7) // 8
    out = []
    for raw, m in zip(returned, kept, strict=True):
        if len(raw) != width:
            raise InvalidArgument("a returned gradient value has the wrong size")
        v = ev.unmask(int.from_bytes(raw, "big"), m) / 2.0 ** (
            BANK_SCALE_BITS + PLATFORM_SCALE_BITS
        )
        if not abs(v) <= READ_LIMIT:
            raise InvalidArgument("an unmasked gradient entry is out of range")
        out.append(v)
    return np.asarray(out, dtype=np.float64)
