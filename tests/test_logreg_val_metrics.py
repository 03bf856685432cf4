"""Per-epoch validation log-loss of vertical LR and the scorecard (``models/logreg/val_loss.py``).

The private aggregate must match the plaintext log-loss of the joint model at each epoch
within the expansion's error, over both transports and in both modes; the platform answers it
only in a job that agreed to it, once per finished epoch, with enough validation rows, and
refuses a changed validation set on resume.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest

import models.logreg.passive  # noqa: F401  (registers the platform party)
from experiments.support.vertical import TableProvider, VerticalData, load_vertical
from models.errors import FailedPrecondition, InvalidArgument
from models.federation.peer import PassivePeer
from models.logreg import separable, val_loss
from models.logreg.active import FederatedLogisticRegression
from models.logreg.engine import LrTrainer, TrainResult
from models.logreg.he import ActiveCrypto, PassiveCrypto
from models.logreg.messages import LrInitRequest, LrValLossRequest, LrValLossResponse
from models.logreg.model_io import ids_digest, read_json
from models.logreg.optim import LrParams, log_loss
from models.logreg.sessions import model_session_spec
from models.logreg.transform import Standardizer
from tests.logreg_support import open_train_session

#: |private - plaintext| allowed for the mean validation log-loss: the expansion's error
#: (measured ~1e-3 relative with 8 terms for partial scores spanning 25 log-odds) plus margin.
REL_TOLERANCE = 0.01
ABS_TOLERANCE = 1e-3


@pytest.fixture(scope="module")
def breast(shared_data: Path) -> VerticalData:
    return load_vertical(shared_data, "breast")


def _params(mode: str, epochs: int = 3) -> LrParams:
    return LrParams(
        mode=mode,
        C=0.1,
        optimizer="precond",
        schedule="constant",
        momentum=0.5,
        nesterov=True,
        max_epochs=epochs,
        tol=0.0,
        validation_metrics=True,
    )


def _train(
    data: VerticalData, peer: PassivePeer, mode: str, job: str, epochs: int = 3
) -> tuple[LrTrainer, TrainResult, np.ndarray]:
    keys = ActiveCrypto.generate(mode, 1024)
    std = Standardizer(True).fit(data.bank.X[data.train])
    Xb = std.transform(data.bank.X)
    open_train_session(peer, job)
    trainer = LrTrainer(peer, keys, _params(mode, epochs))
    y = np.asarray(data.bank.y, dtype=np.float64)
    result = trainer.run(job, data.bank.ids, Xb, y, data.train, data.test)
    return trainer, result, Xb


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_val_logloss_matches_plaintext_each_epoch(
    breast: VerticalData, make_peer: Callable[..., PassivePeer], tmp_path: Path, mode: str
) -> None:
    peer = make_peer(TableProvider(breast.platform))
    _, result, Xb = _train(breast, peer, mode, "lr-val")
    peer.close_session("done")
    state = read_json(tmp_path / "platform" / "jobs" / "lr-val" / "logreg_state.json")
    Xp = Standardizer(True).fit(breast.platform.X[breast.train]).transform(breast.platform.X)
    y = np.asarray(breast.bank.y)[breast.test]
    history = result.history
    assert len(history) == 3
    for entry in history:
        e = int(entry["epoch"])
        w_b = result.weights_by_epoch[e]
        w_p = np.asarray(state["snapshots"][str(e)])
        z = Xb[breast.test] @ w_b[:-1] + w_b[-1] + Xp[breast.test] @ w_p
        exact = log_loss(y, z)
        assert abs(entry["val_logloss"] - exact) <= REL_TOLERANCE * exact + ABS_TOLERANCE
    assert history[-1]["val_logloss"] < history[0]["val_logloss"]
    assert sorted(state["val_answered"]) == [0, 1, 2]


def test_estimator_reports_val_logloss_and_final_matches(
    breast: VerticalData, make_peer: Callable[..., PassivePeer]
) -> None:
    peer = make_peer(TableProvider(breast.platform))
    seen: list[dict[str, object]] = []
    model = FederatedLogisticRegression(
        C=0.1, max_epochs=3, tol=0.0, key_bits=1024, validation_metrics_per_epoch=True
    )
    model.fit(
        breast.bank,
        peer,
        rows=breast.train,
        validation_rows=breast.test,
        callbacks=[seen.append],
    )
    assert [e["val_logloss"] for e in seen] == [h["val_logloss"] for h in model.history_]
    proba = model.predict_proba(breast.bank, peer, rows=breast.test)[:, 1]
    exact = log_loss(np.asarray(breast.bank.y)[breast.test], np.log(proba / (1 - proba)))
    last = float(model.history_[-1]["val_logloss"])
    assert abs(last - exact) <= REL_TOLERANCE * exact + ABS_TOLERANCE
    # off, or too few validation rows: no per-epoch metric
    for flag, rows in ((False, breast.test), (True, breast.test[:20]), (None, breast.test)):
        other = FederatedLogisticRegression(
            C=0.1, max_epochs=1, key_bits=1024, validation_metrics_per_epoch=flag
        )
        other.fit(breast.bank, peer, rows=breast.train, validation_rows=rows)
        assert "val_logloss" not in other.history_[0]


def test_platform_refusals(breast: VerticalData, make_peer: Callable[..., PassivePeer]) -> None:
    peer = make_peer(TableProvider(breast.platform))
    trainer, _, Xb = _train(breast, peer, "paillier", "lr-refuse", epochs=1)
    coef = np.zeros((breast.test.size, val_loss.loss_terms_for("paillier")))
    enc = trainer.keys.encrypt_loss_terms(coef)
    with pytest.raises(FailedPrecondition, match="already answered"):
        trainer.stub.peer.call("lr/e0/val_loss-again", LrValLossRequest(0, enc), LrValLossResponse)
    with pytest.raises(FailedPrecondition, match="not finished"):
        trainer.stub.val_loss(LrValLossRequest(5, enc))
    peer.close_session("done")
    # too few validation rows: refused at init by both sides
    params = _params("paillier")
    keys = ActiveCrypto.generate("paillier", 1024)
    open_train_session(peer, "lr-small")
    y = np.asarray(breast.bank.y, dtype=np.float64)
    with pytest.raises(InvalidArgument, match="at least 50 validation rows"):
        LrTrainer(peer, keys, params).run(
            "lr-small", breast.bank.ids, Xb, y, breast.train, breast.test[:10]
        )
    with pytest.raises(InvalidArgument, match="at least 50 validation rows"):
        LrTrainer(peer, keys, params).stub.init(
            LrInitRequest(
                model_id="lr-small",
                n_rows=len(breast.bank.ids),
                ids_digest=ids_digest(breast.bank.ids),
                train_rows=breast.train,
                params=params.to_params(),
                public_key=keys.public_bytes(),
                validation_rows=breast.test[:10],
                n_bank_features=Xb.shape[1],
            )
        )
    peer.close_session("done")


def test_not_agreed_and_changed_validation_rows_refused(
    breast: VerticalData, make_peer: Callable[..., PassivePeer]
) -> None:
    peer = make_peer(TableProvider(breast.platform))
    keys = ActiveCrypto.generate("paillier", 1024)
    std = Standardizer(True).fit(breast.bank.X[breast.train])
    Xb = std.transform(breast.bank.X)
    y = np.asarray(breast.bank.y, dtype=np.float64)
    spec = model_session_spec(
        job_id="lr-off",
        algorithm="logreg",
        dataset="",
        session_params=None,
        model_id="lr-off",
        purpose="train",
    )
    params = LrParams(**{**_params("paillier", 1).__dict__, "validation_metrics": False})
    peer.open_session(spec)
    trainer = LrTrainer(peer, keys, params)
    trainer.run("lr-off", breast.bank.ids, Xb, y, breast.train, breast.test, finalize=False)
    enc = keys.encrypt_loss_terms(np.zeros((breast.test.size, 8)))
    with pytest.raises(FailedPrecondition, match="not agreed"):
        trainer.stub.val_loss(LrValLossRequest(0, enc))
    peer.close_session("done")
    # resuming the same job with other validation rows is refused (a replayed init under the
    # same step id is refused by the step cache already; another step id reaches the state)
    peer.open_session(spec)
    with pytest.raises(FailedPrecondition, match="validation rows differ"):
        LrTrainer(peer, keys, params, prefix="lr-resumed").run(
            "lr-off", breast.bank.ids, Xb, y, breast.train, breast.test[1:]
        )
    peer.close_session("done")


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_expansion_and_layouts_match_the_plain_sum(mode: str) -> None:
    rng = np.random.default_rng(3)
    n = 400
    u, a = rng.normal(0.0, 3.0, n), rng.normal(-1.0, 1.5, n)
    z = a + u
    y = (rng.random(n) < 1 / (1 + np.exp(-z))).astype(float)
    lo, hi = separable.coarse_interval(u)
    K = val_loss.loss_terms_for(mode)
    coef = val_loss.loss_coefficients(a, y, lo, hi, K)
    basis = val_loss.loss_basis(u, lo, hi, K)
    keys = ActiveCrypto.generate(mode, 1024)
    enc = PassiveCrypto(mode, keys.public_bytes()).combine_loss(
        keys.encrypt_loss_terms(coef), basis
    )
    got = keys.read_loss(enc, coef)
    assert got == pytest.approx(float((coef * basis).sum()), abs=1e-4)
    exact = float(np.sum(np.logaddexp(0.0, z) - y * z))
    assert got == pytest.approx(exact, rel=1e-3)


@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_scorecard_reports_val_logloss(
    shared_data: Path, make_peer: Callable[..., PassivePeer], mode: str
) -> None:
    import models.scorecard.passive  # noqa: F401  (registers the platform party)
    from models.scorecard.active import FederatedScorecard

    credit = load_vertical(shared_data, "default_credit", n_rows=1500, seed=7)
    peer = make_peer(TableProvider(credit.platform))
    card = FederatedScorecard(
        binning_method="quantile",
        n_bins=5,
        top_k=4,
        iv_threshold=None,
        mode=mode,
        max_epochs=2,
        tol=0.0,
        key_bits=1024,
        validation_metrics_per_epoch=True,
    )
    seen: list[dict[str, object]] = []
    card.fit(
        credit.bank, peer, rows=credit.train, validation_rows=credit.test, callbacks=[seen.append]
    )
    losses = [float(h["val_logloss"]) for h in card.history_]
    assert len(losses) == 2
    assert [e["val_logloss"] for e in seen if "epoch" in e] == losses
    proba = card.predict_proba(credit.bank, peer, rows=credit.test)[:, 1]
    exact = log_loss(np.asarray(credit.bank.y)[credit.test], np.log(proba / (1 - proba)))
    assert abs(losses[-1] - exact) <= REL_TOLERANCE * exact + ABS_TOLERANCE


def test_default_is_on_in_ckks_off_in_paillier() -> None:
    rows = np.arange(60)
    for mode, default in (("ckks", True), ("paillier", False)):
        params = LrParams(mode=mode)
        assert val_loss.with_validation_metrics(params, None, rows).validation_metrics is default
        assert val_loss.with_validation_metrics(params, True, rows).validation_metrics
        assert not val_loss.with_validation_metrics(params, True, rows[:49]).validation_metrics
        assert not val_loss.with_validation_metrics(params, False, rows).validation_metrics


def test_val_logloss_is_logged_per_step_to_mlflow() -> None:
    from types import SimpleNamespace
    from typing import Any

    from bank_node.tracking.run import _metrics

    history = [{"step": 0, "val_logloss": 0.47}, {"step": 1, "val_logloss": 0.46}]
    result: Any = SimpleNamespace(history=history, final_metrics={"val_auc": 0.7})
    logged = [(m.key, m.value, m.step) for m in _metrics(result, 0)]
    assert ("val_logloss", 0.47, 0) in logged and ("val_logloss", 0.46, 1) in logged


def test_ckks_loss_result_reveals_coefficient_zero_only() -> None:
    """Every other coefficient of the sealed CKKS result is uniform modulo q to the bank, even
    for coefficients that put one row's basis values at a coefficient a plain product would
    reveal (the bank's one-hot probe at N/2)."""
    rng = np.random.default_rng(5)
    n = 100
    u = rng.normal(0.0, 2.0, n)
    lo, hi = separable.coarse_interval(u)
    K = val_loss.loss_terms_for("ckks")
    basis = val_loss.loss_basis(u, lo, hi, K)
    keys = ActiveCrypto.generate("ckks")
    coef = np.zeros((n, K))
    coef[0, 1] = 1.0
    enc = PassiveCrypto("ckks", keys.public_bytes()).combine_loss(
        keys.encrypt_loss_terms(coef), basis
    )
    ckey = keys._coeff_key()
    (blob,) = ckey.blobs(enc)
    raw0, raw_half, raw_one = ckey.read(blob, (0, ckey.degree // 2, 1))
    assert abs(ckey.layout.centred(raw0) / 2.0**60 - basis[0, 1]) < 1e-6
    for raw in (raw_half, raw_one):  # masked: ~2^119 in magnitude (< 2^90 with prob. 2^-29)
        assert abs(ckey.layout.centred(raw)) > 2**90
