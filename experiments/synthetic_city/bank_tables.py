"""The bank's side of the synthetic city: customers, quarterly account data, loans, overdues.

The bank sees its own customers' accounts (balances and turnover, which move with the latent
quality only weakly) and its loan history. Loans applied in ``[as_of, as_of + 12 months)`` are
the modelling window; every loan's outcome is 90+ days past due within 12 months of application.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from bank_node.loanbook.schema import COLLATERAL as BANK_COLLATERAL
from experiments.synthetic_city.common import (
    DAYS_PER_YEAR,
    NULL_DAY,
    Timeline,
    choose,
    day,
    events,
    quarterly_rows,
    rng_for,
    sigmoid,
)
from experiments.synthetic_city.population import Population, is_tech

Columns = dict[str, np.ndarray]

COLLATERAL = list(BANK_COLLATERAL)


@dataclass
class BankData:
    customers: Columns
    accounts: Columns
    loans: Columns
    overdue_events: Columns
    window_intercept: float


def customers(pop: Population, tl: Timeline, seed: int) -> Columns:
    rng = rng_for(seed, "bank/customers")
    p = np.array([0.15, 0.35, 0.55, 0.7])[pop.size]
    ent = np.flatnonzero((rng.random(pop.n) < p) & (pop.founding < tl.end - 90))
    earliest = np.maximum(pop.founding[ent], day("2008-01-01"))
    since = earliest + (rng.random(ent.size) * 0.8 * (tl.end - earliest)).astype(np.int64)
    return {"ent": ent, "uscc": pop.uscc[ent], "customer_since": since}


def accounts(pop: Population, tl: Timeline, seed: int, cust: Columns) -> Columns:
    rng = rng_for(seed, "bank/accounts")
    qe = tl.quarter_ends()
    _, end = pop.active_window(tl)
    is_cust = np.zeros(pop.n, dtype=bool)
    is_cust[cust["ent"]] = True
    since = np.full(pop.n, tl.end + 1)
    since[cust["ent"]] = cust["customer_since"]
    ent, q = quarterly_rows(is_cust, since, end, qe)
    k = ent.size
    t = (qe[q] - tl.as_of_day) / DAYS_PER_YEAR
    wallet = rng_for(seed, "bank/wallet").uniform(0.15, 0.8, pop.n)  # share of business here
    # the bank sees a noisy, damped version of the enterprise's activity and quality
    level = pop.scale[ent] * wallet[ent] / 4.0 * np.exp(0.5 * pop.growth[ent] * t)
    level = level * np.exp(rng.normal(0.0, 0.35, k))
    credit = level
    debit = level * np.exp(rng.normal(0.0, 0.08, k) - 0.03 * pop.z[ent])
    balance = level * rng.uniform(0.05, 0.3, k) * np.exp(0.3 * pop.z[ent] + rng.normal(0, 0.6, k))
    overdraft = rng.poisson(1.5 * np.exp(-0.6 * pop.z[ent]))
    return {
        "uscc": pop.uscc[ent],
        "quarter_end": qe[q],
        "avg_balance": np.round(balance, 3),
        "credit_turnover": np.round(credit, 3),
        "debit_turnover": np.round(debit, 3),
        "overdraft_days": overdraft.astype(np.int64),
    }


def _loan_logit(
    pop: Population, ent: np.ndarray, product: np.ndarray, collateral: np.ndarray,
    amount: np.ndarray, noise: np.ndarray,
) -> np.ndarray:  # fmt: skip
    burden = np.log(amount / np.maximum(pop.scale[ent] / 4.0, 1.0))
    return (
        -1.8 * pop.z[ent]
        + 0.35 * (pop.size[ent] == 0)
        + 0.45 * (product == "startup_guarantee_loan")
        - 0.35 * (collateral == "real_estate")
        - 0.15 * (collateral == "guarantee")
        + 0.25 * np.clip(burden, -2.0, 3.0)
        + noise
    )


def _draw_loans(
    pop: Population, ent: np.ndarray, app: np.ndarray, rng: np.random.Generator
) -> Columns:
    k = ent.size
    age = (app - pop.founding[ent]) / DAYS_PER_YEAR
    tech = is_tech(pop)[ent]
    product = np.where(
        age < 3.0,
        choose(rng, ["startup_guarantee_loan", "technology_loan", "working_capital"], [6, 2, 2], k),
        np.where(
            tech,
            choose(
                rng, ["technology_loan", "specialised_sme_loan", "working_capital"], [5, 3, 2], k
            ),
            choose(rng, ["specialised_sme_loan", "working_capital"], [3, 7], k),
        ),
    )
    amount = np.round(np.minimum(pop.scale[ent] * rng.lognormal(-1.6, 0.6, k), 30000.0) + 10.0, 1)
    term = choose(rng, ["12", "24", "36"], [5, 3, 2], k).astype(np.int64)
    collateral = np.where(
        product == "startup_guarantee_loan",
        "guarantee",
        choose(rng, COLLATERAL, [4, 2, 3, 0.5, 1], k),
    )
    return {
        "ent": ent,
        "uscc": pop.uscc[ent],
        "application_date": app,
        "product": product,
        "amount": amount,
        "term_months": term,
        "collateral": collateral,
    }


def loans(pop: Population, tl: Timeline, seed: int, cust: Columns, target_rate: float) -> Columns:
    rng = rng_for(seed, "bank/loans")
    start, end = pop.active_window(tl)
    is_cust = np.zeros(pop.n, dtype=bool)
    is_cust[cust["ent"]] = True
    since = np.full(pop.n, tl.end + 1)
    since[cust["ent"]] = cust["customer_since"]
    # earlier loans: customers borrow about once every four years
    h_start = np.maximum(np.maximum(start, since), tl.history_start)
    h_end = np.minimum(end, tl.as_of_day - 1)
    ent_h, app_h = events(rng, np.where(is_cust, 0.25, 0.0), h_start, h_end)
    # the modelling window: applications in [as_of, as_of + 12 months)
    tech = is_tech(pop)
    p_apply = np.where(is_cust, 0.45, 0.15) * np.where(tech, 1.4, 1.0)
    w_lo = np.maximum(pop.founding + 30, tl.as_of_day)
    w_hi = np.minimum(np.where(pop.dereg == NULL_DAY, tl.window_end, pop.dereg - 60), tl.window_end)
    can = w_hi > w_lo
    apply = can & (rng.random(pop.n) < p_apply)
    second = apply & (rng.random(pop.n) < 0.1)
    ent_w = np.concatenate([np.flatnonzero(apply), np.flatnonzero(second)])
    app_w = w_lo[ent_w] + (rng.random(ent_w.size) * (w_hi - w_lo)[ent_w]).astype(np.int64)

    ent = np.concatenate([ent_h, ent_w])
    app = np.concatenate([app_h, app_w])
    order = np.lexsort((ent, app))
    ent, app = ent[order], app[order]
    in_window = app >= tl.as_of_day
    cols = _draw_loans(pop, ent, app, rng)
    noise = rng.normal(0.0, 0.6, ent.size)
    logit = _loan_logit(pop, ent, cols["product"], cols["collateral"], cols["amount"], noise)
    b0 = _calibrate(logit[in_window], target_rate)
    defaulted = rng.random(ent.size) < sigmoid(b0 + logit)
    default_day = np.where(defaulted, app + rng.integers(90, 366, ent.size), NULL_DAY)
    cols["application_id"] = np.char.add("APP", np.char.zfill(np.arange(ent.size).astype("U8"), 8))
    cols["default_date"] = default_day
    cols["outcome_dpd90_12m"] = defaulted.astype(np.int64)
    cols["b0"] = np.array([b0])
    return cols


def _calibrate(logit: np.ndarray, target: float) -> float:
    """Intercept b0 with mean(sigmoid(b0 + logit)) == target (bisection; deterministic)."""
    lo, hi = -15.0, 5.0
    for _ in range(60):
        mid = (lo + hi) / 2.0
        if float(sigmoid(mid + logit).mean()) > target:
            hi = mid
        else:
            lo = mid
    return (lo + hi) / 2.0


def overdue_events(pop: Population, tl: Timeline, seed: int, loan: Columns) -> Columns:
    """30/60-day overdue episodes during each loan's life, and the 90-day event of a default."""
    rng = rng_for(seed, "bank/overdues")
    ent = loan["ent"]
    start = loan["application_date"] + 30
    stop = np.minimum(start + loan["term_months"] * 30, tl.end)
    stop = np.where(loan["default_date"] != NULL_DAY, np.minimum(stop, loan["default_date"]), stop)
    rate = 0.35 * np.exp(-0.9 * pop.z[ent] - 0.405)
    li, days = events(rng, rate, start, stop)
    dpd = choose(rng, ["30", "60"], [3, 1], li.size).astype(np.int64)
    d_idx = np.flatnonzero((loan["default_date"] != NULL_DAY) & (loan["default_date"] <= tl.end))
    li = np.concatenate([li, d_idx])
    days = np.concatenate([days, loan["default_date"][d_idx]])
    dpd = np.concatenate([dpd, np.full(d_idx.size, 90)])
    order = np.lexsort((li, days))
    li, days, dpd = li[order], days[order], dpd[order]
    return {
        "application_id": loan["application_id"][li],
        "uscc": loan["uscc"][li],
        "event_date": days,
        "days_past_due": dpd,
    }


def make_bank(pop: Population, tl: Timeline, seed: int, target_rate: float) -> BankData:
    cust = customers(pop, tl, seed)
    acc = accounts(pop, tl, seed, cust)
    book = loans(pop, tl, seed, cust, target_rate)
    od = overdue_events(pop, tl, seed, book)
    b0 = float(book.pop("b0")[0])
    return BankData(
        customers=cust, accounts=acc, loans=book, overdue_events=od, window_intercept=b0
    )
