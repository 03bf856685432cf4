"""Local encoding of a party's categorical columns for the linear families (one-hot or WOE).

Each party encodes ITS OWN categorical columns (``PartyTable.categories``: the column holds the
code ``k`` of ``categories[name][k]``, NaN when missing) before its design matrix is built;
nothing of it crosses. A categorical column becomes, in one-hot mode, one indicator per
*frequent* category (at least ``min_count`` training rows), one ``other`` indicator (rare
categories, and categories unseen in training at scoring) and one ``missing`` indicator; in WOE
mode (the bank only: it needs labels) one column holding the smoothed weight of evidence of the
row's category (same frequent / other / missing grouping). Numeric columns pass through.

The encoding is recorded with the kept category strings (JSON in the owner's model part), and
at scoring a row's code is read under the scoring table's own categories, so a category that is
new, or coded differently in the scoring table, maps by its text.

Design column names never carry a category: ``<feature>#<k>``, ``<feature>#other``,
``<feature>#missing`` and, for padding, ``#pad<k>``.

Padding (``pad_multiple``): the number of design columns tells the other party how many
frequent categories a party's columns have in total. The platform pads its categorical design
columns with all-zero columns up to a multiple of ``pad_multiple`` (8 by default, see
:data:`PLATFORM_PAD_MULTIPLE`), so the bank learns that total only to within 8. A zero column
keeps weight 0 (zero gradient, L2 shrinks nothing) and adds nothing to any score.

Example
-------
>>> import numpy as np
>>> enc = CategoryEncoder(min_count=2).fit(
...     np.array([[0.0], [0.0], [1.0], [np.nan]]), ["c"], {"c": ("a", "b")}, np.arange(4)
... )
>>> enc.names_
['c#0', 'c#other', 'c#missing']
>>> enc.transform(np.array([[1.0], [0.0]]), {"c": ("a", "b")}).tolist()
[[0.0, 1.0, 0.0], [1.0, 0.0, 0.0]]
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.binning.binner import category_positions
from models.errors import InvalidArgument

ENCODINGS = ("onehot", "woe")
#: Rare-category threshold when none is given: this share of the training rows (at least 1).
DEFAULT_MIN_FRACTION = 0.01
#: The platform pads its categorical design columns to a multiple of this.
PLATFORM_PAD_MULTIPLE = 8
#: Smoothing of the WOE counts (added to each bin's goods and bads).
WOE_SMOOTHING = 0.5


def min_count_for(min_category_count: int, n_train: int) -> int:
    """The rare-category threshold: ``min_category_count``, or 1% of the training rows.

    Raises ``InvalidArgument`` for a count below 0 or above the number of training rows (a
    threshold no category could reach, e.g. a corrupted request).
    """
    if not 0 <= min_category_count <= n_train:
        raise InvalidArgument("min_category_count must be between 0 and the training rows")
    if min_category_count > 0:
        return int(min_category_count)
    return max(1, math.ceil(DEFAULT_MIN_FRACTION * n_train))


@dataclass
class ColumnCode:
    """How one source column is encoded: ``kept`` categories (empty for a numeric column)."""

    name: str
    categorical: bool
    kept: tuple[str, ...] = ()
    woe: tuple[float, ...] = ()  # WOE mode: per kept category, then other, then missing

    def width(self, encoding: str) -> int:
        if not self.categorical or encoding == "woe":
            return 1
        return len(self.kept) + 2


def _positions(codes: np.ndarray, kept: Sequence[str], current: Sequence[str] | None) -> np.ndarray:
    """Per row: index into ``kept``, ``len(kept)`` for other, ``len(kept) + 1`` for missing."""
    if current is None:
        raise InvalidArgument("a categorical feature of the model is not categorical in the table")
    return category_positions(codes, kept, current)


class CategoryEncoder:
    """One-hot (or WOE) encoding of a party's categorical columns, fitted on training rows.

    Parameters
    ----------
    encoding:
        ``"onehot"`` or ``"woe"`` (needs labels at fit).
    min_count:
        Categories with fewer training rows go to ``other``.
    pad_multiple:
        Pad the categorical design columns with zero columns to a multiple of this (0: none).
    """

    def __init__(self, encoding: str = "onehot", min_count: int = 1, pad_multiple: int = 0):
        if encoding not in ENCODINGS:
            raise InvalidArgument("categorical_encoding must be 'onehot' or 'woe'")
        if min_count < 1 or pad_multiple < 0:
            raise InvalidArgument("min_category_count must be positive")
        self.encoding = encoding
        self.min_count = int(min_count)
        self.pad_multiple = int(pad_multiple)
        self.columns: list[ColumnCode] = []
        self.n_pad = 0
        self.names_: list[str] = []
        self.sources_: list[int] = []

    @property
    def has_categories(self) -> bool:
        return any(c.categorical for c in self.columns)

    def fit(
        self,
        X: np.ndarray,
        feature_names: Sequence[str],
        categories: Mapping[str, Sequence[str]],
        train: np.ndarray,
        y: np.ndarray | None = None,
    ) -> CategoryEncoder:
        """Keep the frequent categories of the training rows (and their WOE in WOE mode)."""
        X = np.asarray(X, dtype=np.float64)
        if self.encoding == "woe" and y is None:
            raise InvalidArgument("WOE encoding needs labels")
        self.columns = []
        for j, name in enumerate(feature_names):
            cats = categories.get(name)
            if cats is None:
                self.columns.append(ColumnCode(str(name), False))
                continue
            codes = X[train, j]
            valid = codes[~np.isnan(codes)].astype(np.int64)
            counts = np.bincount(valid, minlength=len(cats)) if valid.size else np.zeros(len(cats))
            kept = tuple(str(c) for k, c in enumerate(cats) if counts[k] >= self.min_count)
            col = ColumnCode(str(name), True, kept)
            if self.encoding == "woe":
                assert y is not None
                col.woe = self._woe(codes, np.asarray(y)[train], kept, cats)
            self.columns.append(col)
        width = sum(c.width(self.encoding) for c in self.columns if c.categorical)
        m = self.pad_multiple
        self.n_pad = (-width) % m if (m and self.has_categories) else 0
        self._layout()
        return self

    @staticmethod
    def _woe(
        codes: np.ndarray, y: np.ndarray, kept: tuple[str, ...], cats: Sequence[str]
    ) -> tuple[float, ...]:
        pos = _positions(codes, kept, cats)
        bins = len(kept) + 2
        bad = np.bincount(pos, weights=y, minlength=bins)
        total = np.bincount(pos, minlength=bins).astype(np.float64)
        good = total - bad
        s = WOE_SMOOTHING
        woe = np.log((bad + s) / (bad.sum() + s)) - np.log((good + s) / (good.sum() + s))
        return tuple(float(v) for v in woe)

    def _layout(self) -> None:
        names: list[str] = []
        sources: list[int] = []
        for j, c in enumerate(self.columns):
            if not c.categorical or self.encoding == "woe":
                names.append(c.name)
                sources.append(j)
                continue
            names += [f"{c.name}#{k}" for k in range(len(c.kept))]
            names += [f"{c.name}#other", f"{c.name}#missing"]
            sources += [j] * (len(c.kept) + 2)
        last = max((j for j, c in enumerate(self.columns) if c.categorical), default=0)
        names += [f"#pad{k}" for k in range(self.n_pad)]
        sources += [last] * self.n_pad
        self.names_, self.sources_ = names, sources

    def transform(
        self, X: np.ndarray, categories: Mapping[str, Sequence[str]] | None = None
    ) -> np.ndarray:
        """The encoded matrix (numeric columns keep their NaN for the imputer).

        ``categories``: the categories of the table ``X`` comes from (codes are read under
        them); ``None`` for a model without categorical columns.
        """
        X = np.asarray(X, dtype=np.float64)
        if X.ndim != 2 or X.shape[1] != len(self.columns):
            raise InvalidArgument("features do not match the fitted transform")
        if not self.has_categories:
            return X
        cats = categories or {}
        out = np.zeros((X.shape[0], len(self.names_)), dtype=np.float64)
        at = 0
        for j, c in enumerate(self.columns):
            if not c.categorical:
                out[:, at] = X[:, j]
                at += 1
                continue
            pos = _positions(X[:, j], c.kept, cats.get(c.name))
            if self.encoding == "woe":
                out[:, at] = np.asarray(c.woe, dtype=np.float64)[pos]
                at += 1
            else:
                out[np.arange(X.shape[0]), at + pos] = 1.0
                at += len(c.kept) + 2
        return out

    def to_dict(self) -> dict[str, Any]:
        return {
            "encoding": self.encoding,
            "min_count": self.min_count,
            "pad_multiple": self.pad_multiple,
            "n_pad": self.n_pad,
            "columns": [
                {"name": c.name, "categorical": c.categorical, "kept": list(c.kept),
                 "woe": list(c.woe)}
                for c in self.columns
            ],
        }  # fmt: skip

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> CategoryEncoder:
        try:
            out = cls(str(data["encoding"]), int(data["min_count"]), int(data["pad_multiple"]))
            out.columns = [
                ColumnCode(
                    str(c["name"]),
                    bool(c["categorical"]),
                    tuple(str(k) for k in c["kept"]),
                    tuple(float(v) for v in c["woe"]),
                )
                for c in data["columns"]
            ]
            out.n_pad = int(data["n_pad"])
        except (KeyError, TypeError, ValueError):
            raise InvalidArgument("the categorical encoding is malformed") from None
        out._layout()
        return out

    @classmethod
    def identity(cls, feature_names: Sequence[str]) -> CategoryEncoder:
        """The encoding of a model without categorical columns (older parts)."""
        out = cls()
        out.columns = [ColumnCode(str(n), False) for n in feature_names]
        out._layout()
        return out
