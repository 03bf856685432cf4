"""Benchmark: vertical logistic regression on default_credit, Paillier vs CKKS vs scikit-learn.

Bank = guest file (labels + 13 features), platform = host file (10 features); stratified
80/20 split with a fixed seed; both parties standardise with training statistics; L2 with
``C = 1``. Each mode trains **with the default hyper-parameters of a job file**
(:class:`~models.logreg.active.FederatedLogisticRegression`: full batch after a two-epoch
warm-up of 12 and 3 seeded batches, block-preconditioned Nesterov, stop when the joint log-odds
move by less than 0.01 on average, at most 20 epochs),
2048-bit Paillier, CKKS with N = 8192. The parties run in one process with an in-process peer
that serialises every message to protobuf (``bytes_per_epoch`` counts those bytes, both
directions), so both parties share the machine's 2 cores.

Measured in the same run:
- ``auc_sklearn``: scikit-learn's ``LogisticRegression`` on the joined, identically
  standardised table (same penalty);
- ``auc_paillier`` / ``auc_ckks``: the federated model's test AUC;
- ``fit_seconds_*`` / ``epochs_*``: a whole training to convergence; ``fit_cpu_seconds``
  (per mode): CPU seconds of this process (both parties) for it, less noisy than wall time on a
  shared machine (CKKS's encryption helper process is not counted); ``batches``: batches per
  epoch (the warm-up's first);
- ``seconds_per_epoch_*``: best epoch after the first (which also loads keys and starts
  helpers), and the median;
- ``bytes_per_epoch_*``: mean protobuf bytes exchanged per epoch;
- ``fate_shape``: seconds per CKKS epoch on a synthetic table shaped like FATE's published
  SSHE-LR benchmark (100k rows, 30 bank + 300 platform features; FATE 2.0 reports 4 min 54 s
  per epoch on 16 cores).

Usage: ``python experiments/bench_logreg.py [--quick]`` writes
``experiments/results/bench_logreg.{json,md}``. ``--quick`` (a few minutes) trains at most 3
epochs per mode and runs the FATE shape on 10k rows; the machine is shared, so timings are
noisy.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

import models.logreg.passive  # noqa: E402, F401  (registers the platform party)
from experiments.support.vertical import (  # noqa: E402
    TableProvider,
    VerticalData,
    load_vertical,
    standardized_joined,
)
from models.crypto.paillier import PaillierKeypair  # noqa: E402
from models.dataset import PartyTable  # noqa: E402
from models.federation.inprocess import InProcessPeer  # noqa: E402
from models.federation.manager import SessionManager  # noqa: E402
from models.federation.party import Caller  # noqa: E402
from models.logreg.active import FederatedLogisticRegression  # noqa: E402
from models.logreg.optim import sigmoid_terms  # noqa: E402
from proto.transport.codec import ProtobufCodec  # noqa: E402

RESULTS = ROOT / "experiments" / "results"


def shared_data() -> Path:
    return Path(os.environ.get("FEDCREDIT_SHARED_DATA", ROOT.parent / "shared" / "data"))


def auc(y: np.ndarray, s: np.ndarray) -> float:
    from sklearn.metrics import roc_auc_score

    return float(roc_auc_score(y, s))


def bench_sklearn(data: VerticalData, C: float) -> dict[str, Any]:
    from sklearn.linear_model import LogisticRegression

    y = data.bank.y
    assert y is not None
    Xs = standardized_joined(data)
    t0 = time.perf_counter()
    ref = LogisticRegression(C=C, max_iter=10_000, tol=1e-10).fit(Xs[data.train], y[data.train])
    seconds = time.perf_counter() - t0
    return {
        "auc": auc(y[data.test], ref.decision_function(Xs[data.test])),
        "seconds": seconds,
        "iterations": int(np.max(ref.n_iter_)),
    }


def bench_mode(
    data: VerticalData, mode: str, max_epochs: int, key_bits: int, C: float
) -> dict[str, Any]:
    y = data.bank.y
    assert y is not None
    tmp = Path(tempfile.mkdtemp(prefix=f"bench-logreg-{mode}-"))
    manager = SessionManager(tmp / "platform", TableProvider(data.platform))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    model = FederatedLogisticRegression(
        mode=mode, C=C, max_epochs=max_epochs, key_bits=key_bits, random_state=0
    )
    t0, cpu0 = time.perf_counter(), time.process_time()
    model.fit(data.bank, peer, rows=data.train)
    fit_seconds, fit_cpu = time.perf_counter() - t0, time.process_time() - cpu0
    t0 = time.perf_counter()
    scores = model.decision_function(data.bank, peer, rows=data.test)
    predict_seconds = time.perf_counter() - t0
    hist = model.history_
    times = [h["seconds"] for h in hist]
    warm = times[1:] or times  # the first epoch also loads keys and starts helpers
    return {
        "auc": auc(y[data.test], scores),
        "epochs": len(hist),
        "converged": bool(model.converged_),
        "sigmoid_terms": sigmoid_terms(model.lr_params()),
        "seconds_per_epoch": min(warm),
        "seconds_per_epoch_median": statistics.median(warm),
        "epoch_seconds": times,
        "bytes_per_epoch": float(np.mean([h["bytes_sent"] + h["bytes_received"] for h in hist])),
        "fit_seconds": fit_seconds,
        "fit_cpu_seconds": fit_cpu,
        "batches": [h["batches"] for h in hist],
        "predict_seconds": predict_seconds,
        "mean_abs_change": [h["mean_abs_change"] for h in hist],
    }


def bench_fate_shape(rows: int, epochs: int) -> dict[str, Any]:
    """Seconds per CKKS epoch at FATE's SSHE-LR shape (synthetic data, full batch)."""
    rng = np.random.default_rng(7)
    n_bank, n_platform = 30, 300
    Xb = rng.normal(size=(rows, n_bank))
    Xp = rng.normal(size=(rows, n_platform))
    w = rng.normal(size=n_bank + n_platform) / np.sqrt(n_bank + n_platform)
    z = np.hstack([Xb, Xp]) @ w - 1.0
    y = (rng.random(rows) < 1.0 / (1.0 + np.exp(-z))).astype(np.float64)
    ids = np.array([f"c{i:07d}" for i in range(rows)])
    bank = PartyTable(
        ids=ids,
        X=Xb,
        feature_names=[f"b{i}" for i in range(n_bank)],
        feature_groups=["bank"] * n_bank,
        y=y,
    )
    plat = PartyTable(
        ids=ids,
        X=Xp,
        feature_names=[f"p{i}" for i in range(n_platform)],
        feature_groups=["credit"] * n_platform,
    )
    tmp = Path(tempfile.mkdtemp(prefix="bench-logreg-fate-"))
    manager = SessionManager(tmp / "platform", TableProvider(plat))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    # full batches from the first epoch: this measures the cost of a full-batch epoch
    model = FederatedLogisticRegression(
        mode="ckks", max_epochs=epochs, tol=0.0, warmup_batches=0, random_state=0
    )
    t0 = time.perf_counter()
    model.fit(bank, peer)
    seconds = [h["seconds"] for h in model.history_]
    return {
        "rows": rows,
        "bank_features": n_bank,
        "platform_features": n_platform,
        "scheme": "ckks",
        "sigmoid_terms": 4,
        "epochs": len(seconds),
        "seconds_per_epoch": statistics.median(seconds[1:] or seconds),
        "epoch_seconds": seconds,
        "bytes_per_epoch": float(
            np.mean([h["bytes_sent"] + h["bytes_received"] for h in model.history_])
        ),
        "fit_seconds": time.perf_counter() - t0,
        "fate_published_seconds_per_epoch_16_cores": 294.0,
    }


def to_markdown(res: dict[str, Any]) -> str:
    def mb(v: float) -> str:
        return f"{v / 1e6:.2f}"

    lines = [
        "# Vertical logistic regression: Paillier vs CKKS",
        "",
        f"default_credit: {res['n_train']} training rows, {res['n_test']} test rows, "
        f"{res['bank_features']} bank + {res['platform_features']} platform features; L2, C = "
        f"{res['C']}; the job file's default hyper-parameters (full batch after a warm-up of 12 "
        f"and 3 batches, preconditioned Nesterov, at most {res['max_epochs']} epochs, stop when "
        f"the joint log-odds move by < 0.01); {res['key_bits']}-bit Paillier; CKKS N = 8192. "
        "No per-row partial score, residual or gradient is revealed to either party "
        "(docs/logreg.md). "
        f"{'Quick run. ' if res['quick'] else ''}Shared 2-core machine: timings are noisy"
        + (
            f"; host speed at the start: {res['host_speed']['encrypt_us']} us of CPU per "
            f"Paillier encryption, load average {res['host_speed']['load_avg_1min']:.2f}."
            if "host_speed" in res
            else "."
        ),
        "",
        "| | test AUC | AUC - sklearn | epochs | fit s (to convergence) | s / epoch (best) "
        "| s / epoch (median) | MB / epoch | predict s |",
        "|---|---|---|---|---|---|---|---|---|",
        f"| scikit-learn (centralized) | {res['auc_sklearn']:.4f} | 0 | | "
        f"{res['sklearn']['seconds']:.2f} | | | | |",
    ]
    for mode in ("paillier", "ckks"):
        m = res[mode]
        lines.append(
            f"| federated, {mode} | {m['auc']:.4f} | {m['auc'] - res['auc_sklearn']:+.4f} | "
            f"{m['epochs']} | {m['fit_seconds']:.1f} | {m['seconds_per_epoch']:.2f} | "
            f"{m['seconds_per_epoch_median']:.2f} | {mb(m['bytes_per_epoch'])} | "
            f"{m['predict_seconds']:.2f} |"
        )
    fate = res["fate_shape"]
    lines += [
        "",
        f"CKKS is {res['speedup_ckks_vs_paillier']:.0f}x faster per epoch than Paillier.",
        "",
        f"FATE's SSHE-LR shape ({fate['rows']:,} rows, {fate['bank_features']} bank + "
        f"{fate['platform_features']} platform features, CKKS, full batch): "
        f"**{fate['seconds_per_epoch']:.1f} s per epoch** on this 2-core machine "
        f"({mb(fate['bytes_per_epoch'])} MB per epoch); FATE 2.0 reports "
        f"{fate['fate_published_seconds_per_epoch_16_cores']:.0f} s per epoch on 16 cores.",
        "",
    ]
    return "\n".join(lines)


def host_speed(key_bits: int) -> dict[str, float]:
    """CPU microseconds of one key-holder encryption and one load average, taken before the
    run: the shared host's speed drifts during a day, so runs are compared with this."""
    keypair = PaillierKeypair.generate(key_bits)
    keypair.encrypt([1] * 64, workers=1)  # the fixed-base table, outside the timing
    t = time.thread_time()
    keypair.encrypt(list(range(2_000)), workers=1)
    return {
        "encrypt_us": round((time.thread_time() - t) / 2_000 * 1e6, 1),
        "load_avg_1min": os.getloadavg()[0],
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--quick", action="store_true", help="3 epochs per mode, small FATE shape")
    parser.add_argument("--max-epochs", type=int, default=None)
    parser.add_argument("--key-bits", type=int, default=2048)
    parser.add_argument("--fate-rows", type=int, default=None)
    parser.add_argument("--out", type=Path, default=RESULTS)
    args = parser.parse_args(argv)
    max_epochs = args.max_epochs or (3 if args.quick else 20)
    C = 1.0
    data = load_vertical(shared_data(), "default_credit")
    speed = host_speed(args.key_bits)
    started = time.perf_counter()
    sk = bench_sklearn(data, C)
    paillier = bench_mode(data, "paillier", max_epochs, args.key_bits, C)
    ckks = bench_mode(data, "ckks", max_epochs, args.key_bits, C)
    fate = bench_fate_shape(
        args.fate_rows or (10_000 if args.quick else 100_000), 2 if args.quick else 3
    )
    res: dict[str, Any] = {
        "dataset": "default_credit",
        "quick": bool(args.quick),
        "n_train": int(data.train.size),
        "n_test": int(data.test.size),
        "bank_features": data.bank.n_features,
        "platform_features": data.platform.n_features,
        "key_bits": args.key_bits,
        "C": C,
        "max_epochs": max_epochs,
        "batch_size": int(data.train.size),
        "auc_sklearn": sk["auc"],
        "auc_paillier": paillier["auc"],
        "auc_ckks": ckks["auc"],
        "fit_seconds_paillier": paillier["fit_seconds"],
        "fit_seconds_ckks": ckks["fit_seconds"],
        "epochs_paillier": paillier["epochs"],
        "epochs_ckks": ckks["epochs"],
        "seconds_per_epoch_paillier": paillier["seconds_per_epoch"],
        "seconds_per_epoch_ckks": ckks["seconds_per_epoch"],
        "bytes_per_epoch_paillier": paillier["bytes_per_epoch"],
        "bytes_per_epoch_ckks": ckks["bytes_per_epoch"],
        "speedup_ckks_vs_paillier": paillier["seconds_per_epoch"] / ckks["seconds_per_epoch"],
        "auc_gap_paillier": paillier["auc"] - sk["auc"],
        "auc_gap_ckks": ckks["auc"] - sk["auc"],
        "fate_shape": fate,
        "sklearn": sk,
        "paillier": paillier,
        "ckks": ckks,
        "machine": {"cpus": os.cpu_count(), "python": platform.python_version()},
        "host_speed": speed,
        "total_seconds": time.perf_counter() - started,
    }
    args.out.mkdir(parents=True, exist_ok=True)
    (args.out / "bench_logreg.json").write_text(json.dumps(res, indent=2) + "\n")
    (args.out / "bench_logreg.md").write_text(to_markdown(res))
    print(to_markdown(res))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
