"""Binary logistic loss: gradients, hessians, base score and the metrics we report."""

from __future__ import annotations

import numpy as np
from sklearn.metrics import roc_auc_score, roc_curve

from models.errors import InvalidArgument
from models.numerics import sigmoid

EPS = 1e-15


def base_score(y: np.ndarray) -> float:
    """Log-odds of the training label mean (the raw score before any tree)."""
    y = np.asarray(y, dtype=np.float64)
    if y.size == 0:
        raise InvalidArgument("no training rows")
    p = float(np.clip(y.mean(), 1e-6, 1 - 1e-6))
    return float(np.log(p / (1.0 - p)))


def grad_hess(raw: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """First and second derivative of the log loss in the raw score: ``p - y`` and ``p(1-p)``."""
    p = sigmoid(raw)
    return p - y, p * (1.0 - p)


def logloss(y: np.ndarray, raw: np.ndarray) -> float:
    p = np.clip(sigmoid(raw), EPS, 1 - EPS)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(y: np.ndarray, score: np.ndarray) -> float:
    """ROC AUC (NaN when only one class is present)."""
    y = np.asarray(y)
    if y.size == 0 or np.unique(y).size < 2:
        return float("nan")
    return float(roc_auc_score(y, score))


def ks(y: np.ndarray, score: np.ndarray) -> float:
    """Kolmogorov-Smirnov statistic: max distance between the classes' score distributions."""
    y = np.asarray(y)
    if y.size == 0 or np.unique(y).size < 2:
        return float("nan")
    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))
