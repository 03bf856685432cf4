"""CKKS attack: the bank sends noiseless encryptions of chosen polynomials (it holds the secret
key, so it can strip the noise of its own ciphertexts; to the platform they look like any
fresh ciphertext) and reads the platform's plaintext polynomials out of the results.

Two queries, one row each in the report:

- ``noiseless-all``: per chunk of rows, ``enc(2^8 * X^0)`` without noise (zero elsewhere),
  three times (median per coefficient: a rare flood coefficient near 0 has fewer zero low bits).
  Every result is then ``2^8 W + E + mask`` with ``E`` the platform's own encryption noise
  (~2^10): wherever the mask leaves the low bits of a coefficient alone, the bank reads ``W``,
  i.e. **all** rows of two platform columns per result, in one gradient call. Old flood: the
  low ~48 bits are untouched (float64 rounding), so it reads every platform value.
- ``noiseless-readout``: ``enc(2^8 * X^r)`` for ``K`` rows ``r`` (one call each): the read-out
  coefficients, which a design leaves unmasked for the bank, then hold row ``r``'s platform
  values. This is the chosen-vector question for any design in which the bank's encrypted
  vector is free: exact read-outs of bank-chosen vectors reveal rows.

Figure: the fraction of the attacked platform values recovered within ``1e-6`` (standardised
units), best of the readings in :mod:`experiments.privacy.logreg_ckks_read`. Baseline: the same
pipeline on results uniform modulo ``Q``. Rule: leak if recovered - baseline > 0.02.

Entry points for another evaluator: ``read_all(target)``, ``read_rows(target, rows)`` and
``results(target, variant, quick)``, with a
:class:`~experiments.privacy.logreg_ckks_target.CkksTarget`.
"""

from __future__ import annotations

import functools
import time

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.logreg_ckks_read import (
    Reading,
    decrypt_all,
    empty_reading,
    median_planes,
    n_chunks,
    read_results,
    result_count,
    scalar,
    uniform_results,
)
from experiments.privacy.logreg_ckks_target import CkksTarget, control_target, old_target
from experiments.privacy.logreg_new_flow import new_targets
from experiments.privacy.logreg_seal import ExactKey

PROTOCOL = "logreg-ckks"
TOLERANCE = 0.02
QUERY_BITS = 8
REPEATS = 3


def _query(key: ExactKey, chunks: int, chunk: int, position: int) -> list[bytes]:
    zero = np.zeros(key.degree)
    poly = zero.copy()
    poly[position] = 2.0**QUERY_BITS
    return [key.encrypt(poly if c == chunk else zero, noiseless=True) for c in range(chunks)]


def read_all(target: CkksTarget, *, baseline: bool = False, seed: int = 0) -> Reading:
    """Every platform value via noiseless ``2^8 X^0`` queries, ``REPEATS`` per chunk (median of
    the readings; ``baseline``: the same decoding of uniform results)."""
    key = ExactKey(target.key)
    n, f = target.truth.shape
    half = key.degree // 2
    chunks = n_chunks(target, key)
    reading = empty_reading((n, f))
    rng = np.random.default_rng(seed)
    count = result_count(target, key) if baseline else 0
    for c in range(chunks):
        rows = np.arange(c * half, min(n, (c + 1) * half))
        repeats = [
            uniform_results(key, count, rng)
            if baseline
            else decrypt_all(key, target.respond(_query(key, chunks, c, 0)))
            for _ in range(REPEATS)
        ]
        decode = functools.partial(target.layout.decode_all, rows=rows.size)
        read_results(reading, median_planes(repeats, scalar(2.0**QUERY_BITS)), rows, decode)
    return reading


def read_rows(
    target: CkksTarget, rows: np.ndarray, *, baseline: bool = False, seed: int = 0
) -> Reading:
    """Rows ``rows`` via one noiseless ``2^8 X^r`` query each, read at the read-outs."""
    key = ExactKey(target.key)
    f = target.truth.shape[1]
    half = key.degree // 2
    chunks = n_chunks(target, key)
    reading = empty_reading((len(rows), f))
    rng = np.random.default_rng(seed)
    count = result_count(target, key) if baseline else 0
    for i, r in enumerate(rows):
        c, pos = divmod(int(r), half)
        if baseline:
            ms = uniform_results(key, count, rng)
        else:
            ms = decrypt_all(key, target.respond(_query(key, chunks, c, pos)))
        decode = functools.partial(target.layout.decode_row, r=pos)
        read_results(reading, median_planes([ms], scalar(2.0**QUERY_BITS)), i, decode)
    return reading


def probe_rows(target: CkksTarget, count: int) -> np.ndarray:
    """``count`` rows spread over the batch, row 0 excluded (its read-out is the inner product
    with ``X^0``: a scrambled encoding still keeps it)."""
    n = target.truth.shape[0]
    return np.unique(np.linspace(1, n - 1, count).astype(np.int64))


def results(target: CkksTarget, variant: str, quick: bool = True) -> list[AttackResult]:
    """Both queries against ``target`` as report rows."""
    out = []
    t0 = time.perf_counter()
    got, plane, corr = read_all(target).best(target.truth)
    base, _, base_corr = read_all(target, baseline=True).best(target.truth)
    rule, leak = gap_rule(got, base, TOLERANCE)
    out.append(
        AttackResult(
            PROTOCOL,
            "noiseless-all",
            variant,
            got,
            base,
            rule,
            leak,
            {
                "figure": "fraction of platform values recovered within 1e-6",
                "plane": plane,
                "mean_abs_corr": corr,
                "baseline_mean_abs_corr": base_corr,
                "rows": int(target.truth.shape[0]),
                "calls": REPEATS * n_chunks(target, ExactKey(target.key)),
                "columns": int(target.truth.shape[1]),
                "evaluator": target.label,
                "seconds": round(time.perf_counter() - t0, 2),
            },
        )
    )
    t0 = time.perf_counter()
    rows = probe_rows(target, 8 if quick else 64)
    truth = target.truth[rows]
    got, plane, corr = read_rows(target, rows).best(truth)
    base, _, base_corr = read_rows(target, rows, baseline=True).best(truth)
    rule, leak = gap_rule(got, base, TOLERANCE)
    out.append(
        AttackResult(
            PROTOCOL,
            "noiseless-readout",
            variant,
            got,
            base,
            rule,
            leak,
            {
                "figure": "fraction of the probed rows' platform values recovered within 1e-6",
                "plane": plane,
                "mean_abs_corr": corr,
                "baseline_mean_abs_corr": base_corr,
                "probed_rows": int(rows.size),
                "calls": int(rows.size),
                "evaluator": target.label,
                "seconds": round(time.perf_counter() - t0, 2),
            },
        )
    )
    return out


def run(quick: bool = False) -> list[AttackResult]:
    own, bank = new_targets(quick)
    return (
        results(old_target(quick), "before", quick)
        + results(control_target(quick), "control-uniform-mask", quick)
        + results(own, "ckks", quick)
        + results(bank, "ckks-bank-output", quick)
    )
