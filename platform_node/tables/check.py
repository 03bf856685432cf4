"""Validation of a served table before it is served: what the operator sees, not the bank.

A table passes when it loads as the platform would serve it (file type, id column, unique ids,
encodable categorical columns: :func:`platform_node.data_provider.load_served_table`), its ids
are valid USCCs where the ids are USCCs (GB 32100-2015 check character), and no feature column
is missing in more than ``max_missing_ratio`` of its rows. The report names columns and counts:
it is for the platform's operator and never leaves the platform (a bank asking for a table
that fails gets a rule and a reference: :mod:`platform_node.refusals`).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from models.errors import FedCreditError, InvalidArgument
from models.uscc import is_valid_uscc
from platform_node.data_provider import ServedTable, load_served_table

ID_FORMATS = ("auto", "uscc", "any")
#: ``auto`` treats ids as USCCs when at least this share of them are valid USCCs.
AUTO_USCC_SHARE = 0.5


@dataclass(frozen=True)
class TableCheck:
    """The outcome of :func:`check_table`.

    Attributes
    ----------
    ok:
        Whether the table may be served.
    problems:
        Why not (operator-facing: may name columns and counts).
    n_rows, n_features:
        Shape as served.
    table_digest:
        :meth:`models.dataset.PartyTable.digest` of the table as served ("" if it did not load).
    id_format:
        ``"uscc"`` or ``"any"``, as decided.
    n_invalid_ids:
        Ids that are not valid USCCs (when ``id_format`` is ``"uscc"``).
    missing_ratio:
        Share of missing values per feature column.
    """

    ok: bool
    problems: list[str]
    n_rows: int = 0
    n_features: int = 0
    table_digest: str = ""
    id_format: str = "any"
    n_invalid_ids: int = 0
    missing_ratio: dict[str, float] = field(default_factory=dict)

    def to_dict(self) -> dict[str, object]:
        return {
            "ok": self.ok,
            "problems": list(self.problems),
            "n_rows": self.n_rows,
            "n_features": self.n_features,
            "table_digest": self.table_digest,
            "id_format": self.id_format,
            "n_invalid_ids": self.n_invalid_ids,
            "max_missing_ratio": max(self.missing_ratio.values(), default=0.0),
        }


class _Reasons(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.reasons: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        rule = getattr(record, "rule", "")
        reason = record.args[-1] if isinstance(record.args, tuple) and record.args else ""
        self.reasons.append(f"{rule}: {reason}" if rule else record.getMessage())


@contextlib.contextmanager
def _refusal_reasons() -> Iterator[list[str]]:
    """The full reasons the refusals raised inside the block logged (for the operator)."""
    handler = _Reasons()
    logger = logging.getLogger("fedcredit.platform.refusals")
    logger.addHandler(handler)
    try:
        yield handler.reasons
    finally:
        logger.removeHandler(handler)


def check_table(
    spec: ServedTable, *, id_format: str = "auto", max_missing_ratio: float = 0.95
) -> TableCheck:
    """Validate the table ``spec`` names as the platform would serve it (see module doc)."""
    if id_format not in ID_FORMATS:
        raise InvalidArgument(f"id_format must be one of {', '.join(ID_FORMATS)}")
    if not 0.0 <= max_missing_ratio <= 1.0:
        raise InvalidArgument("max_missing_ratio must be between 0 and 1")
    with _refusal_reasons() as reasons:
        try:
            table = load_served_table(spec)
        except FedCreditError as err:
            return TableCheck(False, [reasons[-1] if reasons else err.message])
    problems: list[str] = []
    ids = table.ids.tolist()
    valid = np.fromiter((is_valid_uscc(i) for i in ids), dtype=bool, count=len(ids))
    decided = id_format
    if id_format == "auto":
        decided = "uscc" if ids and valid.mean() >= AUTO_USCC_SHARE else "any"
    n_invalid = int((~valid).sum()) if decided == "uscc" else 0
    if n_invalid:
        first = int(np.flatnonzero(~valid)[0])
        problems.append(
            f"{n_invalid} id(s) in {spec.id_column!r} are not valid USCCs (first at data row "
            f"{first + 1})"
        )
    X = np.asarray(table.X, dtype=np.float64)
    missing = {
        name: float(np.isnan(X[:, j]).mean()) if X.shape[0] else 0.0
        for j, name in enumerate(table.feature_names)
    }
    too_sparse = sorted(n for n, r in missing.items() if r > max_missing_ratio)
    if too_sparse:
        problems.append(
            f"columns missing in more than {max_missing_ratio:.0%} of rows: {too_sparse}"
        )
    if not table.feature_names:
        problems.append("the table has no feature columns")
    if table.n_rows == 0:
        problems.append("the table has no rows")
    return TableCheck(
        ok=not problems,
        problems=problems,
        n_rows=table.n_rows,
        n_features=len(table.feature_names),
        table_digest=table.digest(),
        id_format=decided,
        n_invalid_ids=n_invalid,
        missing_ratio=missing,
    )
