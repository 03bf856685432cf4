"""Linear recovery tools shared by the LR attacks: predictors, R^2, bases, completion.

Every predictor is fitted on the ``k`` rows whose raw platform values the bank knows and scored
on other rows, per platform feature: ``R^2 = 1 - SSE / SST`` on the scored rows. The bank may try
several predictors; the figure keeps, per feature, the best one (an upper bound of what a bank
with a model-selection rule gets; the baseline gets the same privilege, so the gap is fair).
"""

from __future__ import annotations

import numpy as np

#: Ridge strengths tried (features standardised over all rows the bank can see).
RIDGE_LAMBDAS: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0, 100.0)


def r2_per_feature(Y: np.ndarray, Y_hat: np.ndarray) -> np.ndarray:
    sse = np.sum((Y - Y_hat) ** 2, axis=0)
    sst = np.sum((Y - Y.mean(axis=0)) ** 2, axis=0)
    return 1.0 - sse / np.where(sst > 0, sst, 1.0)


def _scaled(F: np.ndarray) -> np.ndarray:
    std = F.std(axis=0)
    return (F - F.mean(axis=0)) / np.where(std > 0, std, 1.0)


def predictions(
    F: np.ndarray, Y_known: np.ndarray, known: np.ndarray, target: np.ndarray
) -> list[np.ndarray]:
    """Predictions of ``Y`` on ``target`` rows from features ``F`` (all rows), fitted on
    ``known``: least squares with an intercept (minimum norm if underdetermined) and ridge."""
    if F.shape[1] == 0:
        return [np.broadcast_to(Y_known.mean(axis=0), (len(target), Y_known.shape[1])).copy()]
    Fs = _scaled(F)
    A, B = Fs[known], Fs[target]
    out = []
    ones = np.ones((len(known), 1))
    coef, *_ = np.linalg.lstsq(np.hstack([A, ones]), Y_known, rcond=None)
    out.append(np.hstack([B, np.ones((len(target), 1))]) @ coef)
    a_mean, y_mean = A.mean(axis=0), Y_known.mean(axis=0)
    Ac, Yc = A - a_mean, Y_known - y_mean
    gram, rhs = Ac.T @ Ac, Ac.T @ Yc
    for lam in RIDGE_LAMBDAS:
        beta = np.linalg.solve(gram + lam * len(known) * np.eye(F.shape[1]), rhs)
        out.append((B - a_mean) @ beta + y_mean)
    return out


def best_r2(
    feature_sets: dict[str, np.ndarray], Y: np.ndarray, known: np.ndarray, target: np.ndarray
) -> tuple[np.ndarray, list[str]]:
    """Per feature, the best R^2 on ``target`` over all sets and predictors (and its set)."""
    best = np.full(Y.shape[1], -np.inf)
    choice = [""] * Y.shape[1]
    for name, F in feature_sets.items():
        for pred in predictions(F, Y[known], known, target):
            r2 = r2_per_feature(Y[target], pred)
            for j in np.flatnonzero(r2 > best):
                best[j], choice[j] = r2[j], name
    return best, choice


def span_basis(M: np.ndarray, rel_tol: float = 1e-12, max_rank: int | None = None) -> np.ndarray:
    """Orthonormal basis of the column span of ``M`` (numerical rank at ``rel_tol``)."""
    if M.size == 0:
        return np.zeros((M.shape[0], 0))
    U, s, _ = np.linalg.svd(M, full_matrices=False)
    if s.size == 0 or s[0] == 0:
        return np.zeros((M.shape[0], 0))
    rank = int(np.sum(s > rel_tol * s[0]))
    if max_rank is not None:
        rank = min(rank, max_rank)
    return U[:, :rank]


def numerical_rank(M: np.ndarray, rel_tol: float = 1e-12) -> int:
    return int(span_basis(M, rel_tol).shape[1])


def complete_low_rank(
    M: np.ndarray, rank: int, iters: int = 200, seed: int = 0, tol: float = 1e-10
) -> tuple[np.ndarray, float]:
    """A rank-``rank`` factor ``F`` (rows x rank) with ``M ~ F W`` on the observed entries
    (alternating least squares from a random start; NaN = unobserved), and the relative
    residual on the observed entries (small: the completion worked).

    For ``wx_p`` vectors of mini-batches ``span(F) = span(X_p)`` when it works. It is reliable
    when each row is observed well over ``rank`` times; the old default job on 24,000 rows
    (11 epochs x 6 batches, rank 10: 11 observations per row) is beyond it, which is why the
    benchmark re-enacts full-batch runs (the residual in ``details`` shows a failure).
    """
    obs = ~np.isnan(M)
    keep = obs.any(axis=0)
    M, obs = M[:, keep], obs[:, keep]
    n, m = M.shape
    rng = np.random.default_rng(seed)
    F = rng.normal(size=(n, rank))
    cols = [np.flatnonzero(obs[:, j]) for j in range(m)]
    width = int(obs.sum(axis=1).max(initial=0))
    pad_idx = np.zeros((n, width), dtype=np.int64)
    pad_ok = np.zeros((n, width), dtype=bool)
    for i in range(n):
        js = np.flatnonzero(obs[i])
        pad_idx[i, : js.size], pad_ok[i, : js.size] = js, True
    vals = np.where(pad_ok, M[np.arange(n)[:, None], pad_idx], 0.0)
    W = np.zeros((rank, m))
    ridge = 1e-12 * np.eye(rank)
    scale = float(np.sqrt(np.sum(vals**2))) or 1.0
    residual = np.inf
    for _ in range(iters):
        for j, rows in enumerate(cols):
            W[:, j], *_ = np.linalg.lstsq(F[rows], M[rows, j], rcond=None)
        Wg = W.T[pad_idx] * pad_ok[..., None]  # n x width x rank
        A = np.einsum("itk,itl->ikl", Wg, Wg) + ridge
        b = np.einsum("itk,it->ik", Wg, vals)
        F = np.linalg.solve(A, b[..., None])[..., 0]
        fit = np.einsum("itk,ik->it", Wg, F)
        residual = float(np.sqrt(np.sum((fit - vals) ** 2))) / scale
        if residual < tol:
            break
        F /= max(1e-300, float(np.abs(F).max()))
    return F, residual
