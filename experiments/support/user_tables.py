"""Synthetic raw tables at the shapes users bring (issue 16, item 6).

The two public tables of the issue are not in ``../shared/data``, so these are synthetic
tables with the same shapes and the same kind of mess, driven by one latent credit quality
so that a model has something real to learn:

- ``marketing``: 45,000 rows like UCI bank marketing, 8 bank + 8 platform features, of which
  9 are text columns (job, marital status, education, contact, month, ...), some numeric
  columns with missing values, a ``"yes"``/``"no"`` label with about 12% positives;
- ``credit150k``: 150,000 rows like "Give Me Some Credit", 5 + 5 numeric features with
  missing values (income ~20%, dependants ~3%), a 0/1 label with about 7% positives.

Both frames share an ``id`` column; the bank's frame carries the label.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class TableShape:
    """One benchmark table: its size and how its columns split between the parties."""

    name: str
    rows: int
    bank_features: int
    platform_features: int
    label_column: str
    positive_label: str


MARKETING = TableShape("marketing", 45_000, 8, 8, "subscribed", "yes")
CREDIT150K = TableShape("credit150k", 150_000, 5, 5, "default", "1")
SHAPES = {s.name: s for s in (MARKETING, CREDIT150K)}


def _categorical(
    rng: np.random.Generator, z: np.ndarray, labels: list[str], slope: float
) -> np.ndarray:
    """A text column whose category probabilities shift with the latent quality ``z``."""
    k = len(labels)
    base = rng.normal(0.0, 1.0, k)
    tilt = np.linspace(-slope, slope, k)
    rng.shuffle(tilt)
    logits = base[None, :] + z[:, None] * tilt[None, :]
    p = np.exp(logits - logits.max(axis=1, keepdims=True))
    p /= p.sum(axis=1, keepdims=True)
    u = rng.random(len(z))[:, None]
    idx = (p.cumsum(axis=1) < u).sum(axis=1)
    return np.asarray(labels, dtype=object)[np.minimum(idx, k - 1)]


def _numeric(
    rng: np.random.Generator, z: np.ndarray, slope: float, missing: float, skew: bool
) -> np.ndarray:
    v = slope * z + rng.normal(0.0, 1.0, len(z))
    if skew:
        v = np.expm1(np.abs(v)) * np.sign(v) * 1000.0
    out = np.round(v, 3)
    out[rng.random(len(z)) < missing] = np.nan
    return out


TEXT_COLUMNS = {
    "job": [
        "admin.",
        "blue-collar",
        "entrepreneur",
        "housemaid",
        "management",
        "retired",
        "self-employed",
        "services",
        "student",
        "technician",
        "unemployed",
        "unknown",
    ],
    "marital": ["married", "single", "divorced"],
    "education": ["primary", "secondary", "tertiary", "unknown"],
    "contact": ["cellular", "telephone", "unknown"],
    "month": ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"],
    "housing": ["yes", "no"],
    "loan": ["yes", "no"],
    "poutcome": ["failure", "other", "success", "unknown"],
    "default_flag": ["yes", "no"],
}


def user_tables(shape: TableShape, seed: int = 0) -> tuple[pd.DataFrame, pd.DataFrame]:
    """(bank frame with ``id``, label and its features; platform frame with ``id``)."""
    rng = np.random.default_rng(seed)
    n = shape.rows
    z = rng.normal(0.0, 1.0, n)
    ids = np.array([f"C{i:08d}" for i in rng.permutation(n)], dtype=object)
    cols: dict[str, np.ndarray] = {}
    if shape.name == "marketing":
        text = list(TEXT_COLUMNS)
        for j, name in enumerate(text):
            cols[name] = _categorical(rng, z, TEXT_COLUMNS[name], 0.6 + 0.15 * (j % 4))
        for j in range(shape.bank_features + shape.platform_features - len(text)):
            cols[f"num{j}"] = _numeric(rng, z, 0.3 + 0.1 * j, 0.02 * (j % 3), j % 2 == 0)
        bank_cols = ["job", "marital", "education", "contact", "month", "num0", "num1", "num2"]
    else:
        for j in range(shape.bank_features + shape.platform_features):
            missing = {0: 0.20, 3: 0.03}.get(j, 0.0)
            cols[f"x{j}"] = _numeric(rng, z, 0.25 + 0.08 * j, missing, j in (0, 2, 5, 7))
        bank_cols = [f"x{j}" for j in range(shape.bank_features)]
    plat_cols = [c for c in cols if c not in bank_cols]
    # label: latent quality plus a non-linear term in one column per side
    interaction = np.nan_to_num(np.tanh(np.asarray(cols[plat_cols[-1]], dtype=float) / 1000.0))
    logit = 1.4 * z + 0.5 * interaction * (z > 0) + rng.normal(0.0, 0.6, n)
    rate = 0.12 if shape.name == "marketing" else 0.067
    y = logit > np.quantile(logit, 1.0 - rate)
    text_label = shape.positive_label == "yes"
    label = np.where(y, "yes", "no") if text_label else y.astype(int).astype(str)
    bank = pd.DataFrame({"id": ids, shape.label_column: label, **{c: cols[c] for c in bank_cols}})
    platform = pd.DataFrame({"id": ids, **{c: cols[c] for c in plat_cols}})
    return bank, platform
