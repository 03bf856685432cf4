"""Typed risk events derived from catalogue records (issue 17, early warning).

Each rule maps one catalogue table (:mod:`platform_node.catalogue.schema`) to an event type,
with a condition on the record's own fields and a severity. Derivation is vectorised over a
whole feed (pandas masks, no Python loop per record). The mapping (also in docs/alerts.md):

=========================  ====================  ===============================  ========
event type                 table                 condition                        severity
=========================  ====================  ===============================  ========
enforcement_new            enforcements          status ``open``                  high
enforcement_terminated     enforcements          status ``terminated``            critical
dishonest_debtor           dishonest_debtors     not removed                      critical
bankruptcy                 bankruptcies          any stage                        critical
tax_arrears                tax_arrears           not cleared, amount > 0          high
tax_grade_downgrade        tax_credit_grades     grade worse than the last known  medium
                                                 one (none known: C or D)         (D high)
abnormal_taxpayer          tax_abnormal          not lifted                       high
social_insurance_arrears   social_insurance      arrears_amount > 0               medium
housing_fund_arrears       fund_contributions    arrears_amount > 0               medium
utility_arrears            utility_payments      paid < 90% of billed (any)       medium
abnormal_operation         abnormal_operations   not removed                      medium
serious_violation          serious_violations    not removed                      high
penalty                    admin_actions         penalty, fine >= threshold       medium
                                                 (>= 10 x threshold: high)
deregistration             licence               status deregistered / revoked    critical
equity_pledge              equity_pledges        not released                     medium
real_estate_seizure        real_estate           record_type ``seizure``          high
=========================  ====================  ===============================  ========

Records that end something (a removal, a cleared arrear, a closed case) raise no event.
"""

from __future__ import annotations

import enum
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
import pyarrow as pa


class Severity(enum.IntEnum):
    LOW = 1
    MEDIUM = 2
    HIGH = 3
    CRITICAL = 4


class EventType(enum.Enum):
    ENFORCEMENT_NEW = "enforcement_new"
    ENFORCEMENT_TERMINATED = "enforcement_terminated"
    DISHONEST_DEBTOR = "dishonest_debtor"
    BANKRUPTCY = "bankruptcy"
    TAX_ARREARS = "tax_arrears"
    TAX_GRADE_DOWNGRADE = "tax_grade_downgrade"
    ABNORMAL_TAXPAYER = "abnormal_taxpayer"
    SOCIAL_INSURANCE_ARREARS = "social_insurance_arrears"
    HOUSING_FUND_ARREARS = "housing_fund_arrears"
    UTILITY_ARREARS = "utility_arrears"
    ABNORMAL_OPERATION = "abnormal_operation"
    SERIOUS_VIOLATION = "serious_violation"
    PENALTY = "penalty"
    DEREGISTRATION = "deregistration"
    EQUITY_PLEDGE = "equity_pledge"
    REAL_ESTATE_SEIZURE = "real_estate_seizure"


#: Tables that can raise events (the others never do).
EVENT_TABLES = (
    "enforcements",
    "dishonest_debtors",
    "bankruptcies",
    "tax_arrears",
    "tax_credit_grades",
    "tax_abnormal",
    "social_insurance",
    "fund_contributions",
    "utility_payments",
    "abnormal_operations",
    "serious_violations",
    "admin_actions",
    "licence",
    "equity_pledges",
    "real_estate",
)

#: Tax credit grades from best to worst.
GRADE_ORDER = {"A": 0, "B": 1, "M": 2, "C": 3, "D": 4}
DEFAULT_PENALTY_THRESHOLD = 10.0  # 10k CNY, i.e. fines of 100,000 CNY and more


@dataclass(frozen=True)
class DerivedEvents:
    """Events of one feed, as parallel arrays (one entry per event)."""

    uscc: np.ndarray  # str
    event_type: np.ndarray  # str (EventType values)
    severity: np.ndarray  # int
    event_date: np.ndarray  # str YYYY-MM-DD
    row_hash: np.ndarray  # uint64 content hash of the source record

    def __len__(self) -> int:
        return int(self.uscc.size)

    @staticmethod
    def empty() -> DerivedEvents:
        e = np.array([], dtype=object)
        return DerivedEvents(e, e, np.array([], np.int64), e, np.array([], np.uint64))


#: Looks up the last known tax grade of companies ("" when none): uscc array -> grade array.
GradeLookup = Callable[[np.ndarray], np.ndarray]


def _open(df: pd.DataFrame, column: str) -> np.ndarray:
    """Rows whose end/removal date ``column`` is empty (the listing is still in force)."""
    return np.asarray(df[column].isna().to_numpy(), dtype=bool)


def _positive(df: pd.DataFrame, column: str) -> np.ndarray:
    return np.asarray(df[column].fillna(0.0).to_numpy(dtype=float) > 0.0)


def _short_paid(df: pd.DataFrame, billed: str, paid: str) -> np.ndarray:
    b = df[billed].fillna(0.0).to_numpy(dtype=float)
    p = df[paid].fillna(0.0).to_numpy(dtype=float)
    return np.asarray((b > 0) & (p < 0.9 * b))


def _rules(
    table_name: str, df: pd.DataFrame, penalty_threshold: float, grades: GradeLookup | None
) -> list[tuple[np.ndarray, EventType, np.ndarray | int]]:
    """``(mask, type, severity)`` per rule of the table."""
    t = EventType
    s = Severity
    n = len(df)
    if table_name == "enforcements":
        status = df["status"].fillna("").to_numpy(dtype=object)
        return [
            (status == "open", t.ENFORCEMENT_NEW, s.HIGH),
            (status == "terminated", t.ENFORCEMENT_TERMINATED, s.CRITICAL),
        ]
    if table_name == "dishonest_debtors":
        return [(_open(df, "removal_date"), t.DISHONEST_DEBTOR, s.CRITICAL)]
    if table_name == "bankruptcies":
        return [(np.ones(n, bool), t.BANKRUPTCY, s.CRITICAL)]
    if table_name == "tax_arrears":
        return [(_open(df, "cleared_date") & _positive(df, "amount"), t.TAX_ARREARS, s.HIGH)]
    if table_name == "tax_credit_grades":
        grade = df["grade"].fillna("").to_numpy(dtype=object)
        new = np.array([GRADE_ORDER.get(g, -1) for g in grade], dtype=np.int64)
        if grades is not None:
            prev_g = grades(df["uscc"].to_numpy(dtype=object))
            prev = np.array([GRADE_ORDER.get(g, -1) for g in prev_g], dtype=np.int64)
        else:
            prev = np.full(n, -1, np.int64)
        worse = np.where(prev >= 0, new > prev, new >= GRADE_ORDER["C"])
        sev = np.where(new == GRADE_ORDER["D"], int(s.HIGH), int(s.MEDIUM))
        return [(worse & (new >= 0), t.TAX_GRADE_DOWNGRADE, sev)]
    if table_name == "tax_abnormal":
        return [(_open(df, "removal_date"), t.ABNORMAL_TAXPAYER, s.HIGH)]
    if table_name == "social_insurance":
        return [(_positive(df, "arrears_amount"), t.SOCIAL_INSURANCE_ARREARS, s.MEDIUM)]
    if table_name == "fund_contributions":
        return [(_positive(df, "arrears_amount"), t.HOUSING_FUND_ARREARS, s.MEDIUM)]
    if table_name == "utility_payments":
        short = (
            _short_paid(df, "electricity_billed", "electricity_paid")
            | _short_paid(df, "water_billed", "water_paid")
            | _short_paid(df, "gas_billed", "gas_paid")
        )
        return [(short, t.UTILITY_ARREARS, s.MEDIUM)]
    if table_name == "abnormal_operations":
        return [(_open(df, "removal_date"), t.ABNORMAL_OPERATION, s.MEDIUM)]
    if table_name == "serious_violations":
        return [(_open(df, "removal_date"), t.SERIOUS_VIOLATION, s.HIGH)]
    if table_name == "admin_actions":
        kind = df["action_type"].fillna("").to_numpy(dtype=object)
        fine = df["fine_amount"].fillna(0.0).to_numpy(dtype=float)
        hit = (kind == "penalty") & (fine >= penalty_threshold)
        sev = np.where(fine >= 10 * penalty_threshold, int(s.HIGH), int(s.MEDIUM))
        return [(hit, t.PENALTY, sev)]
    if table_name == "licence":
        status = df["status"].fillna("").to_numpy(dtype=object)
        return [((status == "deregistered") | (status == "revoked"), t.DEREGISTRATION, s.CRITICAL)]
    if table_name == "equity_pledges":
        return [(_open(df, "release_date"), t.EQUITY_PLEDGE, s.MEDIUM)]
    if table_name == "real_estate":
        kind = df["record_type"].fillna("").to_numpy(dtype=object)
        return [((kind == "seizure") & _open(df, "end_date"), t.REAL_ESTATE_SEIZURE, s.HIGH)]
    return []


def derive_events(
    table_name: str,
    records: pa.Table,
    *,
    penalty_threshold: float = DEFAULT_PENALTY_THRESHOLD,
    grades: GradeLookup | None = None,
) -> DerivedEvents:
    """The risk events raised by the records of one conformed, validated feed.

    Parameters
    ----------
    table_name:
        The catalogue table of the feed.
    records:
        Rows with the table's full schema (:func:`platform_node.catalogue.store.conform`) and
        valid USCCs only.
    penalty_threshold:
        Smallest administrative fine (10k CNY) that raises a ``penalty`` event.
    grades:
        Last known tax grade per company, for ``tax_grade_downgrade``.
    """
    if table_name not in EVENT_TABLES or records.num_rows == 0:
        return DerivedEvents.empty()
    df = records.to_pandas(date_as_object=False)
    row_hash = pd.util.hash_pandas_object(df, index=False).to_numpy(dtype=np.uint64)
    dates = records.column("event_date").cast(pa.string()).to_numpy(zero_copy_only=False)
    codes = df["uscc"].to_numpy(dtype=object)
    parts: list[DerivedEvents] = []
    for mask, etype, sev in _rules(table_name, df, penalty_threshold, grades):
        idx = np.flatnonzero(mask)
        if idx.size == 0:
            continue
        severity = (
            np.full(idx.size, int(sev), np.int64)
            if isinstance(sev, int)
            else np.asarray(sev, np.int64)[idx]
        )
        parts.append(
            DerivedEvents(
                uscc=codes[idx],
                event_type=np.full(idx.size, etype.value, dtype=object),
                severity=severity,
                event_date=dates[idx],
                row_hash=row_hash[idx],
            )
        )
    if not parts:
        return DerivedEvents.empty()
    return DerivedEvents(
        uscc=np.concatenate([p.uscc for p in parts]),
        event_type=np.concatenate([p.event_type for p in parts]),
        severity=np.concatenate([p.severity for p in parts]),
        event_date=np.concatenate([p.event_date for p in parts]),
        row_hash=np.concatenate([p.row_hash for p in parts]),
    )
