"""Privacy attacks on vertical LR, quick versions (``experiments/privacy/logreg_*.py``).

Each ``before`` row re-enacts the old message flow and must be detected as a leak: that is what
shows the attack works. The CKKS attacks also run against a control evaluator (exact encoding,
mask uniform mod q on every coefficient but the read-outs), which shows the instrument tells a
closed channel from an open one. Attacks on the new protocol take a ``BankView`` /
``CkksTarget`` built from its transcript and use the same ``result(...)`` entry points.
"""

from __future__ import annotations

import numpy as np
import pytest
import tenseal.sealapi as seal

from experiments.privacy import ATTACK_MODULES
from experiments.privacy import logreg_ckks_lowbits as lowbits
from experiments.privacy import logreg_ckks_noiseless as noiseless
from experiments.privacy import logreg_colspace as colspace
from experiments.privacy import logreg_gram as gram
from experiments.privacy import logreg_repeated_eval as repeated_eval
from experiments.privacy.common import AttackResult
from experiments.privacy.logreg_old_ckks import new_bank_context, old_embed
from experiments.privacy.logreg_old_flow import Scenario, old_run, split_rows
from experiments.privacy.logreg_recover import complete_low_rank, span_basis
from experiments.privacy.logreg_seal import ExactKey, embed
from experiments.privacy.logreg_view import BankView

pytestmark = pytest.mark.usefixtures("shared_data")

FIELDS = ("protocol", "attack", "variant", "recovered", "baseline", "rule", "leak")


def _rows(module_name: str) -> list[AttackResult]:
    """The module's quick rows, run once per test session."""
    if module_name not in _cache:
        _cache[module_name] = _RUN[module_name](True)
    return _cache[module_name]


_cache: dict[str, list[AttackResult]] = {}
_RUN = {
    "colspace": colspace.run,
    "gram": gram.run,
    "repeated_eval": repeated_eval.run,
    "lowbits": lowbits.run,
    "noiseless": noiseless.run,
}


def _check_shape(rows: list[AttackResult]) -> None:
    for r in rows:
        doc = r.to_json()
        assert all(k in doc for k in FIELDS)
        assert r.protocol in ("logreg-paillier", "logreg-ckks")
        assert np.isfinite(r.recovered) and np.isfinite(r.baseline)


def test_modules_are_registered() -> None:
    for name in ("colspace", "gram", "repeated_eval", "ckks_lowbits", "ckks_noiseless"):
        assert f"logreg_{name}" in ATTACK_MODULES


@pytest.mark.parametrize("name", ["colspace", "gram", "repeated_eval"])
def test_old_flow_leaks_in_both_modes(name: str) -> None:
    rows = _rows(name)
    _check_shape(rows)
    before = [r for r in rows if r.variant == "before"]
    assert {r.protocol for r in before} == {"logreg-paillier", "logreg-ckks"}
    for r in before:
        assert r.leak, (r.attack, r.protocol, r.recovered, r.baseline)
        assert r.recovered > 0.95


def test_column_space_recovers_features_from_eleven_rows() -> None:
    rows = {(r.protocol, r.attack): r for r in _rows("colspace") if r.variant == "before"}
    for protocol in ("logreg-paillier", "logreg-ckks"):
        k11 = rows[(protocol, "column-space-k11")]
        assert k11.details["directions"] == 10
        assert k11.details["relative_error_exact_solve"] < 1e-5  # the issue: 2.7e-7


def test_gram_dynamics_recover_the_platform_gram() -> None:
    paillier = next(
        r for r in _rows("gram") if r.protocol == "logreg-paillier" and r.variant == "before"
    )
    assert paillier.details["relative_frobenius_error"] < 1e-2
    assert paillier.details["correlations"]["dynamics"] > 0.999


def test_repeated_eval_spans_the_platform_columns() -> None:
    for r in _rows("repeated_eval"):
        if r.variant == "before":
            assert r.details["directions"] == 10 and r.details["baseline_directions"] == 1


def test_ckks_lowbits_old_flood_leaks_and_uniform_mask_closes_it() -> None:
    rows = {r.variant: r for r in _rows("lowbits")}
    _check_shape(list(rows.values()))
    before = rows["before"]
    assert before.leak and before.recovered == 1.0 and before.baseline < 0.01
    assert before.details["honest_low47_fraction"] > 0.999  # the issue: 99.98% at ~48 bits
    control = rows["control-uniform-mask"]
    assert not control.leak and control.details["honest_low44_fraction"] < 0.01


def test_ckks_noiseless_reads_the_platform_plaintexts() -> None:
    rows = {(r.attack, r.variant): r for r in _rows("noiseless")}
    _check_shape(list(rows.values()))
    assert rows[("noiseless-all", "before")].leak
    assert rows[("noiseless-all", "before")].recovered == 1.0
    assert not rows[("noiseless-all", "control-uniform-mask")].leak
    # the read-outs of a bank-chosen X^r query hold row r's platform values when unmasked:
    # the control leaves them unmasked (as a design that reveals inner products must), and the
    # probe finds every probed value
    assert rows[("noiseless-readout", "control-uniform-mask")].leak
    assert rows[("noiseless-readout", "control-uniform-mask")].recovered == 1.0


def _empty_view(view: BankView, final: bool) -> BankView:
    return BankView(
        n_rows=view.n_rows,
        train_rows=view.train_rows,
        per_row_vectors=[],
        aggregates=[],
        X_b=view.X_b,
        y=view.y,
        n_platform_features=view.n_platform_features,
        final_partial=view.final_partial if final else None,
    )


@pytest.mark.parametrize("final", [False, True])
def test_a_view_without_per_row_vectors_is_no_leak(final: bool) -> None:
    """What the new protocol's view should look like: the rules do not fire on it (the final
    model's partial score, the product, is part of every baseline)."""
    run = old_run(Scenario.of(True), "paillier")
    view = _empty_view(run.view, final)
    for k in colspace.KNOWN_ROWS:
        r = colspace.result(view, run.X_p, k, "logreg-paillier", "empty")
        assert not r.leak and r.recovered == r.baseline
    g = gram.result(view, run.design_p, "logreg-paillier", "empty")
    assert not g.leak and g.recovered == g.baseline
    _, _, rest = split_rows(Scenario.of(True))
    e = repeated_eval.result(view, run.X_p, rest, "logreg-paillier", "empty")
    assert not e.leak and e.details["directions"] == 0


def test_low_rank_completion_recovers_a_minibatch_span() -> None:
    rng = np.random.default_rng(0)
    n, f, epochs, batch = 600, 4, 8, 200
    X = rng.normal(size=(n, f))
    M = np.full((n, epochs * (n // batch)), np.nan)
    col = 0
    for _ in range(epochs):
        perm = rng.permutation(n)
        for s in range(0, n, batch):
            rows = perm[s : s + batch]
            M[rows, col] = X[rows] @ rng.normal(size=f)
            col += 1
    F, fit_residual = complete_low_rank(M, f)
    assert fit_residual < 1e-8
    B = span_basis(F)
    outside = X - B @ (B.T @ X)
    assert np.linalg.norm(outside) / np.linalg.norm(X) < 1e-6


def test_exact_key_reads_and_writes_exact_polynomials() -> None:
    key = ExactKey(new_bank_context())
    rng = np.random.default_rng(1)
    coeffs = rng.integers(-(2**40), 2**40, key.degree).astype(np.float64)
    blob = key.encrypt(coeffs, noiseless=True)
    assert np.array_equal(key.decrypt(blob).astype(np.int64), coeffs.astype(np.int64))
    noisy = key.decrypt(key.encrypt(coeffs)).astype(np.int64) - coeffs.astype(np.int64)
    assert 0 < np.abs(noisy).max() < 64  # a fresh symmetric encryption's noise
    # the old code's slot order (generator 5) is not SEAL's (3): its "exact" integer encoding
    # handed SEAL another polynomial (the attacks undo it; a new encoder must not repeat it)
    poly = np.zeros(key.degree)
    poly[1], poly[77] = 2.0**20, -5.0
    assert np.array_equal(_encoded(key, embed(poly)), poly.astype(np.int64))
    assert not np.array_equal(_encoded(key, old_embed(poly)), poly.astype(np.int64))


def _encoded(key: ExactKey, slots: np.ndarray) -> np.ndarray:
    pt = seal.Plaintext()
    key.encoder.encode(slots.tolist(), key.top, 1.0, pt)
    return key.plaintext_coefficients(pt).astype(np.int64)


@pytest.mark.parametrize("name", ["colspace", "gram", "repeated_eval"])
@pytest.mark.parametrize("mode", ["paillier", "ckks"])
def test_new_protocol_reveals_nothing_beyond_the_baseline(name: str, mode: str) -> None:
    """The product's LR, run for real: the bank's whole view (its gradients, intervals,
    convergence scalars, masked hand-backs; the final model's scores on the rows it may score)
    predicts platform features no better than its own features and known rows do."""
    rows = [r for r in _rows(name) if r.variant == mode]
    assert rows, f"{name} has no {mode} rows"
    for r in rows:
        assert not r.leak, (r.attack, r.recovered, r.baseline)
        assert r.recovered - r.baseline <= 0.02
    if name == "repeated_eval" and mode == "paillier":
        # scoring again and again gives the final score's direction only (CKKS answers carry
        # fresh ~1e-6 noise, which counts as extra numerical directions but predicts nothing)
        assert all(r.details["directions"] <= 1 for r in rows)


def test_new_ckks_evaluator_closes_the_low_bit_and_noiseless_channels() -> None:
    got = {(r.attack, r.variant): r for r in _rows("lowbits") + _rows("noiseless")}
    for variant in ("ckks", "ckks-bank-output"):
        assert not got[("lowbits-chosen-residual", variant)].leak
        assert not got[("noiseless-all", variant)].leak
    # the platform's own output: even its read-outs are masked, so a probe reads nothing
    assert not got[("noiseless-readout", "ckks")].leak
    # the bank's output reveals exactly its read-outs: a deviating bank that encrypts a one-hot
    # vector instead of its features reads one row's basis value per read-out (the documented
    # semi-honest bound, docs/logreg.md 2.5); nothing else
    probe = got[("noiseless-readout", "ckks-bank-output")]
    assert probe.details["probed_rows"] == probe.details["calls"]
    assert got[("noiseless-all", "ckks-bank-output")].recovered <= 1.0 / 2000 + 1e-9
