"""Reference AUCs for the data card: LightGBM on bank-only features vs both sides joined.

A plain centralised reference (not a federated run): it shows how much the platform's features
add on this city. Small tables use 5-fold stratified out-of-fold predictions (every row is
scored once by a model that did not see it); tables over ``HOLDOUT_ABOVE`` rows use one
stratified 70/30 split.
"""

from __future__ import annotations

from typing import Any

import lightgbm as lgb
import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import StratifiedKFold, train_test_split

HOLDOUT_ABOVE = 50_000

PARAMS: dict[str, Any] = {
    "n_estimators": 300,
    "learning_rate": 0.03,
    "num_leaves": 4,
    "min_child_samples": 50,
    "subsample": 0.8,
    "subsample_freq": 1,
    "colsample_bytree": 0.5,
    "reg_lambda": 5.0,
    "verbose": -1,
    "deterministic": True,
    "force_row_wise": True,
}


SMALL = 50_000
"""Below this many rows LightGBM runs on one thread: faster, and no spinning on a busy machine."""


def _model(seed: int, threads: int, n_rows: int) -> lgb.LGBMClassifier:
    n_jobs = 1 if n_rows < SMALL else threads
    return lgb.LGBMClassifier(random_state=seed, n_jobs=n_jobs, **PARAMS)


def reference_auc(
    X: np.ndarray, y: np.ndarray, seed: int, threads: int = 2
) -> tuple[float | None, str]:
    """Held-out AUC of LightGBM on (X, y) (None with too few positives) and how it was measured."""
    y = y.astype(int)
    if y.sum() < 10 or (y == 0).sum() < 10:
        return None, "too few positives for an AUC"
    if y.size > HOLDOUT_ABOVE:
        idx = np.arange(y.size)
        train, test = train_test_split(idx, test_size=0.3, stratify=y, random_state=seed)
        model = _model(seed, threads, y.size).fit(X[train], y[train])
        score = np.asarray(model.predict_proba(X[test]))[:, 1]
        return float(roc_auc_score(y[test], score)), "stratified 70/30 holdout"
    oof = np.zeros(y.size)
    folds = StratifiedKFold(n_splits=5, shuffle=True, random_state=seed)
    for train, test in folds.split(X, y):
        model = _model(seed, threads, y.size).fit(X[train], y[train])
        oof[test] = np.asarray(model.predict_proba(X[test]))[:, 1]
    return float(roc_auc_score(y, oof)), "5-fold stratified out-of-fold"
