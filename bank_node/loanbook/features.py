"""The bank's point-in-time features: balances, turnover, earlier loans, overdue history.

Like the platform's pipeline, every feature of a query row (USCC, as-of date) uses only the
bank's records dated strictly before the as-of date: account quarters that ended before it,
loans applied before it, overdue and default events that happened before it.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq

from bank_node.loanbook.schema import BANK_TABLES
from models.errors import InternalError, InvalidArgument
from models.uscc import valid_mask


@dataclass(frozen=True)
class BankFeature:
    name: str
    table: str
    sql: str
    meaning: str
    window: str


def _within(months: int, column: str) -> str:
    return f"t.{column} >= q.as_of - INTERVAL {months} MONTH"


_ACC = "accounts"
_LOAN = "loans"
_OD = "overdue_events"
_CUST = "customers"

BANK_FEATURES: tuple[BankFeature, ...] = (
    BankFeature("bank_customer", _CUST, "CASE WHEN count(t.uscc) > 0 THEN 1 ELSE 0 END",
                "1 if an account customer before the as-of date", "at as-of"),
    BankFeature("bank_relationship_months", _CUST,
                "date_diff('month', min(t.customer_since), CAST(q.as_of AS DATE))",
                "months since the account relationship began", "at as-of"),
    BankFeature("bank_avg_balance_1y", _ACC,
                f"avg(t.avg_balance) FILTER (WHERE {_within(12, 'quarter_end')})",
                "average balance over the last four quarters, 10k CNY", "1y"),
    BankFeature("bank_balance_trend", _ACC,
                f"avg(t.avg_balance) FILTER (WHERE {_within(6, 'quarter_end')}) / NULLIF("
                "avg(t.avg_balance) FILTER (WHERE t.quarter_end < q.as_of - INTERVAL 6 MONTH "
                f"AND {_within(12, 'quarter_end')}), 0)",
                "average balance, last two quarters over the two before", "1y"),
    BankFeature("bank_balance_volatility", _ACC,
                f"stddev_samp(t.avg_balance) FILTER (WHERE {_within(12, 'quarter_end')}) / "
                f"NULLIF(avg(t.avg_balance) FILTER (WHERE {_within(12, 'quarter_end')}), 0)",
                "coefficient of variation of quarterly balances", "1y"),
    BankFeature("bank_credit_turnover_1y", _ACC,
                f"sum(t.credit_turnover) FILTER (WHERE {_within(12, 'quarter_end')})",
                "money in over the last four quarters, 10k CNY", "1y"),
    BankFeature("bank_turnover_growth", _ACC,
                f"sum(t.credit_turnover) FILTER (WHERE {_within(12, 'quarter_end')}) / NULLIF("
                "sum(t.credit_turnover) FILTER (WHERE t.quarter_end < q.as_of - INTERVAL 12 MONTH"
                f" AND {_within(24, 'quarter_end')}), 0) - 1",
                "money in, last 12 months vs the 12 months before", "2y"),
    BankFeature("bank_debit_credit_ratio_1y", _ACC,
                f"sum(t.debit_turnover) FILTER (WHERE {_within(12, 'quarter_end')}) / NULLIF("
                f"sum(t.credit_turnover) FILTER (WHERE {_within(12, 'quarter_end')}), 0)",
                "money out over money in", "1y"),
    BankFeature("bank_overdraft_days_1y", _ACC,
                f"sum(t.overdraft_days) FILTER (WHERE {_within(12, 'quarter_end')})",
                "days overdrawn", "1y"),
    BankFeature("bank_loans_before", _LOAN, "count(t.uscc)", "earlier loans with this bank",
                "all history"),
    BankFeature("bank_loan_amount_before", _LOAN, "coalesce(sum(t.amount), 0)",
                "amount of earlier loans, 10k CNY", "all history"),
    BankFeature("bank_loans_open", _LOAN,
                "count(t.uscc) FILTER (WHERE t.application_date + "
                "INTERVAL (t.term_months) MONTH > q.as_of)",
                "earlier loans still running at the as-of date", "at as-of"),
    BankFeature("bank_defaults_before", _LOAN,
                "count(t.uscc) FILTER (WHERE t.default_date < q.as_of)",
                "earlier loans that reached 90+ days past due before the as-of date",
                "all history"),
    BankFeature("bank_overdues_2y", _OD,
                f"count(t.uscc) FILTER (WHERE {_within(24, 'event_date')})",
                "overdue episodes (30+ days past due)", "2y"),
    BankFeature("bank_max_dpd_2y", _OD,
                f"coalesce(max(t.days_past_due) FILTER (WHERE {_within(24, 'event_date')}), 0)",
                "worst days past due", "2y"),
    BankFeature("bank_days_since_overdue", _OD,
                "date_diff('day', max(t.event_date), CAST(q.as_of AS DATE))",
                "days since the last overdue episode", "all history"),
)  # fmt: skip

# the date column each bank table is filtered on for the point-in-time rule
_PIT_COLUMN = {
    _ACC: "quarter_end",
    _LOAN: "application_date",
    _OD: "event_date",
    _CUST: "customer_since",
}


def _read(bank_dir: Path, name: str) -> pa.Table:
    path = Path(bank_dir) / f"{name}.parquet"
    schema = BANK_TABLES[name]
    if not path.exists():
        return schema.empty_table()
    return pq.read_table(path, schema=schema)


def bank_features(
    bank_dir: Path,
    usccs: Sequence[str] | np.ndarray,
    as_of: np.ndarray | Sequence[dt.date] | dt.date,
    threads: int | None = None,
) -> tuple[np.ndarray, list[str]]:
    """Point-in-time bank features for (USCC, as-of) pairs; rows in input order.

    Returns
    -------
    (X, names):
        float64 matrix (NaN = missing) and one name per column.
    """
    codes = np.asarray(usccs, dtype=str)
    n = codes.size
    if n and not valid_mask(codes).all():
        raise InvalidArgument("bank feature request contains an invalid USCC")
    if isinstance(as_of, dt.date):
        dates = np.full(n, np.datetime64(as_of, "D"))
    else:
        dates = np.asarray(as_of, dtype="datetime64[D]")
    if dates.shape != (n,):
        raise InvalidArgument("one as-of date per query row is required")
    query = pa.table(
        {
            "qid": pa.array(np.arange(n, dtype=np.int64)),
            "uscc": pa.array(codes, pa.string()),
            "as_of": pa.array(dates.astype(np.int64).astype(np.int32), pa.date32()),
        }
    )
    X = np.full((n, len(BANK_FEATURES)), np.nan)
    con = duckdb.connect()
    try:
        if threads is not None:
            con.execute(f"SET threads = {int(threads)}")
        con.register("q", query)
        for name, pit in _PIT_COLUMN.items():
            con.register(name, _read(bank_dir, name))
            cols = [(j, f) for j, f in enumerate(BANK_FEATURES) if f.table == name]
            exprs = ", ".join(f"CAST({f.sql} AS DOUBLE) AS {f.name}" for _, f in cols)
            sql = (
                f"SELECT q.qid, {exprs} FROM q LEFT JOIN {name} t ON t.uscc = q.uscc "
                f"AND t.{pit} < q.as_of GROUP BY q.qid, q.as_of"
            )
            result = con.sql(sql).to_arrow_table()
            if result is None:
                raise InternalError("bank feature query returned no result")
            qid = result.column("qid").to_numpy()
            for j, f in cols:
                values = result.column(f.name).to_numpy(zero_copy_only=False)
                X[qid, j] = np.asarray(values, dtype=np.float64)
    finally:
        con.close()
    return X, [f.name for f in BANK_FEATURES]
