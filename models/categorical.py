"""Local encoding of categorical (string) feature columns, done by each party on its own data.

A column is categorical when its owner declares it (job file or served-table config) or when
it is not numeric (strings, booleans, mixed). Its categories are the distinct non-missing
values as text, sorted; the column becomes the code ``k`` of ``categories[k]`` (float64, NaN
for a missing value). The categories never leave their owner: the other party sees only bin
indices of its own histograms (SecureBoost) or nothing (linear families).

At scoring, :func:`apply_categories` maps values with the categories recorded in the model, and
a category unseen in training becomes missing (NaN): SecureBoost routes it as a missing value
(its categorical splits send missing values right, the side LightGBM sends them).

Example
-------
>>> import pandas as pd
>>> codes, cats = encode_column(pd.Series(["b", "a", None, "b"]))
>>> cats, codes.tolist()[:2]
(('a', 'b'), [1.0, 0.0])
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from models.errors import InvalidArgument

#: Most categories a column may have (more is an id or free text, not a category).
MAX_CATEGORIES = 10_000


def _as_text(series: pd.Series) -> pd.Series:
    """Non-missing values as trimmed text (integral floats lose their ``.0``)."""

    def text(v: object) -> str:
        if isinstance(v, (float, np.floating)) and float(v).is_integer():
            return str(int(v))
        return str(v).strip()

    return series.map(text, na_action="ignore")


def is_categorical(series: pd.Series) -> bool:
    """Whether a column must be encoded (not numeric, or boolean)."""
    return bool(pd.api.types.is_bool_dtype(series) or not pd.api.types.is_numeric_dtype(series))


def encode_column(series: pd.Series) -> tuple[np.ndarray, tuple[str, ...]]:
    """Codes (float64, NaN missing) and sorted categories of one column."""
    text = _as_text(series)
    cats = tuple(sorted(text.dropna().unique().tolist()))
    if len(cats) > MAX_CATEGORIES:
        raise InvalidArgument(
            f"a categorical column has more than {MAX_CATEGORIES} distinct values"
        )
    return apply_categories(series, cats, text=text), cats


def apply_categories(
    series: pd.Series, categories: Sequence[str], *, text: pd.Series | None = None
) -> np.ndarray:
    """Codes of ``series`` under recorded ``categories``; unseen and missing values -> NaN."""
    t = _as_text(series) if text is None else text
    index = {c: float(k) for k, c in enumerate(categories)}
    return t.map(index).to_numpy(dtype=np.float64, na_value=np.nan)


def encode_frame(
    frame: pd.DataFrame, features: Sequence[str], declared: Sequence[str] = ()
) -> tuple[np.ndarray, dict[str, tuple[str, ...]]]:
    """The feature matrix of ``frame`` with categorical columns encoded.

    Parameters
    ----------
    features:
        The feature columns, in order.
    declared:
        Columns to treat as categorical even if numeric (e.g. integer codes of a sector).

    Returns
    -------
    X, categories
        float64 matrix and ``{feature name: categories}`` of the encoded columns.
    """
    unknown = [c for c in declared if c not in features]
    if unknown:
        raise InvalidArgument(f"declared categorical columns are not feature columns: {unknown}")
    X = np.empty((len(frame), len(features)), dtype=np.float64)
    categories: dict[str, tuple[str, ...]] = {}
    for j, name in enumerate(features):
        col = frame[name]
        if name in declared or is_categorical(col):
            X[:, j], categories[str(name)] = encode_column(col)
        else:
            X[:, j] = col.to_numpy(dtype=np.float64, na_value=np.nan)
    return X, categories


def recode(x: np.ndarray, trained: Sequence[str], current: Sequence[str] | None) -> np.ndarray:
    """Codes under the ``current`` table's categories as codes under the ``trained`` ones.

    ``current`` None (or equal to ``trained``): ``x`` unchanged. A current category unknown in
    training becomes NaN (missing).
    """
    x = np.asarray(x, dtype=np.float64)
    if current is None or tuple(current) == tuple(trained):
        return x
    index = {c: k for k, c in enumerate(trained)}
    lookup = np.asarray([index.get(c, np.nan) for c in current] + [np.nan], dtype=np.float64)
    ok = ~np.isnan(x) & (x >= 0) & (x < len(current))
    pos = np.where(ok, x, len(current)).astype(np.int64)
    return lookup[pos]
