"""CKKS attack: the low bits of a flooded coefficient are the low bits of the unflooded product.

The old flood was drawn in float64 and rounded by SEAL's encoder: near its magnitude (~2^106
in product units) a double is a multiple of ~2^54, so the low ~48 bits of every decrypted
coefficient equal those of ``D' * W + E`` (``D'``: what the bank's ciphertext decrypts to, which
the key holder knows exactly, noise included; ``W``: the platform's plaintext; ``E``: the
platform's encryption noise, ~2^10). Measured on an honest gradient call (``details``:
``honest_low{L}_fraction``, the share of coefficients whose low ``L`` bits match the product up
to ``E``).

The attack needs no noiseless ciphertext: the bank sends the residual vector
``(2^-32, 0, ..., 0)`` for one chunk (a valid residual, honestly encrypted; zeros elsewhere),
so its ciphertexts decrypt to ``D' = 2^8 + e`` with their own small noise ``e`` (the key holder
knows ``e`` exactly). The low 44 bits of ``m = D' W + E + flood`` are then those of ``D' W + E``
(``|D' W| < 2^43``); in the evaluation domain (the ``N`` roots of ``X^N + 1``) this is a linear
system per root in the chunks' ``W``, which gives ``W`` up to ``E / |D'(zeta)|`` (~1e-9 in
value units). A rare flood coefficient near 0 has fewer zero low bits and spoils the whole
solve, so the bank repeats the ``chunks`` calls ``REPEATS = 3`` times (fresh noise) and takes
the median per coefficient: every platform value of the batch from ``3 x chunks`` gradient
calls.

Figure, baseline and rule as in :mod:`experiments.privacy.logreg_ckks_noiseless`.
Entry point for another evaluator: ``results(target, variant)``.
"""

from __future__ import annotations

import time

import numpy as np
import tenseal.sealapi as seal

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.logreg_ckks_read import (
    LOW_BITS,
    Reading,
    decrypt_all,
    empty_reading,
    n_chunks,
    planes,
    result_count,
    uniform_results,
)
from experiments.privacy.logreg_ckks_target import (
    CkksTarget,
    PairLayout,
    control_target,
    old_target,
)
from experiments.privacy.logreg_new_flow import new_targets
from experiments.privacy.logreg_old_ckks import column_pair_poly, residual_poly
from experiments.privacy.logreg_seal import (
    ExactKey,
    centred_low_bits,
    embed,
    low_words,
    negacyclic_eval,
    negacyclic_from_eval,
)

PROTOCOL = "logreg-ckks"
TOLERANCE = 0.02
QUERY_BITS = 8
REPEATS = 3


def read_chosen_residual(target: CkksTarget, *, baseline: bool = False, seed: int = 0) -> Reading:
    """Every platform value from honestly encrypted ``2^8 X^0`` residual chunks."""
    key = ExactKey(target.key)
    n, f = target.truth.shape
    N, half = key.degree, key.degree // 2
    chunks, count = n_chunks(target, key), result_count(target, key)
    rng = np.random.default_rng(seed)
    solved: dict[str, list[np.ndarray]] = {}
    for _ in range(REPEATS):
        D = np.zeros((N, chunks, chunks), dtype=complex)
        M: dict[str, np.ndarray] = {}
        for q in range(chunks):  # one call per chunk: a square system per root
            polys = [np.zeros(N) for _ in range(chunks)]
            polys[q][0] = 2.0**QUERY_BITS
            blobs = [key.encrypt(p) for p in polys]
            for c, blob in enumerate(blobs):  # the bank knows their exact decryptions
                D[:, q, c] = negacyclic_eval(key.decrypt(blob).astype(np.float64))
            if baseline:
                ms = uniform_results(key, count, rng)
            else:
                ms = decrypt_all(key, target.respond(blobs))
            for p, m in enumerate(ms):
                for name, plane in planes(m, lambda x: x).items():
                    M.setdefault(name, np.zeros((N, chunks, count), dtype=complex))
                    M[name][:, q, p] = negacyclic_eval(plane)
        for name, values in M.items():
            W = np.linalg.solve(D, values)  # per root: D' W = m
            coeffs = np.stack(
                [[negacyclic_from_eval(W[:, c, p]) for p in range(count)] for c in range(chunks)]
            )
            solved.setdefault(name, []).append(coeffs)
    reading = empty_reading((n, f))
    for name, per_repeat in solved.items():
        # a flood coefficient with fewer zero low bits spoils one repeat: the median drops it
        coeffs = np.median(np.stack(per_repeat), axis=0)
        for c in range(chunks):
            rows = np.arange(c * half, min(n, (c + 1) * half))
            plain = [coeffs[c, p] for p in range(count)]
            reading.estimates[name][rows] = target.layout.decode_all(plain, rows.size)
    return reading


def _negacyclic_mod64(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * b`` in ``Z[X]/(X^N + 1)`` modulo ``2^64`` (uint64 wrap-around)."""
    out = np.zeros_like(b)
    with np.errstate(over="ignore"):
        for i in np.flatnonzero(a):
            shifted = np.roll(b, i)
            shifted[:i] = ~shifted[:i] + np.uint64(1)
            out += a[i] * shifted
    return out


def honest_low_bits(target: CkksTarget, seed: int = 0) -> dict[str, float]:
    """On one honest gradient call (residuals uniform in [-1, 1], the platform's first column
    pair): the share of result coefficients whose low ``L`` bits equal those of the unflooded
    product ``D' W`` up to the platform's encryption noise (|difference| < 2^20)."""
    layout = target.layout
    if not isinstance(layout, PairLayout):
        return {}
    key = ExactKey(target.key)
    N, half = key.degree, key.degree // 2
    rows = min(half, target.truth.shape[0])
    if target.truth.shape[0] > half:
        return {}  # one chunk keeps the product a single polynomial product
    d = np.random.default_rng(seed).uniform(-1.0, 1.0, rows)

    def plaintext(coeffs: np.ndarray) -> np.ndarray:  # what the encoder of the layout holds
        pt = seal.Plaintext()
        key.encoder.encode(embed(coeffs, layout.generator).tolist(), key.top, 1.0, pt)
        return key.plaintext_coefficients(pt)

    D_sent = plaintext(residual_poly(d, N))
    blob = key.encrypt(D_sent.astype(np.float64))
    D_exact = low_words(key.decrypt(blob))
    W = low_words(plaintext(column_pair_poly(target.truth[:, 0], target.truth[:, 1], N)))
    m = low_words(key.decrypt(target.respond([blob])[0]))
    with np.errstate(over="ignore"):
        diff = m - _negacyclic_mod64(D_exact, W)
    return {
        f"honest_low{L}_fraction": float(np.mean(np.abs(centred_low_bits(diff, L)) < 2**20))
        for L in (*LOW_BITS, 52)
    }


def results(target: CkksTarget, variant: str) -> list[AttackResult]:
    t0 = time.perf_counter()
    got, plane, corr = read_chosen_residual(target).best(target.truth)
    base, _, base_corr = read_chosen_residual(target, baseline=True).best(target.truth)
    rule, leak = gap_rule(got, base, TOLERANCE)
    details: dict[str, object] = {
        "figure": "fraction of platform values recovered within 1e-6",
        "query": "honest encryption of the residual (2^-32, 0, ..., 0), 3 calls per chunk",
        "calls": REPEATS
        * (-(-target.truth.shape[0] // (target.key.params.poly_modulus_degree // 2))),
        "plane": plane,
        "mean_abs_corr": corr,
        "baseline_mean_abs_corr": base_corr,
        "rows": int(target.truth.shape[0]),
        "columns": int(target.truth.shape[1]),
        "evaluator": target.label,
    }
    details.update(honest_low_bits(target))
    details["seconds"] = round(time.perf_counter() - t0, 2)
    return [
        AttackResult(PROTOCOL, "lowbits-chosen-residual", variant, got, base, rule, leak, details)
    ]


def run(quick: bool = False) -> list[AttackResult]:
    own, bank = new_targets(quick)
    return (
        results(old_target(quick), "before")
        + results(control_target(quick), "control-uniform-mask")
        + results(own, "ckks")
        + results(bank, "ckks-bank-output")
    )
