"""Differentially private binning counts (``dp_epsilon``): noise of the stated scale, added by
the platform; WOE/IV and selection still work; epsilon recorded by both parties; bad epsilon,
repeated releases and an exhausted budget refused."""

from __future__ import annotations

import dataclasses
import json
import math
from collections.abc import Callable
from fractions import Fraction
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from scipy import stats

import models.scorecard.passive  # noqa: F401  (registers the binning and scorecard parties)
from experiments.support.vertical import TableProvider, VerticalData, load_vertical
from models.binning import dp as dpmod
from models.binning.active import BinningStub, FederatedBinning
from models.binning.binner import FeatureBinner
from models.binning.dp import (
    SeededRandomSource,
    noise_scale,
    noise_std,
    prob_zero,
    sample_discrete_laplace,
)
from models.binning.ledger import DpLedger
from models.binning.messages import BinCountsRequest, BinInitRequest
from models.crypto.paillier import PaillierKeypair
from models.errors import FailedPrecondition, InvalidArgument
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.federation.peer import PassivePeer
from models.federation.session import SessionSpec
from models.logreg.model_io import ids_digest, read_json
from models.scorecard.active import FederatedScorecard
from proto.transport.codec import ProtobufCodec

EPS = 2.0


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(1024)


@pytest.fixture(scope="module")
def credit(shared_data: Path) -> VerticalData:
    data = load_vertical(shared_data, "default_credit", n_rows=4000, seed=3)
    rng = np.random.default_rng(1)
    X = data.platform.X.copy()
    X[rng.random(X.shape) < 0.03] = np.nan  # the missing bins get noise too
    data.platform.X = X
    return data


def exact_platform_counts(
    data: VerticalData, method: str, n_bins: int
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per platform feature: exact events and non-events per bin, computed in one place."""
    Xp = data.platform.X[data.train]
    y = data.bank.y
    assert y is not None
    yt = y[data.train]
    binner = FeatureBinner(method, n_bins).fit(Xp)
    codes = binner.transform(Xp)
    ev, ne = [], []
    for j in range(Xp.shape[1]):
        nb = int(binner.n_total_bins[j])
        e = np.bincount(codes[:, j], weights=yt, minlength=nb)
        ev.append(np.rint(e))
        ne.append(np.bincount(codes[:, j], minlength=nb) - np.rint(e))
    return ev, ne


def _manager(tmp_path: Path, data: VerticalData, **extras: Any) -> SessionManager:
    return SessionManager(
        tmp_path / "platform", TableProvider(data.platform), context_extras=extras
    )


def _peer(manager: SessionManager) -> InProcessPeer:
    return InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())


# ---------------------------------------------------------------------- the sampler
@pytest.mark.parametrize("scale", [Fraction(10), Fraction(200, 3)])
def test_sampler_is_discrete_laplace_of_the_stated_scale(scale: Fraction) -> None:
    n = 20_000
    z = sample_discrete_laplace(scale, n, SeededRandomSource(7))
    assert z.dtype == np.int64 and z.shape == (n,)
    std = noise_std(scale)
    assert abs(z.mean()) < 4 * std / math.sqrt(n)
    assert abs(z.var() / std**2 - 1) < 0.06  # SE of the variance ratio ~ sqrt(5/n) = 1.6%
    p0 = prob_zero(scale)
    assert abs((z == 0).mean() - p0) < 4 * math.sqrt(p0 * (1 - p0) / n)
    # the whole pmf: chi-square against (1-a)/(1+a) a^|z|, tails pooled
    a = math.exp(-1 / float(scale))
    edge = int(3 * float(scale))
    support = np.arange(-edge, edge + 1)
    pmf = (1 - a) / (1 + a) * a ** np.abs(support)
    observed = np.array([(z == v).sum() for v in support] + [(np.abs(z) > edge).sum()])
    expected = np.append(pmf, 1 - pmf.sum()) * n
    assert expected.min() >= 5  # every cell (the pooled tails included) is large enough
    expected *= observed.sum() / expected.sum()
    assert stats.chisquare(observed, expected).pvalue > 1e-4


def test_default_noise_source_is_the_os_csprng(monkeypatch: pytest.MonkeyPatch) -> None:
    calls = []
    real = dpmod.secrets.randbelow

    def counting(n: int) -> int:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(dpmod.secrets, "randbelow", counting)
    z = sample_discrete_laplace(Fraction(20), 50)
    assert z.shape == (50,) and len(calls) >= 150  # U, the Bernoullis and the sign per draw
    assert isinstance(dpmod.SystemRandomSource().randbelow(10), int)


# ---------------------------------------------------------------------- the protocol
def test_dp_counts_have_the_stated_noise_and_woe_still_works(
    credit: VerticalData,
    make_peer: Callable[..., PassivePeer],
    keypair: PaillierKeypair,
    tmp_path: Path,
) -> None:
    peer = make_peer(
        TableProvider(credit.platform), context_extras={"binning_dp_rng": SeededRandomSource(11)}
    )
    kw: dict[str, Any] = {"method": "equal_width", "n_bins": 20, "key_bits": 1024}
    exact = FederatedBinning(**kw).fit(
        credit.bank, peer, rows=credit.train, keypair=keypair, model_id="bin-exact"
    )
    peer.open_session(SessionSpec(job_id="bin-dp", algorithm="binning"))
    noisy = FederatedBinning(**kw, dp_epsilon=EPS).run(
        BinningStub(peer),
        credit.bank,
        rows=credit.train,
        keypair=keypair,
        model_id="bin-dp",
    )
    # exact run: the bank reads the true counts (documented disclosure, unchanged)
    ref_e, ref_g = exact_platform_counts(credit, "equal_width", 20)
    for j, (e, t) in enumerate(
        zip(exact.platform_raw_events_, exact.platform_raw_totals_, strict=True)
    ):
        assert np.array_equal(e, ref_e[j]) and np.array_equal(t - e, ref_g[j])
    assert exact.dp_record_ is None
    # noisy run: the bank's raw view = exact + discrete Laplace of scale 2 d / eps
    d = credit.platform.n_features
    scale = noise_scale(EPS, d)
    z = np.concatenate(
        [e - ref_e[j] for j, e in enumerate(noisy.platform_raw_events_)]
        + [
            (t - e) - ref_g[j]
            for j, (e, t) in enumerate(
                zip(noisy.platform_raw_events_, noisy.platform_raw_totals_, strict=True)
            )
        ]
    )
    assert z.size >= 300
    std = noise_std(scale)
    assert 0.8 < z.std() / std < 1.25 and abs(z.mean()) < 4 * std / math.sqrt(z.size)
    assert (z == 0).mean() < prob_zero(scale) + 0.05  # exact counts are the exception
    # post-processed counts: never negative, events <= totals; WOE and IV computed
    for f in noisy.features_:
        assert np.all(f.stats.events >= 0) and np.all(f.stats.events <= f.stats.totals)
        assert np.all(np.isfinite(f.stats.woe)) and math.isfinite(f.iv) and f.iv >= 0
    iv_exact, iv_noisy = exact.iv("platform"), noisy.iv("platform")
    assert iv_noisy["p_x5"] > 0.5 and iv_exact["p_x5"] > 0.5  # the strongest stays strong
    # selection and the WOE exchange work on noisy counts
    top = noisy.select(top_k=6)
    assert len(top) == 6 and any(f.party == "platform" for f in top)
    resp = noisy.send_platform_woe()
    assert list(resp.features) == [f.index for f in noisy.selected("platform")]
    peer.close_session()
    # epsilon recorded by both parties, and charged to the bank in the platform's ledger
    rec = noisy.dp_record_
    assert rec is not None and rec["epsilon"] == EPS and rec["n_features"] == d
    assert rec["epsilon_per_feature"] == pytest.approx(EPS / d) and rec["applied_by"] == "platform"
    state = read_json(tmp_path / "platform" / "jobs" / "bin-dp" / "binning_state.json")
    assert state["dp"]["epsilon"] == EPS and state["released"] is True
    assert (
        read_json(tmp_path / "platform" / "jobs" / "bin-exact" / "binning_state.json")["dp"] is None
    )
    ledger = DpLedger(tmp_path / "platform" / "privacy").entries()
    assert [(e["party"], e["job_id"], e["epsilon"]) for e in ledger] == [("bank-a", "bin-dp", EPS)]


def test_bad_epsilon_is_refused(
    credit: VerticalData,
    make_peer: Callable[..., PassivePeer],
    keypair: PaillierKeypair,
    tmp_path: Path,
) -> None:
    for bad in (0, 0.0, -1.0, float("nan"), float("inf"), "1", True):
        with pytest.raises(InvalidArgument, match="dp_epsilon"):
            FederatedBinning(dp_epsilon=bad)  # type: ignore[arg-type]
    with pytest.raises(InvalidArgument, match=r"range \[0.01, 5\]"):  # the default range
        dpmod.check_epsilon(8.0, 10)
    with pytest.raises(InvalidArgument, match="too small"):
        dpmod.check_epsilon(0.01, 10**8)  # the noise would not fit its slots
    peer = make_peer(
        TableProvider(credit.platform),
        context_extras={
            "binning_dp_epsilon_range": (0.5, 4.0),
            "binning_dp_rng": SeededRandomSource(3),
        },
    )
    for i, eps in enumerate((8.0, 0.1)):  # above the node's ceiling, below its floor
        with pytest.raises(InvalidArgument, match=r"range \[0.5, 4\]"):
            FederatedBinning(dp_epsilon=eps, n_bins=5).fit(
                credit.bank, peer, rows=credit.train, keypair=keypair, model_id=f"bin-bad{i}"
            )
        # refused before anything was binned or written
        assert not (tmp_path / "platform" / "jobs" / f"bin-bad{i}" / "binning_state.json").exists()
    assert not (tmp_path / "platform" / "privacy").exists()
    ok = FederatedBinning(dp_epsilon=1.0, n_bins=5).fit(
        credit.bank, peer, rows=credit.train, keypair=keypair, model_id="bin-ok"
    )
    assert ok.dp_record_ is not None and ok.dp_record_["epsilon"] == 1.0


def test_one_release_per_job_budget_and_required_dp(
    credit: VerticalData,
    keypair: PaillierKeypair,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    calls = []
    real = dpmod.secrets.randbelow

    def counting(n: int) -> int:
        calls.append(n)
        return real(n)

    monkeypatch.setattr(dpmod.secrets, "randbelow", counting)
    manager = _manager(tmp_path, credit, binning_dp_budget=3.0)  # no injected source
    peer = _peer(manager)
    peer.open_session(SessionSpec(job_id="bin-a", algorithm="binning"))
    stub = BinningStub(peer)
    fb = FederatedBinning(n_bins=6, dp_epsilon=EPS)
    fb.run(stub, credit.bank, rows=credit.train, model_id="bin-a", keypair=keypair)
    assert calls, "the platform drew its noise from the OS CSPRNG"
    labels = kp_labels(keypair, credit)
    again = BinningStub(peer, prefix="bin-again")  # new steps, not a transport retry
    with pytest.raises(FailedPrecondition, match="already released"):
        again.counts(BinCountsRequest(enc_labels=labels))
    init = BinInitRequest(
        model_id="bin-a",
        n_rows=credit.bank.n_rows,
        ids_digest=ids_digest(credit.bank.ids),
        train_rows=credit.train,
        method="quantile",
        n_bins=6,
        public_key=keypair.public_key.to_bytes(),
        dp_epsilon=EPS,
    )
    with pytest.raises(FailedPrecondition, match="already released"):
        again.init(init)
    with pytest.raises(FailedPrecondition, match="already released"):
        BinningStub(peer, prefix="bin-exact").init(
            init.replace(dp_epsilon=0.0)
        )  # no exact counts after a noisy release
    peer.close_session()
    # a platform restart keeps the rule (state persisted)
    peer2 = _peer(_manager(tmp_path, credit, binning_dp_budget=3.0))
    peer2.open_session(SessionSpec(job_id="bin-a", algorithm="binning"))
    with pytest.raises(FailedPrecondition, match="already released"):
        BinningStub(peer2).init(init)
    peer2.close_session()
    # across jobs, releases compose: a second job at EPS would exceed the budget of 3
    with pytest.raises(FailedPrecondition, match="budget"):
        FederatedBinning(n_bins=6, dp_epsilon=EPS).fit(
            credit.bank, peer2, rows=credit.train, keypair=keypair, model_id="bin-b"
        )
    assert DpLedger(tmp_path / "platform" / "privacy").spent("bank-a") == EPS
    assert not (tmp_path / "platform" / "jobs" / "bin-b" / "binning_state.json").exists()
    # a node that requires DP refuses exact counts
    strict = _peer(_manager(tmp_path / "strict", credit, binning_dp_required=True))
    with pytest.raises(FailedPrecondition, match="only with dp_epsilon"):
        FederatedBinning(n_bins=6).fit(
            credit.bank, strict, rows=credit.train, keypair=keypair, model_id="bin-c"
        )


def kp_labels(keypair: PaillierKeypair, data: VerticalData) -> Any:
    y = data.bank.y
    assert y is not None
    return keypair.encrypt([int(v) for v in y[data.train]]).to_wire()


# ---------------------------------------------------------------------- scorecard and model card
def test_scorecard_records_epsilon_in_both_parts_and_the_model_card(
    credit: VerticalData, tmp_path: Path
) -> None:
    from bank_node.jobs.algorithms import FitJob, fit_scorecard
    from bank_node.tracking.model_card import build_model_card, privacy_params
    from tests.test_tracking import fake_job, fake_result

    manager = _manager(tmp_path, credit, binning_dp_rng=SeededRandomSource(5))
    peer = _peer(manager)
    job = FitJob(
        params={
            "binning_method": "quantile",
            "n_bins": 5,
            "top_k": 4,
            "iv_threshold": None,
            "max_epochs": 3,
            "random_state": 0,
            "dp_epsilon": EPS,  # as in a job file's [params]
        },
        key_bits=1024,
        scheme="paillier",
        job_id="sc-dp",
        dataset="",
        session_params={},
        train_rows=credit.train,
        valid_rows=credit.test[:300],
        checkpoint_dir=tmp_path / "ckpt",
        model_dir=tmp_path / "bank-models",
        callbacks=[lambda entry: events.append(("epoch", entry["step"]))],
        should_stop=None,
        on_phase=lambda name: events.append(("phase", name)),
    )
    events: list[tuple[str, object]] = []
    outcome = fit_scorecard(job, credit.bank, peer)
    # issue 15 item 5: progress sees the binning phase, then each epoch as it ends
    n_epochs = len(outcome.history)
    assert events == [("phase", "binning"), ("phase", "training")] + [
        ("epoch", i) for i in range(n_epochs)
    ]
    card = outcome.estimator
    assert isinstance(card, FederatedScorecard) and card.dp_epsilon == EPS
    assert card.binning_dp_ is not None and card.binning_dp_["epsilon"] == EPS
    assert outcome.valid_scores is not None and np.all(np.isfinite(outcome.valid_scores))
    # the bank's part, saved and reloaded
    body = json.loads(outcome.model_path.read_text())
    assert body["binning_dp"]["epsilon"] == EPS and body["binning_dp"]["applied_by"] == "platform"
    loaded = FederatedScorecard.load(outcome.model_path)
    assert loaded.binning_dp_ == card.binning_dp_ and loaded.dp_epsilon == EPS
    # the platform's part
    part = read_json(tmp_path / "platform" / "models" / "scorecard" / "sc-dp.json")
    assert part["binning_dp"]["epsilon"] == EPS and part["binning_dp"]["applied_by"] == "platform"
    # the model card and the MLflow params state it
    result = dataclasses.replace(fake_result(tmp_path), privacy=outcome.stats["privacy"])
    model_card = build_model_card(fake_job(), result)
    assert model_card["differential_privacy"]["binning_counts"]["epsilon"] == EPS
    assert "epsilon = 2" in model_card["privacy"]
    assert privacy_params(result) == {"privacy.binning_counts.epsilon": "2.0"}
    # without the option, nothing changes: no DP key anywhere
    plain = build_model_card(fake_job(), fake_result(tmp_path))
    assert "differential_privacy" not in plain and privacy_params(fake_result(tmp_path)) == {}
