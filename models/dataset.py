"""One party's view of a vertically partitioned table."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field

import numpy as np

from models.errors import InvalidArgument


@dataclass
class PartyTable:
    """Rows keyed by id, with numeric features (NaN = missing) and an optional label.

    Attributes
    ----------
    ids:
        1-D array of str ids (USCCs on the catalogue, any string on a served table).
    X:
        float64 array of shape (n_rows, n_features); NaN marks a missing value.
    feature_names:
        One name per column.
    feature_groups:
        One group per column (the catalogue category for platform features, "bank" for bank
        features); importances of platform features are reported by group.
    y:
        Labels (0/1) on the label holder's table, else None.
    meta:
        Free-form, non-secret metadata (source, as-of rule, date range, ...).
    categories:
        Categorical features: feature name -> its categories; the column holds the code
        ``k`` of ``categories[name][k]`` (NaN: missing). Encoded by the owner
        (:mod:`models.categorical`); never sent to the other party.
    """

    ids: np.ndarray
    X: np.ndarray
    feature_names: list[str]
    feature_groups: list[str] = field(default_factory=list)
    y: np.ndarray | None = None
    meta: dict[str, str] = field(default_factory=dict)
    categories: dict[str, tuple[str, ...]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.ids = np.asarray(self.ids).astype(str)
        self.X = np.asarray(self.X, dtype=np.float64)
        if self.X.ndim != 2:
            raise InvalidArgument("feature matrix must be two-dimensional")
        if self.ids.shape[0] != self.X.shape[0]:
            raise InvalidArgument("ids and feature rows differ in length")
        if len(self.feature_names) != self.X.shape[1]:
            raise InvalidArgument("feature names and columns differ in number")
        if not self.feature_groups:
            self.feature_groups = ["default"] * self.X.shape[1]
        if len(self.feature_groups) != self.X.shape[1]:
            raise InvalidArgument("feature groups and columns differ in number")
        if self.y is not None:
            self.y = np.asarray(self.y, dtype=np.float64)
            if self.y.shape != (self.X.shape[0],):
                raise InvalidArgument("label vector has the wrong shape")

    @property
    def n_rows(self) -> int:
        return int(self.X.shape[0])

    @property
    def n_features(self) -> int:
        return int(self.X.shape[1])

    def digest(self) -> str:
        """SHA-256 over ids, names and values: identifies this exact table in lineage."""
        h = hashlib.sha256()
        h.update("\x1f".join(self.ids.tolist()).encode())
        h.update("\x1f".join(self.feature_names).encode())
        h.update(np.ascontiguousarray(self.X).tobytes())
        if self.y is not None:
            h.update(np.ascontiguousarray(self.y).tobytes())
        for name in sorted(self.categories):
            h.update(("\x1e" + name + "\x1f" + "\x1f".join(self.categories[name])).encode())
        return h.hexdigest()

    def categorical_mask(self) -> np.ndarray:
        """Which columns are categorical (bool per feature)."""
        return np.asarray([n in self.categories for n in self.feature_names], dtype=bool)

    def row_positions(self, rows: np.ndarray | None) -> np.ndarray:
        """``rows`` as a flat int64 array of positions, or every row for ``None``.

        The positions are not range-checked here; callers that take them from outside check.
        """
        if rows is None:
            return np.arange(self.n_rows, dtype=np.int64)
        return np.asarray(rows, dtype=np.int64).reshape(-1)

    def take(self, rows: np.ndarray) -> PartyTable:
        """Return the rows at integer positions ``rows`` (in that order)."""
        return PartyTable(
            ids=self.ids[rows],
            X=self.X[rows],
            feature_names=list(self.feature_names),
            feature_groups=list(self.feature_groups),
            y=None if self.y is None else self.y[rows],
            meta=dict(self.meta),
            categories=dict(self.categories),
        )

    def align_to(self, ordered_ids: np.ndarray) -> PartyTable:
        """Return the rows for ``ordered_ids`` in that order (every id must be present)."""
        index = {v: i for i, v in enumerate(self.ids.tolist())}
        try:
            rows = np.fromiter(
                (index[i] for i in np.asarray(ordered_ids).astype(str)), dtype=np.int64
            )
        except KeyError:
            raise InvalidArgument("an aligned id is missing from this party's table") from None
        return self.take(rows)
