"""PNG plots of a training run: ROC curve, KS curve, feature importance by party and category.

Uses matplotlib's object API with the Agg canvas (no pyplot, no global backend change), so it
works headless and in threads.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path

import numpy as np
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from models.errors import InvalidArgument

_PARTY_COLOURS = ("#1f77b4", "#ff7f0e", "#2ca02c", "#d62728")


def _check_scores(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    y = np.asarray(y_true).astype(np.int64).ravel()
    s = np.asarray(y_score, dtype=np.float64).ravel()
    if y.shape != s.shape or y.size == 0:
        raise InvalidArgument("labels and scores must be non-empty and of the same length")
    if not set(np.unique(y).tolist()) <= {0, 1} or y.min() == y.max():
        raise InvalidArgument("ROC and KS need both classes among the validation labels")
    return y, s


def roc_points(y_true: np.ndarray, y_score: np.ndarray) -> tuple[np.ndarray, np.ndarray, float]:
    """False and true positive rates over all thresholds, and the area under the curve."""
    y, s = _check_scores(y_true, y_score)
    order = np.argsort(-s, kind="mergesort")
    y, s = y[order], s[order]
    distinct = np.r_[np.flatnonzero(np.diff(s)), y.size - 1]
    tps = np.cumsum(y)[distinct]
    fps = (distinct + 1) - tps
    tpr = np.r_[0.0, tps / tps[-1]]
    fpr = np.r_[0.0, fps / fps[-1]]
    return fpr, tpr, float(np.trapezoid(tpr, fpr))


def ks_points(
    y_true: np.ndarray, y_score: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray, float]:
    """Population share (by descending score), cumulative bad and good rates, and KS."""
    fpr, tpr, _ = roc_points(y_true, y_score)
    y, _s = _check_scores(y_true, y_score)
    pos_rate = y.mean()
    share = tpr * pos_rate + fpr * (1.0 - pos_rate)  # fraction of population above threshold
    return share, tpr, fpr, float(np.max(tpr - fpr))


def _save(fig: Figure, path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    FigureCanvasAgg(fig)
    fig.savefig(path, dpi=100)
    return path


def plot_roc(y_true: np.ndarray, y_score: np.ndarray, path: Path) -> Path:
    fpr, tpr, auc = roc_points(y_true, y_score)
    fig = Figure(figsize=(5, 5))
    ax = fig.add_subplot()
    ax.plot(fpr, tpr, label=f"validation (AUC = {auc:.3f})")
    ax.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1)
    ax.set(xlabel="False positive rate", ylabel="True positive rate", title="ROC curve")
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def plot_ks(y_true: np.ndarray, y_score: np.ndarray, path: Path) -> Path:
    share, bad, good, ks = ks_points(y_true, y_score)
    i = int(np.argmax(bad - good))
    fig = Figure(figsize=(6, 4.5))
    ax = fig.add_subplot()
    ax.plot(share, bad, label="cumulative bad rate")
    ax.plot(share, good, label="cumulative good rate")
    ax.vlines(share[i], good[i], bad[i], colors="red", linestyles=":", label=f"KS = {ks:.3f}")
    ax.set(
        xlabel="Population share (highest scores first)", ylabel="Cumulative rate", title="KS curve"
    )
    ax.legend(loc="lower right")
    fig.tight_layout()
    return _save(fig, path)


def plot_importance(importance: Mapping[str, Mapping[str, float]], path: Path) -> Path:
    """Horizontal bars, one per (party, category), coloured by party."""
    rows = [(party, cat, float(v)) for party, cats in importance.items() for cat, v in cats.items()]
    rows.sort(key=lambda r: r[2])
    parties = list(importance)
    fig = Figure(figsize=(7, max(2.5, 0.35 * len(rows) + 1.2)))
    ax = fig.add_subplot()
    if rows:
        colours = [_PARTY_COLOURS[parties.index(p) % len(_PARTY_COLOURS)] for p, _, _ in rows]
        ax.barh([f"{p}: {c}" for p, c, _ in rows], [v for _, _, v in rows], color=colours)
    ax.set(xlabel="Importance", title="Feature importance by party and category")
    fig.tight_layout()
    return _save(fig, path)
