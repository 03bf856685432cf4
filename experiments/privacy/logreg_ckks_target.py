"""The CKKS attack interface: a platform evaluator under attack, and how its results are read.

:class:`CkksTarget` is what the CKKS attacks take (the lead's adapter builds one for the new
protocol):

``key``
    the bank's private :class:`~models.crypto.ckks.CkksContext` (training parameters);
``respond(blobs) -> blobs``
    the platform's evaluation on the bank's ciphertexts: one SEAL ciphertext per chunk of
    ``N/2`` rows (top level, scale 1, residual of row ``r`` of a chunk at ``X^r``), returning
    the result ciphertexts (one per pair of platform columns in the old flow) exactly as the
    bank receives them;
``truth``
    ``(rows, f)``: the platform values the evaluator multiplies with, in the bank's row order
    (only used to score the attack);
``layout``
    a :class:`Layout`: where the platform's values sit in its plaintext polynomials, i.e. how
    a result of the query ``c * X^0`` (every row at once) or ``c * X^r`` (row ``r`` at the
    read-out coefficients) maps back to platform values: :class:`PairLayout` (two columns per
    result, the old gradient and the new platform outputs) or :class:`ColumnLayout` (one
    column per result, e.g. the new bank outputs ``enc(v) * psi_k``).

Two evaluators live here besides the old one (:mod:`experiments.privacy.logreg_old_ckks`):
:class:`UniformMaskEvaluator`, a control that encodes exactly (SEAL's slot order), adds a mask
uniform modulo ``q`` on every coefficient except the read-outs ``0`` and ``N/2`` and a fresh
public-key encryption of zero (the shape of the new design), so the attacks can show both what
it closes and what it leaves open.
"""

from __future__ import annotations

import functools
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Protocol

import numpy as np
import tenseal.sealapi as seal

from experiments.privacy.logreg_old_ckks import (
    FEATURE_SCALE_BITS,
    OLD_GENERATOR,
    OldFloodEvaluator,
    column_pair_poly,
    new_bank_context,
)
from experiments.privacy.logreg_seal import (
    ciphertext_from_rns,
    embed,
    load_ciphertext,
    raw_words,
    save,
    unembed,
)
from experiments.privacy.logreg_view import load_default_credit, standardize
from models.crypto.ckks import CkksContext

#: A platform value counts as recovered when within this of the truth (standardised units).
RECOVERY_TOL = 1e-6


class Layout(Protocol):
    """How the platform's values sit in its plaintext polynomials (one per result ciphertext).

    ``plain`` below: the coefficients of each result's plaintext divided by the query's scalar
    ``c`` (floats), i.e. the platform's polynomials multiplied by ``X^0`` or ``X^r``.
    """

    @property
    def name(self) -> str: ...

    def decode_all(self, plain: list[np.ndarray], rows: int) -> np.ndarray:
        """``(rows, f)`` platform values of a chunk from the results of the query ``c X^0``."""
        ...

    def decode_row(self, plain: list[np.ndarray], r: int) -> np.ndarray:
        """``(f,)`` values of row ``r`` from the read-out coefficients of the query ``c X^r``."""
        ...


def _pair_columns(W: np.ndarray, rows: int) -> tuple[np.ndarray, np.ndarray]:
    """Columns ``a``, ``b`` of ``W = sum a_r X^-r + sum b_r X^(H-r)`` (the old pair layout)."""
    N = W.shape[0]
    H = N // 2
    r = np.arange(1, rows)
    a = np.concatenate([[W[0]], -W[N - r]])
    b = W[H - np.arange(rows)]
    return a / 2.0**FEATURE_SCALE_BITS, b / 2.0**FEATURE_SCALE_BITS


@dataclass(frozen=True)
class PairLayout:
    """Columns in pairs per result (``W`` above, features at scale ``2^30``).

    ``generator``: the slot order the platform's encoder assumed; 3 (SEAL's) means the plaintext
    is ``W`` itself; the old code used 5, so its plaintexts were an automorphic image of ``W``
    that the bank undoes with :func:`unembed` after reading all coefficients (a read-out alone
    then gives a coefficient of the image, not a platform value).
    """

    f: int
    generator: int = 3

    @property
    def name(self) -> str:
        return f"pairs-g{self.generator}"

    def _plain_to_w(self, P: np.ndarray) -> np.ndarray:
        if self.generator == 3:
            return P
        return unembed(embed(P), self.generator)

    def decode_all(self, plain: list[np.ndarray], rows: int) -> np.ndarray:
        cols: list[np.ndarray] = []
        for P in plain:
            cols.extend(_pair_columns(self._plain_to_w(P), rows))
        return np.stack(cols[: self.f], axis=1)

    def decode_row(self, plain: list[np.ndarray], r: int) -> np.ndarray:
        N = plain[0].shape[0]
        out: list[float] = []
        for P in plain:  # (X^r W)_0 = -W_(N-r) = a_r, (X^r W)_H = W_(H-r) = b_r
            out += [P[0], P[N // 2]]
        return np.array(out[: self.f]) / 2.0**FEATURE_SCALE_BITS


@dataclass(frozen=True)
class ColumnLayout:
    """One column per result (``W = sum_r a_r X^-r`` at scale ``2^30``, read-out at coefficient
    0), e.g. the new bank-output products ``enc(v) * psi_k``; ``f`` results."""

    f: int

    @property
    def name(self) -> str:
        return "column"

    def decode_all(self, plain: list[np.ndarray], rows: int) -> np.ndarray:
        N = plain[0].shape[0]
        r = np.arange(1, rows)
        cols = [np.concatenate([[P[0]], -P[N - r]]) for P in plain[: self.f]]
        return np.stack(cols, axis=1) / 2.0**FEATURE_SCALE_BITS

    def decode_row(self, plain: list[np.ndarray], r: int) -> np.ndarray:
        return np.array([P[0] for P in plain[: self.f]]) / 2.0**FEATURE_SCALE_BITS


@dataclass
class CkksTarget:
    """A platform evaluator under attack (see the module docstring)."""

    key: CkksContext
    respond: Callable[[list[bytes]], list[bytes]]
    truth: np.ndarray
    layout: Layout
    label: str = ""


def recovered_fraction(est: np.ndarray, truth: np.ndarray, tol: float = RECOVERY_TOL) -> float:
    """Fraction of platform values the estimate reproduces within ``tol``."""
    ok = np.isfinite(est) & (np.abs(est - truth) <= tol)
    return float(np.mean(ok))


def mean_abs_corr(est: np.ndarray, truth: np.ndarray) -> float:
    out = []
    for j in range(truth.shape[1]):
        e, t = est[:, j], truth[:, j]
        good = np.isfinite(e)
        if good.sum() < 3 or np.std(e[good]) == 0 or np.std(t[good]) == 0:
            out.append(0.0)
            continue
        out.append(abs(float(np.corrcoef(e[good], t[good])[0, 1])))
    return float(np.mean(out))


# -- the control evaluator -----------------------------------------------------------------------
class UniformMaskEvaluator:
    """Exact coefficient encoding, products, a mask uniform mod ``q`` on every coefficient but
    ``keep`` (the read-outs), and a fresh public-key encryption (the new design's shape)."""

    def __init__(self, public: CkksContext, X: np.ndarray, keep: tuple[int, ...] | None = None):
        self.seal_context = public.native.seal_context().data
        data = self.seal_context.first_context_data()
        self.top = self.seal_context.first_parms_id()
        self.degree = int(data.parms().poly_modulus_degree())
        self.primes = np.array([m.value() for m in data.parms().coeff_modulus()], dtype=np.uint64)
        self.keep = keep if keep is not None else (0, self.degree // 2)
        self._encoder = seal.CKKSEncoder(self.seal_context)
        self._encryptor = seal.Encryptor(self.seal_context, public.native.public_key().data)
        self._ev = seal.Evaluator(self.seal_context)
        self._rng = np.random.default_rng()  # a control, not a product: no CSPRNG needed
        half = self.degree // 2
        X = np.asarray(X, dtype=np.float64)
        n, f = X.shape
        self.plain = [
            [
                self._encode(
                    column_pair_poly(
                        X[s : s + half, j],
                        X[s : s + half, j + 1] if j + 1 < f else None,
                        self.degree,
                    )
                )
                for j in range(0, f, 2)
            ]
            for s in range(0, n, half)
        ]

    def _encode(self, coeffs: np.ndarray) -> Any:
        pt = seal.Plaintext()
        self._encoder.encode(embed(coeffs).tolist(), self.top, 1.0, pt)
        return pt

    def _masked_zero(self) -> Any:
        ct = seal.Ciphertext()
        self._encryptor.encrypt_zero(ct)
        self._ev.transform_from_ntt_inplace(ct)
        L = self.primes.size
        words = raw_words(ct, 2 * L * self.degree).reshape(2, L, self.degree)
        mask = self._rng.integers(0, 2**63, size=(L, self.degree), dtype=np.uint64)
        mask %= self.primes[:, None]
        mask[:, list(self.keep)] = 0
        c0 = (words[0] % self.primes[:, None] + mask) % self.primes[:, None]
        out = ciphertext_from_rns(self.seal_context, ct, [c0, words[1]])
        self._ev.transform_to_ntt_inplace(out)
        return out

    def respond(self, blobs: list[bytes]) -> list[bytes]:
        cts = [load_ciphertext(self.seal_context, b) for b in blobs]
        out = []
        tmp = seal.Ciphertext()
        for p in range(len(self.plain[0])):
            acc = seal.Ciphertext()
            self._ev.multiply_plain(cts[0], self.plain[0][p], acc)
            for c in range(1, len(cts)):
                self._ev.multiply_plain(cts[c], self.plain[c][p], tmp)
                self._ev.add_inplace(acc, tmp)
            self._ev.add_inplace(acc, self._masked_zero())
            out.append(save(acc))
        return out


# -- targets on default_credit -------------------------------------------------------------------
def platform_chunk(quick: bool, seed: int = 0) -> np.ndarray:
    """The platform's standardised features on one batch of training rows (quick: 2,000 rows,
    one chunk; full: 8,192 rows, two chunks)."""
    n = 2000 if quick else 8192
    split = load_default_credit(3000 if quick else 30000, seed)
    rows = np.arange(n)
    return standardize(split.X_p, rows)[rows]


@functools.lru_cache(maxsize=4)
def _bank_context(tag: str) -> CkksContext:
    return new_bank_context()


def old_target(quick: bool) -> CkksTarget:
    """The old flooded evaluator (``before``) on default_credit platform columns."""
    ctx = _bank_context("old")
    X = platform_chunk(quick)
    ev = OldFloodEvaluator(CkksContext.from_bytes(ctx.public_bytes()), X)
    return CkksTarget(ctx, ev.respond, X, PairLayout(X.shape[1], OLD_GENERATOR), "old-flood")


def control_target(quick: bool) -> CkksTarget:
    """The uniform-mask control (exact encoding, mask on every coefficient but the read-outs)."""
    ctx = _bank_context("control")
    X = platform_chunk(quick)
    ev = UniformMaskEvaluator(CkksContext.from_bytes(ctx.public_bytes()), X)
    return CkksTarget(ctx, ev.respond, X, PairLayout(X.shape[1], 3), "uniform-mask-control")
