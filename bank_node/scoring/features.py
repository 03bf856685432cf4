"""The bank's own features of a company for scoring.

A served model names where its bank features come from (``features`` in its registry entry,
see :mod:`bank_node.scoring.model_store`):

``{"kind": "table", "path": FILE, "id_column": "id", "application_column": ""}``
    A CSV/Parquet table of bank features, one row per company (or per application when
    ``application_column`` is set), e.g. the table the model was trained on.
``{"kind": "loanbook", "dir": BANK_DIR}``
    The bank's loan book: point-in-time features as of the scoring date
    (:func:`bank_node.loanbook.features.bank_features`) plus the application's own terms.
``{}`` (none)
    Every bank field comes with the request.

Fields sent with the request (``bank_fields``) override what the records say. Missing values
are NaN (each model has its own rule for them).
"""

from __future__ import annotations

import datetime as dt
import math
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any, Protocol

import numpy as np
import pandas as pd

from models.errors import InvalidArgument, NotFound


class BankFeatureSource(Protocol):
    def lookup(self, uscc: str, application_id: str, as_of: dt.date) -> dict[str, float] | None:
        """The bank's values for the company (and application), or None if it has no record."""
        ...


def _resolve(base: Path, value: str) -> Path:
    p = Path(value)
    return p if p.is_absolute() else (base / p)


class TableSource:
    """Bank features from a CSV/Parquet file (loaded once)."""

    def __init__(self, path: Path, id_column: str = "id", application_column: str = "") -> None:
        self.path = Path(path)
        self.id_column = id_column
        self.application_column = application_column
        self._loaded: tuple[list[str], np.ndarray, dict[str, int], dict[str, int]] | None = None
        self._lock = threading.Lock()

    def _load(self) -> tuple[list[str], np.ndarray, dict[str, int], dict[str, int]]:
        with self._lock:
            if self._loaded is None:
                from bank_node.loanbook.loader import read_table_file

                frame = read_table_file(self.path)
                if self.id_column not in frame.columns:
                    raise InvalidArgument("the bank feature table lacks its id column")
                skip = {self.id_column, self.application_column}
                names = [
                    c
                    for c in frame.columns
                    if c not in skip and pd.api.types.is_numeric_dtype(frame[c])
                ]
                X = frame[names].to_numpy(dtype=np.float64)
                ids = {str(v): k for k, v in enumerate(frame[self.id_column].tolist())}
                apps: dict[str, int] = {}
                if self.application_column and self.application_column in frame.columns:
                    apps = {
                        str(v): k for k, v in enumerate(frame[self.application_column].tolist())
                    }
                self._loaded = (names, X, ids, apps)
            return self._loaded

    def lookup(self, uscc: str, application_id: str, as_of: dt.date) -> dict[str, float] | None:
        names, X, ids, apps = self._load()
        if application_id:
            k = apps.get(application_id)
            if k is None:
                raise NotFound("the application is not in the bank's records")
        else:
            k = ids.get(uscc)
            if k is None:
                return None
        return dict(zip(names, X[k].tolist(), strict=True))


class LoanBookSource:
    """Point-in-time features from the bank's loan book, plus the application's terms."""

    def __init__(self, bank_dir: Path, cache_size: int = 4096) -> None:
        self.bank_dir = Path(bank_dir)
        self.cache_size = cache_size
        self._cache: OrderedDict[tuple[str, str, str], dict[str, float]] = OrderedDict()
        self._apps: dict[str, dict[str, Any]] | None = None
        self._lock = threading.Lock()

    def _applications(self) -> dict[str, dict[str, Any]]:
        with self._lock:
            if self._apps is None:
                import pyarrow.parquet as pq

                from bank_node.loanbook.schema import LOANS

                path = self.bank_dir / "loans.parquet"
                rows = pq.read_table(path, schema=LOANS).to_pylist() if path.exists() else []
                self._apps = {str(r["application_id"]): r for r in rows}
            return self._apps

    def lookup(self, uscc: str, application_id: str, as_of: dt.date) -> dict[str, float] | None:
        key = (uscc, application_id, as_of.isoformat())
        with self._lock:
            hit = self._cache.get(key)
        if hit is not None:
            return dict(hit)
        from bank_node.loanbook.features import bank_features
        from bank_node.loanbook.schema import COLLATERAL, PRODUCTS

        X, names = bank_features(self.bank_dir, [uscc], as_of, threads=1)
        out = dict(zip(names, X[0].tolist(), strict=True))
        if application_id:
            app = self._applications().get(application_id)
            if app is None or app["uscc"] != uscc:
                raise NotFound("the application is not in the bank's records")
            amount = float(app["amount"])
            turnover = out.get("bank_credit_turnover_1y", math.nan)
            products = {p: float(i) for i, p in enumerate(PRODUCTS)}
            collateral = {c: float(i) for i, c in enumerate(COLLATERAL)}
            out.update(
                app_product=products.get(app["product"], math.nan),
                app_amount=amount,
                app_term_months=float(app["term_months"]),
                app_collateral=collateral.get(app["collateral"], math.nan),
                app_amount_to_turnover=amount / turnover if turnover > 0 else math.nan,
            )
        with self._lock:
            self._cache[key] = dict(out)
            while len(self._cache) > self.cache_size:
                self._cache.popitem(last=False)
        return out


def make_source(spec: Mapping[str, Any] | None, base: Path) -> BankFeatureSource | None:
    """A source from its registry description (paths relative to ``base``)."""
    if not spec:
        return None
    kind = spec.get("kind")
    if kind == "table":
        return TableSource(
            _resolve(base, str(spec["path"])),
            str(spec.get("id_column", "id")),
            str(spec.get("application_column", "")),
        )
    if kind == "loanbook":
        return LoanBookSource(_resolve(base, str(spec["dir"])))
    raise InvalidArgument("unknown bank feature source")


def feature_vector(
    names: Sequence[str],
    source: BankFeatureSource | None,
    uscc: str,
    application_id: str,
    fields: Mapping[str, float],
    as_of: dt.date,
) -> np.ndarray:
    """The model's bank feature row: records, overridden by the request's fields.

    Raises NotFound when the bank knows nothing of the company and the request brings no field
    (a model with bank features cannot score from nothing), InvalidArgument for a field the
    model does not use.
    """
    unknown = [k for k in fields if k not in set(names)]
    if unknown:
        raise InvalidArgument("a bank field is not a feature of the model")
    values = source.lookup(uscc, application_id, as_of) if source is not None else None
    if values is None:
        if application_id:
            raise NotFound("the application is not in the bank's records")
        if names and not fields:
            raise NotFound("the bank has no record of the company; send the bank fields")
        values = {}
    merged = {**values, **{k: float(v) for k, v in fields.items()}}
    return np.asarray([merged.get(n, math.nan) for n in names], dtype=np.float64)
