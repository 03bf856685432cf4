"""LR attack: the per-epoch validation log-loss (one scalar per epoch) against the platform.

With per-epoch validation metrics (``models/logreg/val_loss.py``) the bank decrypts, after
every epoch ``e``, ``L_e = (1/m) sum_i softplus(a_i + u_i^(e)) - y_i (a_i + u_i^(e))`` over the
``m`` fixed validation rows (up to the expansion's error), and the coarse interval of the
platform's validation partial scores ``u^(e) = X_p w_p^(e)``. The issue-12 attack needs the
per-row vectors ``u^(e)``: each epoch adds a direction of ``X_p``'s column space on the
validation rows, and with ``k`` rows of known raw platform data the bank solves for the raw
features (``logreg_colspace``).

Attack: the bank inverts each scalar into a per-row vector. Its best hypothesis for ``u^(e)``
is the final model's partial score ``u_final`` (the product: prediction reveals it) rescaled,
``u^(e) = beta_e u_final + gamma_e``: ``gamma_e`` is the centre of the announced interval minus
that of the final one, ``beta_e`` solves ``L_e = loss(beta_e)`` (one equation per epoch). The
recovered vectors go into the column-space attack on the validation rows as if revealed.

``before``: the per-row validation scores revealed each epoch (what a per-row validation AUC
would need): the same column-space attack on the exact ``u^(e)``, to show the attack works.

Figure: mean ``R^2`` of the recovered raw platform features on the validation rows (``k = 50``
known), best predictor per feature. Baseline: the same attack given only the bank's features,
labels and ``u_final`` (the product), so that its candidate sets include ``u_final`` alone
(with ``k = 50`` known rows a smaller set can beat a larger one). Rule: leak if
recovered - baseline > 0.02. The bank's view is simulated in plaintext (a joint
preconditioned gradient descent with each party's standardisation; the revealed scalar
computed with the protocol's expansion, Paillier's 8 terms); the encrypted protocol's
agreement with that expansion is tested in ``tests/test_logreg_val_metrics.py``.
"""

from __future__ import annotations

import time

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.logreg_colspace import attack as colspace_attack
from experiments.privacy.logreg_view import BankView, load_default_credit, standardize
from models.logreg import separable, val_loss

PROTOCOL = "logreg-paillier"
TOLERANCE = 0.02
KNOWN = 50


def _train(
    Xb: np.ndarray, Xp: np.ndarray, y: np.ndarray, train: np.ndarray, epochs: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per epoch ``(w_b with intercept last, w_p)`` of full-batch block-preconditioned GD."""
    n = train.size
    alpha = 1.0 / n
    A = np.column_stack([Xb[train], np.ones(n)])
    B = Xp[train]
    Pa = np.linalg.inv(0.25 * A.T @ A / n + alpha * np.diag([1.0] * Xb.shape[1] + [0.0]))
    Pb = np.linalg.inv(0.25 * B.T @ B / n + alpha * np.eye(B.shape[1]))
    wa, wb = np.zeros(A.shape[1]), np.zeros(B.shape[1])
    out = []
    for _ in range(epochs):
        d = 1.0 / (1.0 + np.exp(-(A @ wa + B @ wb))) - y[train]
        ga = A.T @ d / n + alpha * np.append(wa[:-1], 0.0)
        gb = B.T @ d / n + alpha * wb
        wa, wb = wa - Pa @ ga, wb - Pb @ gb
        out.append((wa.copy(), wb.copy()))
    return out


def _mean_loss(z: np.ndarray, y: np.ndarray) -> float:
    return float(np.mean(np.logaddexp(0.0, z) - y * z))


def _invert(target: float, a: np.ndarray, y: np.ndarray, u: np.ndarray, shift: float) -> float:
    """``beta`` in ``[0, beta*]`` (``beta*`` the loss minimiser) with ``loss(beta) = target``."""
    grid = np.linspace(0.0, 3.0, 301)
    losses = np.array([_mean_loss(a + g * u + shift, y) for g in grid])
    hi = float(grid[int(np.argmin(losses))])
    lo = 0.0
    f = lambda b: _mean_loss(a + b * u + shift, y) - target  # noqa: E731
    if f(lo) * f(hi) > 0:
        return hi if abs(f(hi)) < abs(f(lo)) else lo
    for _ in range(60):
        mid = (lo + hi) / 2
        if f(lo) * f(mid) <= 0:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2


def scenario(n_rows: int, epochs: int, seed: int = 0) -> dict[str, object]:
    """The bank's view of one run: scalars, intervals, the product, and the truth."""
    data = load_default_credit(n_rows, seed)
    rng = np.random.default_rng(seed)
    perm = rng.permutation(data.n_rows)
    n_val = data.n_rows // 5
    val, train = np.sort(perm[:n_val]), np.sort(perm[n_val:])
    Xb, Xp = standardize(data.X_b, train), standardize(data.X_p, train)
    weights = _train(Xb, Xp, data.y, train, epochs)
    K = val_loss.loss_terms_for("paillier")
    scalars, intervals, exact_u = [], [], []
    for wa, wb in weights:
        a = Xb[val] @ wa[:-1] + wa[-1]
        u = Xp[val] @ wb
        lo, hi = separable.coarse_interval(u)
        coef = val_loss.loss_coefficients(a, data.y[val], lo, hi, K)
        basis = val_loss.loss_basis(u, lo, hi, K)
        scalars.append(float((coef * basis).sum()) / val.size)
        intervals.append((lo, hi))
        exact_u.append(u)
    return {
        "data": data,
        "train": train,
        "val": val,
        "Xb": Xb,
        "weights": weights,
        "scalars": scalars,
        "intervals": intervals,
        "exact_u": exact_u,
    }


def _view(s: dict[str, object], vectors: list[np.ndarray], variant: str) -> BankView:
    data = s["data"]
    val = np.asarray(s["val"])
    n = data.n_rows  # type: ignore[attr-defined]
    full = []
    for v in vectors:
        row = np.full(n, np.nan)
        row[val] = v
        full.append(row)
    final = np.full(n, np.nan)
    final[val] = s["exact_u"][-1]  # type: ignore[index]
    return BankView(
        n_rows=n,
        train_rows=np.asarray(s["train"]),
        per_row_vectors=full,
        aggregates=[np.asarray(s["scalars"])],
        X_b=data.X_b,  # type: ignore[attr-defined]
        y=data.y,  # type: ignore[attr-defined]
        n_platform_features=int(data.X_p.shape[1]),  # type: ignore[attr-defined]
        final_partial=final,
        notes={"variant": variant, "epochs": len(vectors), "validation_rows": int(val.size)},
    )


def recovered_vectors(s: dict[str, object]) -> tuple[list[np.ndarray], float]:
    """The bank's per-epoch vectors from the scalars, and the worst relative mismatch of the
    expansion's scalar against the exact loss (the expansion's error)."""
    val = np.asarray(s["val"])
    Xb = np.asarray(s["Xb"])
    y = s["data"].y[val]  # type: ignore[attr-defined]
    u_final = np.asarray(s["exact_u"][-1])  # type: ignore[index]
    c_final = sum(s["intervals"][-1]) / 2  # type: ignore[index]
    out, worst = [], 0.0
    for (wa_e, _), scalar, interval, u_e in zip(
        s["weights"],
        s["scalars"],
        s["intervals"],
        s["exact_u"],
        strict=True,  # type: ignore[call-overload]
    ):
        a = Xb[val] @ wa_e[:-1] + wa_e[-1]
        shift = sum(interval) / 2 - c_final
        beta = _invert(scalar, a, y, u_final, shift)
        out.append(beta * u_final + shift)
        exact = _mean_loss(a + u_e, y)
        worst = max(worst, abs(scalar - exact) / exact)
    return out, worst


def result(s: dict[str, object], variant: str, k: int = KNOWN) -> AttackResult:
    t0 = time.perf_counter()
    if variant == "before":
        vectors = [np.asarray(u) for u in s["exact_u"]]  # type: ignore[attr-defined]
        details: dict[str, object] = {}
    else:
        vectors, worst = recovered_vectors(s)
        details = {"expansion_relative_error_max": worst}
    view = _view(s, vectors, variant)
    X_p = s["data"].X_p  # type: ignore[attr-defined]
    target = np.asarray(s["val"])
    fig = colspace_attack(view, X_p, k, target=target, complete_only=True)
    # the same attack on the product alone: its candidate sets include u_final on its own
    product = _view(s, [np.asarray(s["exact_u"][-1])], "product")  # type: ignore[index]
    base = colspace_attack(product, X_p, k, target=target, complete_only=True)
    baseline = max(base.recovered, fig.baseline)
    rule, leak = gap_rule(fig.recovered, baseline, TOLERANCE)
    details.update(fig.details)
    details.update(
        figure="mean R^2 of the raw platform features on the validation rows",
        per_feature_recovered=fig.per_feature_recovered,
        per_feature_baseline=fig.per_feature_baseline,
        epochs=len(vectors),
        seconds=round(time.perf_counter() - t0, 2),
    )
    return AttackResult(
        PROTOCOL, f"val-metric-k{k}", variant, fig.recovered, baseline, rule, leak, details
    )


def run(quick: bool = False) -> list[AttackResult]:
    """``before`` (per-row validation scores per epoch) and ``paillier`` (one scalar per
    epoch); quick: 4,000 rows and 12 epochs, full: all 30,000 rows and 20 epochs."""
    s = scenario(4_000 if quick else 30_000, 12 if quick else 20)
    return [result(s, "before"), result(s, "paillier")]
