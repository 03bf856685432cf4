"""Binning counts: what each side learns about the other's rows from federated binning.

Protocol ``binning`` (``models/binning``), default_credit (10 platform features), quantile
bins. Variants: ``exact`` (today's documented disclosure: the bank reads the exact per-bin event
and non-event counts of platform features) and ``dp-eps<epsilon>`` (option ``dp_epsilon``: the
platform adds discrete Laplace noise of scale ``2 d / epsilon`` before the bank sees them).
The noise source is seeded here so that the report is reproducible; the product draws it from
the OS CSPRNG. The platform here admits epsilon up to 10 (its default ceiling is 5) so that the
full run shows where the protection fades. Keys are 1024-bit Paillier: no figure depends on
the key size.

Attacks (the bank, unless said otherwise):

``bin-counts``
    The bank's estimate of every platform per-bin count (events and non-events; raw decrypted
    values, before clamping) against the truth computed where the data are. ``recovered``: the
    fraction of counts recovered exactly. ``exact``: baseline = the same fraction for the
    bank's best guess without the counts (an even split of its events and non-events over the
    bins); leak if recovered - baseline > 0.05. ``dp``: baseline = ``P[noise = 0]``, the rate
    the stated noise allows; leak if recovered - baseline > 0.05 or the RMSE is below 0.8 x
    the stated noise standard deviation (the error must match the noise scale).
``row-pinning``
    Pin a target company to its platform bin in every feature. The bank picks the training
    rows (the protocol lets it): the target defaulter and ``others`` non-defaulters, so every
    platform bin's event count is 1 for the target's bin and 0 elsewhere (a bin that "holds
    one" event). One session per target. The guess is the maximum a posteriori bin: prior =
    the released bin totals, likelihood of the released event counts under the mechanism
    (exact: the bin whose count is 1). ``recovered``: accuracy over (target, feature);
    ``baseline``: accuracy of guessing each feature's largest bin (population knowledge only);
    leak if recovered - baseline > 0.05. Differential privacy bounds the accuracy by
    ``exp(eps_j)`` times a prior guess (``details["dp_bound"]``).
``woe-lone-labels`` (the platform)
    The WOE exchange gives the platform each selected feature's WOE per bin; it knows its own
    per-bin row counts, so it solves for each bin's event count and reads the label of every
    company alone in a bin (a rare value, or the only company with a feature missing). The
    platform knows the noise it added, so ``dp_epsilon`` does not change this channel.
    ``recovered``: accuracy on those lone companies; ``baseline``: guessing "no default";
    leak if recovered - baseline > 0.05 (on at least 5 lone companies). This is part of the
    documented WOE disclosure (docs/logreg.md 3.3); neutral WOE for small bins would not close
    it (the platform also solves each feature's total of defaults, the same in every feature).
"""

from __future__ import annotations

import math
import tempfile
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

import models.binning.passive  # noqa: F401  (registers the platform party)
from experiments.privacy.common import AttackResult, gap_rule, shared_data
from models.binning.active import BinningStub, FederatedBinning
from models.binning.binner import FeatureBinner
from models.binning.dp import (
    EPSILON_FLOOR,
    SeededRandomSource,
    noise_scale,
    noise_std,
    prob_zero,
    sample_discrete_laplace,
)
from models.binning.woe import DEFAULT_SMOOTHING, woe_iv
from models.crypto.paillier import PaillierKeypair
from models.dataset import PartyTable
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.session import SessionSpec

PROTOCOL = "binning"
KEY_BITS = 1024
TOLERANCE = 0.05
NOISE_SEED = 20240601


@dataclass(frozen=True)
class Sizes:
    rows: int | None
    n_bins: int
    targets: int
    others: int
    epsilons: tuple[float, ...]


QUICK = Sizes(rows=3000, n_bins=10, targets=8, others=300, epsilons=(1.0,))
FULL = Sizes(rows=None, n_bins=20, targets=40, others=2000, epsilons=(0.5, 1.0, 4.0, 10.0))


class _Provider:
    def __init__(self, table: PartyTable) -> None:
        self.table = table

    def load(self, dataset: str, caller: Caller, params: Mapping[str, str]) -> PartyTable:
        return self.table


@dataclass
class Env:
    bank: PartyTable
    platform: PartyTable
    keypair: PaillierKeypair
    workdir: Path
    n_bins: int
    _n: int = 0

    def peer(self) -> InProcessPeer:
        """A fresh platform (its own data dir and seeded noise source) and a bank peer."""
        self._n += 1
        manager = SessionManager(
            self.workdir / f"platform-{self._n}",
            _Provider(self.platform),
            context_extras={
                "binning_dp_rng": SeededRandomSource(NOISE_SEED + self._n),
                # measured beyond the platform's default ceiling, to show where it starts to leak
                "binning_dp_epsilon_range": (EPSILON_FLOOR, 10.0),
            },
        )
        return InProcessPeer(manager, Caller("bank-a", "bank"))

    def release(self, train: np.ndarray, eps: float | None) -> FederatedBinning:
        """One binning session; the bank's view of the platform's counts."""
        fb = FederatedBinning("quantile", self.n_bins, key_bits=KEY_BITS, dp_epsilon=eps)
        return fb.fit(self.bank, self.peer(), rows=train, keypair=self.keypair)

    def truth(self, train: np.ndarray) -> tuple[FeatureBinner, list[np.ndarray], list[np.ndarray]]:
        """The platform's bins on ``train`` and the exact per-bin events and non-events."""
        Xp = self.platform.X[train]
        y = np.asarray(self.bank.y)[train]
        binner = FeatureBinner("quantile", self.n_bins).fit(Xp)
        codes = binner.transform(Xp)
        ev, ne = [], []
        for j in range(Xp.shape[1]):
            nb = int(binner.n_total_bins[j])
            e = np.rint(np.bincount(codes[:, j], weights=y, minlength=nb))
            ev.append(e)
            ne.append(np.bincount(codes[:, j], minlength=nb) - e)
        return binner, ev, ne


def load_env(sizes: Sizes, workdir: Path, seed: int = 0) -> Env:
    data = shared_data()
    guest = pd.read_csv(data / "default_credit_hetero_guest.csv")
    host = pd.read_csv(data / "default_credit_hetero_host.csv").set_index("id")
    if sizes.rows is not None:
        guest = guest.sample(n=sizes.rows, random_state=seed).sort_values("id")
    host = host.loc[guest["id"]]
    bank_cols = [c for c in guest.columns if c not in ("id", "y")]
    ids = guest["id"].astype(str).to_numpy()
    bank = PartyTable(
        ids=ids,
        X=guest[bank_cols].to_numpy(dtype=np.float64),
        feature_names=[f"b_{c}" for c in bank_cols],
        y=guest["y"].to_numpy(dtype=np.float64),
    )
    Xp = host.to_numpy(dtype=np.float64)
    # in each platform feature one company has no value (as in a real catalogue: a company
    # without, say, a tax filing): it is alone in that feature's missing bin
    rng = np.random.default_rng(seed + 1)
    lone = rng.choice(Xp.shape[0], size=Xp.shape[1], replace=False)
    Xp[lone, np.arange(Xp.shape[1])] = np.nan
    platform = PartyTable(
        ids=ids,
        X=Xp,
        feature_names=[f"p_{c}" for c in host.columns],
        meta={"allow_feature_names": "true"},
    )
    keypair = PaillierKeypair.generate(KEY_BITS)
    return Env(bank, platform, keypair, workdir, sizes.n_bins)


def _variant(eps: float | None) -> str:
    return "exact" if eps is None else f"dp-eps{eps:g}"


# ---------------------------------------------------------------------- attack 1: counts
def attack_counts(env: Env, eps: float | None, seed: int = 0) -> AttackResult:
    y = np.asarray(env.bank.y)
    train = np.arange(env.bank.n_rows)
    fb = env.release(train, eps)
    _, true_e, true_g = env.truth(train)
    est_e = fb.platform_raw_events_
    est_g = [t - e for e, t in zip(fb.platform_raw_events_, fb.platform_raw_totals_, strict=True)]
    err = np.concatenate([a - b for a, b in zip(est_e + est_g, true_e + true_g, strict=True)])
    truth = np.concatenate(true_e + true_g)
    recovered = float(np.mean(np.rint(np.concatenate(est_e + est_g)) == truth))
    rmse = float(np.sqrt(np.mean(err**2)))
    d = env.platform.n_features
    details: dict[str, Any] = {"n_counts": int(truth.size), "rmse": rmse, "rows": int(train.size)}
    if eps is None:
        E, G = float(y.sum()), float(y.size - y.sum())
        guess = np.concatenate(
            [np.full(e.size, round(E / e.size)) for e in true_e]
            + [np.full(g.size, round(G / g.size)) for g in true_g]
        )
        baseline = float(np.mean(guess == truth))
        rule, leak = gap_rule(recovered, baseline, TOLERANCE)
        rule = f"{rule} (baseline: even split of the bank's events and non-events)"
    else:
        scale = noise_scale(eps, d)
        std = noise_std(scale)
        baseline = prob_zero(scale)
        too_precise = rmse < 0.8 * std
        leak = bool(recovered - baseline > TOLERANCE or too_precise)
        rule = (
            f"leak if recovered - baseline > {TOLERANCE:g} or RMSE < 0.8 x noise std "
            "(baseline: P[noise = 0] at the stated epsilon)"
        )
        iv_true = np.asarray([woe_iv(e, e + g).iv for e, g in zip(true_e, true_g, strict=True)])
        iv_dp = np.asarray([f.iv for f in fb.features_ if f.party == "platform"])
        details.update(
            epsilon=eps,
            epsilon_per_feature=eps / d,
            iv_mean_abs_error=float(np.mean(np.abs(iv_dp - iv_true))),
            iv_max_abs_error=float(np.max(np.abs(iv_dp - iv_true))),
            same_top3_platform_features=bool(
                set(np.argsort(-iv_dp)[:3]) == set(np.argsort(-iv_true)[:3])
            ),
            noise_scale=float(scale),
            noise_std=std,
            rmse_over_noise_std=rmse / std,
            mean_error=float(err.mean()),
            platform_record=fb.dp_record_,
        )
    return AttackResult(
        PROTOCOL, "bin-counts", _variant(eps), recovered, baseline, rule, leak, details
    )


# ---------------------------------------------------------------------- attack 2: pinning
def _map_bin(events: np.ndarray, totals: np.ndarray, scale: float | None) -> int:
    """The bank's maximum a posteriori bin of the lone event."""
    if scale is None:
        return int(np.argmax(events))
    prior = np.maximum(totals, 0.5)
    log_post = np.log(prior / prior.sum()) + (np.abs(events) - np.abs(events - 1.0)) / scale
    return int(np.argmax(log_post))


def attack_pinning(env: Env, eps: float | None, sizes: Sizes, seed: int = 0) -> AttackResult:
    y = np.asarray(env.bank.y)
    rng = np.random.default_rng(seed + 7)
    defaulters = np.flatnonzero(y == 1)
    good = np.flatnonzero(y == 0)
    targets = rng.choice(defaulters, size=sizes.targets, replace=False)
    d = env.platform.n_features
    scale = None if eps is None else float(noise_scale(eps, d))
    hits, base_hits, n = 0, 0, 0
    for t in targets:
        train = np.sort(np.append(rng.choice(good, size=sizes.others, replace=False), t))
        fb = env.release(train, eps)
        binner, true_e, true_g = env.truth(train)
        code = binner.transform(env.platform.X[[t]])[0]
        for j in range(d):
            guess = _map_bin(fb.platform_raw_events_[j], fb.platform_raw_totals_[j], scale)
            hits += int(guess == code[j])
            base_hits += int(np.argmax(true_e[j] + true_g[j]) == code[j])
            n += 1
    recovered, baseline = hits / n, base_hits / n
    rule, leak = gap_rule(recovered, baseline, TOLERANCE)
    details: dict[str, Any] = {
        "targets": int(sizes.targets),
        "others": int(sizes.others),
        "pairs": n,
        "how": "the bank trains on one defaulter and non-defaulters only (one session each)",
    }
    if eps is not None:
        details.update(
            epsilon=eps,
            epsilon_per_feature=eps / d,
            dp_bound=min(1.0, math.exp(eps / d) * baseline),
        )
    return AttackResult(
        PROTOCOL,
        "row-pinning",
        _variant(eps),
        recovered,
        baseline,
        f"{rule} (baseline: each feature's largest bin)",
        leak,
        details,
    )


# ---------------------------------------------------------------------- attack 3: lone labels
def _released_tables(
    n_true: np.ndarray, z_e: np.ndarray, z_g: np.ndarray, a: float
) -> list[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Per bin and per possible event count ``e``: the clamped released events and non-events
    the bank would have seen, and ``ln((g~ + a)/(e~ + a))`` (NaN where the bank saw no row)."""
    out = []
    for k in range(n_true.size):
        n = int(n_true[k])
        e = np.arange(n + 1, dtype=np.float64)
        e_rel = np.maximum(e + z_e[k], 0.0)
        g_rel = np.maximum(n - e + z_g[k], 0.0)
        with np.errstate(invalid="ignore"):
            ratio = np.where(e_rel + g_rel > 0, np.log((g_rel + a) / (e_rel + a)), np.nan)
        out.append((e_rel, g_rel, ratio))
    return out


def _platform_constant(
    woe: np.ndarray, tables: list[tuple[np.ndarray, np.ndarray, np.ndarray]], a: float
) -> float:
    """The platform's solution for ``c = ln((G~ + aK)/(E~ + aK))`` (``WOE_k + c`` is bin
    ``k``'s log odds): each event count of a small reference bin fixes a candidate ``c``; the
    other bins' counts follow from their WOE; the candidate whose counts reproduce ``c`` wins.
    """
    sizes = [t[0].size - 1 for t in tables]
    ref = min(
        (k for k in range(len(tables)) if woe[k] != 0.0 and sizes[k] > 0),
        key=lambda k: sizes[k],
    )
    best_gap, best_c = math.inf, 0.0
    for r in tables[ref][2]:
        if not np.isfinite(r):
            continue
        c = float(r - woe[ref])
        E = G = 0.0
        K = 0
        for k, (e_rel, g_rel, ratio) in enumerate(tables):
            seen = np.isfinite(ratio)
            if not seen.any():
                continue
            dist = np.where(seen, np.abs(ratio - c - woe[k]), 0.0 if woe[k] == 0.0 else np.inf)
            i = int(np.argmin(dist))
            if seen[i]:
                E, G, K = E + e_rel[i], G + g_rel[i], K + 1
        gap = abs(math.log((G + a * K) / (E + a * K)) - c)
        if gap < best_gap:
            best_gap, best_c = gap, c
    return best_c


def attack_lone_labels(env: Env, eps: float | None) -> AttackResult:
    y = np.asarray(env.bank.y)
    train = np.arange(env.bank.n_rows)
    peer = env.peer()
    variant = _variant(eps)
    job = f"woe-{variant}"
    peer.open_session(SessionSpec(job_id=job, algorithm="binning"))
    fb = FederatedBinning("quantile", env.n_bins, key_bits=KEY_BITS, dp_epsilon=eps)
    fb.run(BinningStub(peer), env.bank, rows=train, model_id=job, keypair=env.keypair)
    fb.select(threshold=0.0)  # every feature: every platform WOE table goes to the platform
    fb.send_platform_woe()
    # from here on: only what the platform holds
    party: Any = peer.manager.party(job)
    wt, nb = party.woe_transform, party.binner.n_total_bins
    codes = party.bin_codes[party.bin_train]
    total = int(nb.sum())
    ze, zg = np.zeros(total), np.zeros(total)
    if eps is not None:  # the platform knows its noise (here: it redraws it from its seed)
        src = SeededRandomSource(NOISE_SEED + env._n)
        scale = noise_scale(eps, env.platform.n_features)
        ze = sample_discrete_laplace(scale, total, src).astype(np.float64)
        zg = sample_discrete_laplace(scale, total, src).astype(np.float64)
    cuts = np.cumsum(nb)[:-1]
    noise_e, noise_g = np.split(ze, cuts), np.split(zg, cuts)
    a = DEFAULT_SMOOTHING
    hits, base_hits, lone = 0, 0, 0
    for k, f in enumerate(wt.features):
        n_true = np.bincount(codes[:, f], minlength=int(nb[f])).astype(np.float64)
        tables = _released_tables(n_true, noise_e[f], noise_g[f], a)
        c = _platform_constant(wt.woe[k], tables, a)
        for b in np.flatnonzero(n_true == 1):
            row = int(np.flatnonzero(codes[:, f] == b)[0])
            lone += 1
            base_hits += int(y[row] == 0)
            if wt.woe[k][b] == 0.0:  # a bin the bank saw empty: nothing to read
                hits += int(y[row] == 0)
                continue
            ratio = tables[b][2]  # for e = 0 and e = 1
            fits = np.where(np.isfinite(ratio), np.abs(ratio - c - wt.woe[k][b]), np.inf)
            # equal fits (the noise clamped both counts): nothing to read, guess "no default"
            guess = 0 if not np.isfinite(fits).any() or fits[0] == fits[1] else int(np.argmin(fits))
            hits += int(guess == int(y[row]))
    peer.close_session()
    recovered = hits / lone if lone else float("nan")
    baseline = base_hits / lone if lone else float("nan")
    rule, leak = gap_rule(recovered, baseline, TOLERANCE)
    return AttackResult(
        PROTOCOL,
        "woe-lone-labels",
        variant,
        recovered,
        baseline,
        f"{rule} on >= 5 lone companies (baseline: 'no default'); attacker: the platform",
        bool(leak and lone >= 5),
        {
            "lone_companies": lone,
            "note": "the platform knows its own noise: dp_epsilon does not protect this channel",
        },
    )


def run(quick: bool = False) -> list[AttackResult]:
    sizes = QUICK if quick else FULL
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="fedcredit-binning-attack-") as tmp:
        env = load_env(sizes, Path(tmp))
        out: list[AttackResult] = []
        for eps in (None, *sizes.epsilons):
            out.append(attack_counts(env, eps))
            out.append(attack_pinning(env, eps, sizes))
            out.append(attack_lone_labels(env, eps))
    for r in out:
        r.details["seconds_total"] = round(time.perf_counter() - t0, 1)
    return out


if __name__ == "__main__":
    for r in run(quick=True):
        print(r.to_json())
