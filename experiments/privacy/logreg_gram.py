"""LR attack: the Gram matrix ``X_p X_p^T`` of the platform's design, with no side information.

Input: a :class:`~experiments.privacy.logreg_view.BankView` (with its ``trace``) and the
platform's design matrix (truth, standardised as the platform trains on it).

Attack. In a full-batch run with a gradient-type optimiser the platform's update is linear in
what the bank sent: with ``u_t = X w_t`` revealed at step ``t``, ``X m_t = (u_t - u_(t+1)) /
eta_t`` and ``X g_t = X m_t - beta X m_(t-1)`` (heavy ball), and ``X g_t = G d_t / n + alpha u_t``
with ``G = X X^T``. So ``Y = G D`` is known (``Y_t = n (X g_t - alpha u_t)``, ``D`` = the bank's
residuals). With ``B`` an orthonormal basis of the revealed ``u_t`` (``span(X)``),
``G = B M B^T`` and ``B^T Y = M B^T D`` gives ``M`` by least squares: the
similarity of any two rows in platform data, without knowing a single platform value. Generic
candidates that need no dynamics (``V V^T`` and the projection on ``span(V)`` of the revealed
vectors) are tried as well. ``precond`` runs and mini-batches are outside the dynamics
candidate (documented limit; the column-space attack covers them).

Figure: Pearson correlation between estimated and true off-diagonal entries of ``G`` on
sampled pairs of training rows (best candidate). Baseline: the same for what the bank has
anyway: the Gram of its own standardised features (with and without its labels) and, when the
view has it, of the final model's partial score. Rule: leak if recovered - baseline > 0.02.
``details.relative_frobenius_error`` is ``||G_hat - G||_F / ||G||_F`` of the dynamics estimate.

Entry points: ``attack(view, design_p)`` and ``result(view, design_p, protocol, variant)``.
"""

from __future__ import annotations

import time

import numpy as np

from experiments.privacy.common import AttackResult, gap_rule
from experiments.privacy.logreg_new_flow import new_run
from experiments.privacy.logreg_old_flow import Scenario, old_run
from experiments.privacy.logreg_recover import span_basis
from experiments.privacy.logreg_view import BankView, standardize

TOLERANCE = 0.02
PAIRS = 200_000

Factor = tuple[np.ndarray, np.ndarray]  # G_hat = L @ R.T


def dynamics_factor(view: BankView) -> Factor | None:
    """``G_hat = B M B^T`` on the training rows from the update dynamics (full-batch sgd or
    heavy-ball momentum runs): ``B`` an orthonormal basis of the revealed ``u_t`` (the column
    space of ``X``), ``M`` the least-squares solution of ``B^T Y = M B^T D``."""
    tr = view.trace
    if tr is None or len(tr.vector_index) < 3 or tr.optimizer not in ("sgd", "momentum"):
        return None
    rows = view.train_rows
    U = np.stack([np.asarray(view.per_row_vectors[i])[rows] for i in tr.vector_index], 1)
    D = np.stack([np.asarray(d)[rows] for d in tr.residuals], 1)
    if not (np.all(np.isfinite(U)) and np.all(np.isfinite(D))):
        return None  # mini-batches: each vector covers one batch only
    eta = np.asarray(tr.learning_rates)
    steps = U.shape[1] - 1
    Xm = (U[:, :steps] - U[:, 1:]) / eta[:steps]
    Xg = Xm.copy()
    Xg[:, 1:] -= tr.momentum * Xm[:, :-1]
    Y = rows.size * (Xg - tr.alpha * U[:, :steps])  # = G d_t
    B = span_basis(U, max_rank=view.n_platform_features)
    if B.shape[1] == 0:
        return None
    M = (B.T @ Y) @ np.linalg.pinv(B.T @ D[:, :steps])
    return B @ ((M + M.T) / 2), B


def complete_vectors(view: BankView) -> np.ndarray:
    """The revealed vectors that cover every training row (columns)."""
    M = view.revealed(view.train_rows)
    return M[:, np.all(np.isfinite(M), axis=0)]


def _pair_values(fac: Factor, i: np.ndarray, j: np.ndarray) -> np.ndarray:
    L, R = fac
    return np.einsum("pk,pk->p", L[i], R[j])


def _corr(a: np.ndarray, b: np.ndarray) -> float:
    if np.std(a) == 0 or np.std(b) == 0:
        return 0.0
    return float(np.corrcoef(a, b)[0, 1])


def frobenius_error(est: Factor, truth: np.ndarray) -> float:
    """``||L R^T - Z Z^T||_F / ||Z Z^T||_F`` through the factors (no n x n matrix)."""
    L, R = est
    aa = float(np.sum((L.T @ L) * (R.T @ R)))
    bb = float(np.sum((truth.T @ truth) ** 2))
    ab = float(np.sum((L.T @ truth) * (R.T @ truth)))
    return float(np.sqrt(max(0.0, aa - 2 * ab + bb) / bb))


def candidates(view: BankView) -> tuple[dict[str, Factor], dict[str, Factor]]:
    """(baseline candidates, attack-only candidates) as factors on the training rows."""
    rows = view.train_rows
    Zb = standardize(view.X_b, rows)[rows]
    yc = (view.y[rows] - view.y[rows].mean())[:, None]
    base: dict[str, Factor] = {"bank": (Zb, Zb), "bank+label": (np.hstack([Zb, yc]),) * 2}
    if view.final_partial is not None:
        u = np.asarray(view.final_partial, dtype=np.float64)[rows][:, None]
        if np.all(np.isfinite(u)):
            base["final"] = (u, u)
    extra: dict[str, Factor] = {}
    V = complete_vectors(view)
    if V.shape[1]:
        extra["view-outer"] = (V, V)
        Q, s, _ = np.linalg.svd(V, full_matrices=False)
        Q = Q[:, s > 1e-9 * s[0]] if s.size and s[0] > 0 else Q[:, :0]
        if Q.shape[1]:
            extra["view-projection"] = (Q, Q)
    dyn = dynamics_factor(view)
    if dyn is not None:
        extra["dynamics"] = dyn
    return base, extra


def attack(view: BankView, design_p: np.ndarray, seed: int = 0) -> dict[str, object]:
    """Correlations of every candidate with the true Gram on sampled off-diagonal pairs."""
    rows = view.train_rows
    Z = np.asarray(design_p, dtype=np.float64)[rows]
    rng = np.random.default_rng(seed)
    i = rng.integers(0, rows.size, PAIRS)
    j = rng.integers(0, rows.size, PAIRS)
    off = i != j
    i, j = i[off], j[off]
    truth = np.einsum("pk,pk->p", Z[i], Z[j])
    base, extra = candidates(view)
    base_corr = {k: _corr(_pair_values(f, i, j), truth) for k, f in base.items()}
    extra_corr = {k: _corr(_pair_values(f, i, j), truth) for k, f in extra.items()}
    out: dict[str, object] = {
        "baseline": max(base_corr.values()),
        "recovered": max([*base_corr.values(), *extra_corr.values()]),
        "correlations": {**base_corr, **extra_corr},
        "pairs": int(i.size),
    }
    if "dynamics" in extra:
        out["relative_frobenius_error"] = frobenius_error(extra["dynamics"], Z)
    return out


def result(view: BankView, design_p: np.ndarray, protocol: str, variant: str) -> AttackResult:
    t0 = time.perf_counter()
    fig = attack(view, design_p)
    recovered, baseline = float(fig.pop("recovered")), float(fig.pop("baseline"))  # type: ignore[arg-type]
    rule, leak = gap_rule(recovered, baseline, TOLERANCE)
    fig.update(
        figure="correlation of estimated vs true off-diagonal Gram entries (training rows)",
        seconds=round(time.perf_counter() - t0, 2),
        **{f"view_{k}": v for k, v in view.notes.items()},
    )
    return AttackResult(
        protocol, "gram-no-side-info", variant, recovered, baseline, rule, leak, fig
    )


def run(quick: bool = False) -> list[AttackResult]:
    # full mode trains full-batch on all training rows (the dynamics need it)
    sc = Scenario.of(quick) if quick else Scenario.of(quick, batch_size=1 << 30)
    out = []
    for mode in ("paillier", "ckks"):
        run_ = old_run(sc, mode)
        out.append(result(run_.view, run_.design_p, f"logreg-{mode}", "before"))
        new = new_run(Scenario.of(quick), mode)
        out.append(result(new.view, new.design_p, f"logreg-{mode}", mode))
    return out
