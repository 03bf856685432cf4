"""Benchmark the crypto core against its baselines (phe objects, the bare gmpy2 floor).

Writes ``experiments/results/bench_crypto.json`` and ``.md``. All rates are per core (one
process) unless a key says otherwise; each figure is the best of several repeats because the
machine is shared. ``--quick`` (under 60 s) measures the same things on fewer samples.

Usage::

    python -m experiments.bench_crypto [--quick] [--key-bits 2048] [--out experiments/results]
"""

from __future__ import annotations

import argparse
import json
import platform
import secrets
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz
from phe import paillier as phe_paillier

from models.crypto.histogram import encrypted_histograms
from models.crypto.paillier import EncryptedVector, PaillierKeypair

HIST_SAMPLES, HIST_FEATURES, HIST_BINS = 30_000, 10, 32
CKKS_SAMPLES, CKKS_FEATURES = 30_000, 10


def best_of(fn: Callable[[], Any], repeats: int) -> float:
    """Smallest wall time of ``repeats`` runs (seconds)."""
    best = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - t0)
    return best


def best_of_pair(fa: Callable[[], Any], fb: Callable[[], Any], repeats: int) -> tuple[float, float]:
    """Best times of two functions run alternately, so that load from other processes on the
    shared machine affects both alike (for ratios such as add vs. the floor)."""
    ta = tb = float("inf")
    for _ in range(repeats):
        t0 = time.perf_counter()
        fa()
        ta = min(ta, time.perf_counter() - t0)
        t0 = time.perf_counter()
        fb()
        tb = min(tb, time.perf_counter() - t0)
    return ta, tb


def bench_phe(key_bits: int, n_enc: int, n_add: int, repeats: int) -> tuple[dict[str, float], Any]:
    pub, priv = phe_paillier.generate_paillier_keypair(n_length=key_bits)
    ms = [secrets.randbelow(2**40) for _ in range(n_enc)]
    enc_t = best_of(lambda: [pub.encrypt(m) for m in ms], repeats)
    cts = [pub.encrypt(m) for m in ms]
    pairs = [(cts[i % n_enc], cts[(i + 1) % n_enc]) for i in range(n_add)]
    add_t = best_of(lambda: [a + b for a, b in pairs], repeats)
    dec_t = best_of(lambda: [priv.decrypt(c) for c in cts], repeats)
    return (
        {
            "encrypt_per_s": n_enc / enc_t,
            "add_per_s": n_add / add_t,
            "decrypt_per_s": n_enc / dec_t,
        },
        priv,
    )


def floor_loop(n2: mpz, count: int) -> Callable[[], Any]:
    """The bare gmpy2 ``a * b % n2`` loop over random residues: the floor for addition."""
    xs = [mpz(secrets.randbelow(int(n2))) for _ in range(count)]
    ys = [mpz(secrets.randbelow(int(n2))) for _ in range(count)]
    return lambda: [a * b % n2 for a, b in zip(xs, ys, strict=True)]


def bench_fedcredit(
    kp: PaillierKeypair,
    phe_priv: Any,
    n_enc: int,
    n_add: int,
    n_mul: int,
    n_dec: int,
    repeats: int,
) -> tuple[dict[str, float], dict[str, float], dict[str, float], dict[str, float]]:
    pk = kp.public_key
    rng = np.random.default_rng(0)
    ms = rng.integers(-(2**40), 2**40, n_enc)
    kp.encrypt(ms[:100], workers=1)  # builds the fixed-base tables once (reported separately)
    t0 = time.perf_counter()
    kp._obf._tables = None
    kp._obf.tables()
    table_build_s = time.perf_counter() - t0
    enc_t = best_of(lambda: kp.encrypt(ms, workers=1), repeats)
    enc2_t = best_of(lambda: kp.encrypt(ms, workers=2), repeats)
    enc = kp.encrypt(ms, workers=1)
    a = EncryptedVector.concat([enc] * (-(-n_add // n_enc)))[:n_add]
    b = EncryptedVector(pk, a.values[1:] + a.values[:1])
    floor_t, add_t = best_of_pair(floor_loop(pk.n2, n_add), lambda: a + b, 2 * repeats)
    sub_t = best_of(lambda: a - b, max(1, repeats // 2))
    ks = rng.integers(-(2**31), 2**31, n_mul)
    mul_t = best_of(lambda: enc[:n_mul].mul_scalar(ks, workers=1), repeats)
    dot_ks = rng.integers(-(2**31), 2**31, n_enc)
    dot_t = best_of(lambda: enc.dot(dot_ks, workers=1), repeats)
    dec = enc[:n_dec]
    phe_cts = [
        phe_paillier.EncryptedNumber(phe_priv.public_key, int(c)) for c in dec.values[: n_dec // 4]
    ]
    phe_dec_t, dec_t = best_of_pair(
        lambda: [phe_priv.decrypt(c) for c in phe_cts],
        lambda: kp.decrypt(dec, workers=1),
        repeats,
    )
    dec2_t = best_of(lambda: kp.decrypt(dec, workers=2), repeats)
    pub_t = best_of(lambda: pk.encrypt(ms[:n_dec]), repeats)
    rer = enc[: max(8, n_dec // 8)]
    rer_t = best_of(lambda: pk.rerandomize(rer, workers=1), 1)
    kp.precompute(n_enc, workers=1)
    pool_t = best_of(lambda: kp.encrypt(ms), 1)
    core = {
        "encrypt_per_s": n_enc / enc_t,
        "add_per_s": n_add / add_t,
        "scalar_mul_per_s": n_mul / mul_t,
        "decrypt_per_s": n_dec / dec_t,
    }
    two = {"encrypt_per_s": n_enc / enc2_t, "decrypt_per_s": n_dec / dec2_t}
    extra = {
        "sub_per_s": n_add / sub_t,
        "dot_terms_per_s": n_enc / dot_t,
        "public_key_encrypt_per_s": n_dec / pub_t,
        "rerandomize_per_s": len(rer) / rer_t,
        "pooled_encrypt_per_s": n_enc / pool_t,
        "table_build_s": table_build_s,
        "djn_exponent_bits": kp.exponent_bits,
        "scalar_bits": 32,
    }
    paired = {
        "gmpy2_floor_mulmod_per_s": n_add / floor_t,
        "phe_decrypt_per_s": len(phe_cts) / phe_dec_t,
    }
    return core, two, extra, paired


def bench_histogram(kp: PaillierKeypair, repeats: int) -> dict[str, Any]:
    rng = np.random.default_rng(1)
    enc = kp.encrypt(rng.integers(0, 2**60, HIST_SAMPLES))
    bins = rng.integers(0, HIST_BINS, (HIST_SAMPLES, HIST_FEATURES)).astype(np.uint8)
    rows = np.arange(HIST_SAMPLES)
    one = best_of(lambda: encrypted_histograms(enc, bins, rows, HIST_BINS, workers=1), repeats)
    t0 = time.perf_counter()
    encrypted_histograms(enc, bins, rows, HIST_BINS, workers=2)  # ships enc to the helper
    first = time.perf_counter() - t0
    two = best_of(lambda: encrypted_histograms(enc, bins, rows, HIST_BINS, workers=2), repeats)
    return {
        "samples": HIST_SAMPLES,
        "features": HIST_FEATURES,
        "bins": HIST_BINS,
        "seconds_1_core": one,
        "seconds_2_cores": two,
        "seconds_2_cores_first_call": first,
    }


def bench_ckks(repeats: int) -> dict[str, Any]:
    """The platform's masked, rerandomised ``X^T enc(d)`` on coefficient-encoded CKKS (one
    process, :mod:`models.crypto.ckks_coeff`), and the bank's halves.

    ``xt_d_ms`` includes encrypting the zeros that rerandomise the results;
    ``xt_d_prepared_ms`` uses zeros prepared ahead (``CoeffEvaluator.prepare``).
    """
    out: dict[str, Any] = {"samples": CKKS_SAMPLES, "features": CKKS_FEATURES}
    from models.crypto.ckks import CkksContext
    from models.crypto.ckks_coeff import (
        CoeffEvaluator,
        CoeffKey,
        create_context,
        forward_poly,
        pair_poly,
    )

    rng = np.random.default_rng(2)
    X = rng.normal(size=(CKKS_SAMPLES, CKKS_FEATURES))
    d = rng.uniform(-1, 1, CKKS_SAMPLES)
    ctx = create_context()
    key = CoeffKey(ctx)
    ev = CoeffEvaluator(CkksContext.from_bytes(ctx.public_bytes()))
    deg, half = key.degree, key.degree // 2
    chunks = [slice(s, min(s + half, CKKS_SAMPLES)) for s in range(0, CKKS_SAMPLES, half)]
    pairs = [(j, j + 1 if j + 1 < CKKS_FEATURES else None) for j in range(0, CKKS_FEATURES, 2)]

    def encrypt() -> list[bytes]:
        return key.encrypt([forward_poly(d[sl], 30, deg) for sl in chunks])

    blobs = encrypt()

    def platform() -> tuple[list[bytes], list[dict[int, int]]]:
        cts = [ev.load(b) for b in blobs]
        outs, masks = [], []
        for a, b in pairs:
            terms = []
            for ct, sl in zip(cts, chunks, strict=True):
                col_b = X[sl, b] if b is not None else None
                terms.append((ct, ev.encode(pair_poly(X[sl, a], col_b, 30, deg))))
            blob, kept = ev.seal(ev.dot(terms), keep=(0, half))
            outs.append(blob)
            masks.append(kept)
        return outs, masks

    def timed_prepared() -> float:
        ev.prepare(len(pairs))
        t0 = time.perf_counter()
        platform()
        return time.perf_counter() - t0

    out["xt_d_ms"] = best_of(platform, repeats) * 1000.0
    out["xt_d_prepared_ms"] = min(timed_prepared() for _ in range(repeats)) * 1000.0
    out["encrypt_residual_ms"] = best_of(encrypt, repeats) * 1000.0
    result, masks = platform()

    def decrypt() -> list[int]:
        return [v for blob in result for v in key.read(blob, (0, half))]

    out["decrypt_ms"] = best_of(decrypt, repeats) * 1000.0
    raw = decrypt()
    got = []
    for i, (_, b) in enumerate(pairs):
        got.append(ev.unmask(raw[2 * i], masks[i][0]) / 2.0**60)
        if b is not None:
            got.append(ev.unmask(raw[2 * i + 1], masks[i][half]) / 2.0**60)
    out["max_abs_error"] = float(np.max(np.abs(np.asarray(got) - X.T @ d)))
    return out


def to_markdown(res: dict[str, Any]) -> str:
    phe, ours, two, floor = (
        res["phe"],
        res["fedcredit"],
        res["fedcredit_2_cores"],
        res["gmpy2_floor"],
    )
    hist, ckks, ratios = res["histogram"], res["ckks"], res["ratios"]

    def f(v: Any) -> str:
        return "n/a" if v is None else (f"{v:,.0f}" if v >= 100 else f"{v:.3g}")

    lines = [
        f"# Crypto benchmark ({res['key_bits']}-bit Paillier{', quick' if res['quick'] else ''})",
        "",
        "Rates per second on one core unless stated; best of repeats on a shared machine.",
        "",
        "| operation | phe | fedcredit (1 core) | fedcredit (2 cores) | ratio |",
        "|---|---:|---:|---:|---:|",
        f"| encrypt (key holder) | {f(phe['encrypt_per_s'])} | {f(ours['encrypt_per_s'])} | "
        f"{f(two['encrypt_per_s'])} | {ratios['encrypt_vs_phe']:.1f}x phe |",
        f"| add | {f(phe['add_per_s'])} | {f(ours['add_per_s'])} | | "
        f"{ratios['add_vs_floor']:.2f} of floor ({f(floor['mulmod_per_s'])}/s) |",
        f"| scalar multiply (32-bit) | | {f(ours['scalar_mul_per_s'])} | | |",
        f"| decrypt | {f(phe['decrypt_per_s'])} | {f(ours['decrypt_per_s'])} | "
        f"{f(two['decrypt_per_s'])} | {ratios['decrypt_vs_phe']:.1f}x phe |",
        "",
        "| other | value |",
        "|---|---:|",
    ]
    for k, v in res["extra"].items():
        lines.append(f"| {k} | {f(v)} |")
    lines += [
        "",
        f"Histogram {hist['samples']} x {hist['features']} x {hist['bins']}: "
        f"{hist['seconds_1_core']:.2f} s on 1 core, {hist['seconds_2_cores']:.2f} s on 2 cores "
        f"({hist['seconds_2_cores_first_call']:.2f} s on the first call, which ships the "
        "ciphertexts to the helper process).",
        "",
        f"CKKS X^T d ({ckks['samples']} x {ckks['features']}, coefficient-encoded, masked "
        f"uniformly mod q and rerandomised, one process): {f(ckks.get('xt_d_ms'))} ms, "
        f"{f(ckks.get('xt_d_prepared_ms'))} ms with encryptions of zero prepared ahead; bank: "
        f"encryption {f(ckks.get('encrypt_residual_ms'))} ms, "
        f"decryption {f(ckks.get('decrypt_ms'))} ms; max abs error "
        f"{ckks.get('max_abs_error'):.1e}.",
        "",
    ]
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> dict[str, Any]:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true", help="fewer samples and repeats (< 60 s)")
    ap.add_argument("--key-bits", type=int, default=2048)
    ap.add_argument("--out", type=Path, default=Path(__file__).parent / "results")
    args = ap.parse_args(argv)
    quick = args.quick
    repeats = 2 if quick else 5
    t_start = time.perf_counter()

    phe_res, phe_priv = bench_phe(
        args.key_bits, 20 if quick else 100, 5000 if quick else 30000, repeats
    )
    kp = PaillierKeypair.from_phe(phe_priv)
    ours, two, extra, paired = bench_fedcredit(
        kp,
        phe_priv,
        n_enc=3000 if quick else 20000,
        n_add=5000 if quick else 30000,
        n_mul=500 if quick else 3000,
        n_dec=200 if quick else 1000,
        repeats=repeats,
    )
    floor = {"mulmod_per_s": paired["gmpy2_floor_mulmod_per_s"]}
    phe_res["decrypt_per_s"] = paired["phe_decrypt_per_s"]  # measured alongside ours
    hist = bench_histogram(kp, 2 if quick else 3)
    ckks = bench_ckks(2 if quick else 5)
    res: dict[str, Any] = {
        "key_bits": args.key_bits,
        "phe": phe_res,
        "fedcredit": ours,
        "gmpy2_floor": floor,
        "histogram": hist,
        "ckks": ckks,
        "ratios": {
            "encrypt_vs_phe": ours["encrypt_per_s"] / phe_res["encrypt_per_s"],
            "add_vs_floor": ours["add_per_s"] / floor["mulmod_per_s"],
            "add_vs_phe": ours["add_per_s"] / phe_res["add_per_s"],
            "decrypt_vs_phe": ours["decrypt_per_s"] / phe_res["decrypt_per_s"],
            "histogram_2_vs_1_core": hist["seconds_1_core"] / hist["seconds_2_cores"],
        },
        "fedcredit_2_cores": two,
        "extra": extra,
        "quick": quick,
        "meta": {
            "python": sys.version.split()[0],
            "gmpy2": gmpy2.version(),
            "machine": platform.machine(),
            "seconds": time.perf_counter() - t_start,
        },
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_crypto.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "bench_crypto.md").write_text(to_markdown(res))
    print(to_markdown(res))
    return res


if __name__ == "__main__":
    main()
