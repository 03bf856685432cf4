"""Reading platform values out of decrypted CKKS results (shared by the CKKS attacks).

A result decrypts (exactly, :class:`~experiments.privacy.logreg_seal.ExactKey`) to integers
``m`` modulo ``Q``. The bank does not know which bits the platform's masking left alone, so it
tries a few readings ("planes") and the figure keeps the best: the low ``L`` bits centred
(``L`` = 44, 46, 47, 48: an old flood is a float64 rounded at ~2^54 granularity) and the whole
centred value (exact read-out coefficients). Each plane is divided by what the bank's query
multiplied the platform's plaintext with (a scalar, or its own polynomial ``D'`` in the
evaluation domain), then mapped to platform values by the target's layout. The **baseline**
runs the identical pipeline on integers uniform modulo ``Q``: what a result that carries no
information gives.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from experiments.privacy.logreg_ckks_target import CkksTarget, mean_abs_corr, recovered_fraction
from experiments.privacy.logreg_seal import ExactKey, centred_low_bits, low_words

LOW_BITS: tuple[int, ...] = (44, 46, 47, 48)

Divide = Callable[[np.ndarray], np.ndarray]
#: A decrypted result as the readings need it: its integers mod 2^64 and as float64.
Decrypted = tuple[np.ndarray, np.ndarray]


def decrypted(m: np.ndarray) -> Decrypted:
    """From exact integers (object array, centred mod ``Q``)."""
    return low_words(m), np.asarray(m, dtype=object).astype(np.float64)


def planes(result: Decrypted, divide: Divide) -> dict[str, np.ndarray]:
    """The bank's readings of one decrypted result, divided by the query's factor."""
    words, value = result
    out = {f"low{L}": divide(centred_low_bits(words, L).astype(np.float64)) for L in LOW_BITS}
    out["all"] = divide(value)
    return out


@dataclass
class Reading:
    """Estimates of platform values per plane, and the best one's figures."""

    estimates: dict[str, np.ndarray]

    def best(self, truth: np.ndarray) -> tuple[float, str, float]:
        """(recovered fraction, plane, mean |corr|) of the best plane."""
        scored = [
            (recovered_fraction(e, truth), name, mean_abs_corr(e, truth))
            for name, e in self.estimates.items()
        ]
        frac, name, corr = max(scored, key=lambda t: (t[0], t[2]))
        return frac, name, corr


def empty_reading(shape: tuple[int, int]) -> Reading:
    names = [f"low{L}" for L in LOW_BITS] + ["all"]
    return Reading({name: np.full(shape, np.nan) for name in names})


def median_planes(repeats: list[list[Decrypted]], divide: Divide) -> list[dict[str, np.ndarray]]:
    """Per result ciphertext, each reading's median over repeated calls (a coefficient that a
    call's mask left in disorder is outvoted); one call: its readings."""
    per = [[planes(m, divide) for m in ms] for ms in repeats]
    return [
        {name: np.median([call[p][name] for call in per], axis=0) for name in per[0][p]}
        for p in range(len(per[0]))
    ]


def read_results(
    reading: Reading,
    per_result: list[dict[str, np.ndarray]],
    where: np.ndarray | int,
    decode: Callable[[list[np.ndarray]], np.ndarray],
) -> None:
    """Decode the readings of each result ciphertext (:func:`median_planes`) into the rows
    ``where`` of ``reading``; ``decode`` maps the plaintexts (one per result) to platform
    values."""
    for name in reading.estimates:
        reading.estimates[name][where] = decode([p[name] for p in per_result])


def uniform_results(key: ExactKey, count: int, rng: np.random.Generator) -> list[Decrypted]:
    """``count`` decrypted results that carry no information: integers uniform modulo ``Q``
    (their low 64 bits are uniform, and their value uniform in ``(-Q/2, Q/2]``, to within
    ``2^-56``)."""
    n, Q = key.degree, float(key.modulus)
    return [
        (rng.integers(0, 2**64, n, dtype=np.uint64), rng.uniform(-Q / 2, Q / 2, n))
        for _ in range(count)
    ]


def decrypt_all(key: ExactKey, blobs: list[bytes]) -> list[Decrypted]:
    return [decrypted(key.decrypt(b)) for b in blobs]


def scalar(c: float) -> Divide:
    return lambda plane: plane / c


def result_count(target: CkksTarget, key: ExactKey) -> int:
    """How many result ciphertexts the evaluator returns per call (one call on zeros)."""
    zero = np.zeros(key.degree)
    return len(target.respond([key.encrypt(zero) for _ in range(n_chunks(target, key))]))


def n_chunks(target: CkksTarget, key: ExactKey) -> int:
    return -(-target.truth.shape[0] // (key.degree // 2))
