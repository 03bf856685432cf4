"""The bank's labelled table: from its loan book, or from a CSV/Parquet file with a label column.

Loan-book rule (one as-of date per job)
--------------------------------------
For an as-of date ``A``, the modelling rows are the enterprises that applied for a loan in
``[A, A + 12 months)``. An enterprise with several applications in that window contributes its
**first** one (the one closest to ``A``, so the features are as fresh as they can be; later
applications are often follow-ups whose outcome depends on the first). The label is that loan's
outcome: 90+ days past due within 12 months of its application. The features are the bank's
point-in-time features as of ``A`` (:mod:`bank_node.loanbook.features`) plus the application's
own terms (product, amount, term, collateral), which the bank knows when it decides.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow.compute as pc
import pyarrow.parquet as pq

from bank_node.loanbook.features import bank_features
from bank_node.loanbook.labels import encode_label
from bank_node.loanbook.schema import COLLATERAL, LOANS, PRODUCTS
from models.categorical import encode_frame
from models.dataset import PartyTable
from models.errors import InvalidArgument, NotFound
from models.uscc import valid_mask

APPLICATION_FEATURES = (
    "app_product",
    "app_amount",
    "app_term_months",
    "app_collateral",
    "app_amount_to_turnover",
)


def _add_year(d: dt.date) -> dt.date:
    try:
        return d.replace(year=d.year + 1)
    except ValueError:
        return d.replace(year=d.year + 1, day=28)


def _parse_date(value: str | dt.date | None) -> dt.date:
    if isinstance(value, dt.date):
        return value
    if value is None:
        raise InvalidArgument("a loan-book table needs an as_of date")
    try:
        return dt.date.fromisoformat(value)
    except ValueError:
        raise InvalidArgument("as_of must be a date in YYYY-MM-DD form") from None


def window_applications(bank_dir: Path, as_of: dt.date) -> tuple[pd.DataFrame, int]:
    """First application per enterprise in [as_of, as_of + 12 months); and invalid codes dropped."""
    path = Path(bank_dir) / "loans.parquet"
    if not path.exists():
        raise NotFound("the bank directory has no loan book")
    loans = pq.read_table(path, schema=LOANS)
    end = _add_year(as_of)
    dates = loans.column("application_date")
    window = loans.filter(pc.and_(pc.greater_equal(dates, as_of), pc.less(dates, end)))
    frame = window.to_pandas()
    ok = valid_mask(frame["uscc"].to_numpy())
    rejected = int((~ok).sum())
    frame = frame[ok].sort_values(["application_date", "application_id"], kind="stable")
    first = frame.drop_duplicates("uscc", keep="first").reset_index(drop=True)
    return first, rejected


def load_loanbook_table(
    bank_dir: Path, as_of: str | dt.date, threads: int | None = None
) -> PartyTable:
    """Modelling table from the bank's loan book (see the module docstring for the rule)."""
    day = _parse_date(as_of)
    apps, rejected = window_applications(bank_dir, day)
    usccs = apps["uscc"].to_numpy(dtype=str)
    X_bank, names = bank_features(bank_dir, usccs, day, threads=threads)
    turnover = X_bank[:, names.index("bank_credit_turnover_1y")]
    product = apps["product"].map({p: i for i, p in enumerate(PRODUCTS)}).to_numpy(float)
    collateral = apps["collateral"].map({c: i for i, c in enumerate(COLLATERAL)}).to_numpy(float)
    amount = apps["amount"].to_numpy(float)
    with np.errstate(divide="ignore", invalid="ignore"):
        to_turnover = np.where(turnover > 0, amount / turnover, np.nan)
    X_app = np.column_stack(
        [product, amount, apps["term_months"].to_numpy(float), collateral, to_turnover]
    )
    X = np.hstack([X_bank, X_app]) if usccs.size else np.empty((0, len(names) + 5))
    meta = {
        "source": "loanbook",
        "as_of": day.isoformat(),
        "window": f"[{day.isoformat()}, {_add_year(day).isoformat()})",
        "row_rule": "first application per enterprise in the window",
        "label": "90+ days past due within 12 months of application",
        "rejected_invalid_codes": str(rejected),
    }
    return PartyTable(
        ids=usccs,
        X=X,
        feature_names=[*names, *APPLICATION_FEATURES],
        feature_groups=["bank"] * (len(names) + len(APPLICATION_FEATURES)),
        y=apps["outcome_dpd90_12m"].to_numpy(float),
        meta=meta,
    )


def read_table_file(path: Path) -> pd.DataFrame:
    """A CSV or Parquet file as a DataFrame."""
    path = Path(path)
    if not path.exists():
        raise NotFound("table file not found")
    suffix = path.suffix.lower()
    if suffix not in (".csv", ".parquet", ".pq"):
        raise InvalidArgument("table files must be .csv or .parquet")
    try:
        return pd.read_csv(path) if suffix == ".csv" else pd.read_parquet(path)
    except (ValueError, UnicodeDecodeError, OSError, pd.errors.ParserError) as exc:
        # pandas' and pyarrow's parse errors (EmptyDataError, ArrowInvalid are ValueErrors)
        kind = "CSV" if suffix == ".csv" else "Parquet"
        raise InvalidArgument(f"the table file is not readable {kind}: {path.name}") from exc


def load_labelled_file(
    path: Path,
    id_column: str = "id",
    label_column: str = "y",
    exclude_columns: Sequence[str] = (),
    positive_label: object | None = None,
    categorical_columns: Sequence[str] = (),
) -> PartyTable:
    """A CSV/Parquet table with an id column, a label column and feature columns.

    The label becomes 0/1 by :func:`bank_node.loanbook.labels.encode_label` (``positive_label``
    or a common encoding such as yes/no). String (non-numeric) feature columns and the
    ``categorical_columns`` are encoded locally as categories (:mod:`models.categorical`); the
    table records their categories (``PartyTable.categories``) and the model keeps them.
    """
    frame = read_table_file(path)
    for column in (id_column, label_column):
        if column not in frame.columns:
            raise InvalidArgument(f"table lacks the column {column!r}")
    features = [c for c in frame.columns if c not in {id_column, label_column, *exclude_columns}]
    X, categories = encode_frame(frame, features, categorical_columns)
    y = encode_label(frame[label_column], label_column, positive_label)
    if frame[id_column].duplicated().any():
        raise InvalidArgument("id column has duplicates")
    return PartyTable(
        ids=frame[id_column].astype(str).to_numpy(),
        X=X,
        feature_names=[str(f) for f in features],
        feature_groups=["bank"] * len(features),
        y=y,
        meta={"source": str(Path(path).name), "id_column": id_column, "label": label_column},
        categories=categories,
    )


def load_bank_table(
    source: Path | str,
    *,
    as_of: str | dt.date | None = None,
    id_column: str = "id",
    label_column: str = "y",
    exclude_columns: Sequence[str] = (),
    threads: int | None = None,
    positive_label: object | None = None,
    categorical_columns: Sequence[str] = (),
) -> PartyTable:
    """The bank's labelled table.

    Parameters
    ----------
    source:
        A bank data directory holding ``loans.parquet`` (the loan book; ``as_of`` required),
        or a CSV/Parquet file with ``id_column`` and ``label_column`` (e.g. the default_credit
        guest file: id ``id``, label ``y``).
    as_of:
        The job's as-of date (YYYY-MM-DD) for the loan book.
    positive_label:
        For a file: the label value that marks the event (default: a common encoding such
        as 0/1, yes/no, true/false, bad/good).
    categorical_columns:
        For a file: numeric columns to treat as categories (string columns always are).
    """
    path = Path(source)
    if path.is_dir():
        return load_loanbook_table(path, _parse_date(as_of), threads=threads)
    return load_labelled_file(
        path, id_column, label_column, exclude_columns, positive_label, categorical_columns
    )
