"""The bank's own data: loan book, customers, quarterly account data, overdue events.

Files under the bank's data directory (as written by the synthetic city)::

    loans.parquet           one row per loan application (the loan book)
    customers.parquet       account relationships
    accounts.parquet        quarterly balances and turnover per customer
    overdue_events.parquet  days-past-due episodes (30 / 60 / 90) per loan

Amounts are in 10k CNY. The outcome of a loan, ``outcome_dpd90_12m``, is 1 when the loan
reached 90 or more days past due within 12 months of its application date.
"""

from __future__ import annotations

import pyarrow as pa

PRODUCTS = ("technology_loan", "startup_guarantee_loan", "specialised_sme_loan", "working_capital")
COLLATERAL = ("none", "guarantee", "real_estate", "equity_pledge", "receivables")

LOANS = pa.schema(
    [
        pa.field("application_id", pa.string(), False),
        pa.field("uscc", pa.string(), False),
        pa.field("application_date", pa.date32(), False),
        pa.field("product", pa.string(), False),
        pa.field("amount", pa.float64(), False),
        pa.field("term_months", pa.int64(), False),
        pa.field("collateral", pa.string(), False),
        pa.field("default_date", pa.date32(), True),
        pa.field("outcome_dpd90_12m", pa.int64(), False),
    ]
)
CUSTOMERS = pa.schema(
    [pa.field("uscc", pa.string(), False), pa.field("customer_since", pa.date32(), False)]
)
ACCOUNTS = pa.schema(
    [
        pa.field("uscc", pa.string(), False),
        pa.field("quarter_end", pa.date32(), False),
        pa.field("avg_balance", pa.float64(), False),
        pa.field("credit_turnover", pa.float64(), False),
        pa.field("debit_turnover", pa.float64(), False),
        pa.field("overdraft_days", pa.int64(), False),
    ]
)
OVERDUE_EVENTS = pa.schema(
    [
        pa.field("application_id", pa.string(), False),
        pa.field("uscc", pa.string(), False),
        pa.field("event_date", pa.date32(), False),
        pa.field("days_past_due", pa.int64(), False),
    ]
)

BANK_TABLES: dict[str, pa.Schema] = {
    "loans": LOANS,
    "customers": CUSTOMERS,
    "accounts": ACCOUNTS,
    "overdue_events": OVERDUE_EVENTS,
}
