"""Raw records of the 15 catalogue categories, one generator per table (all vectorised).

Every generator takes the population, the timeline, its own random stream and a shared
context dict (for tables derived from others, e.g. a missed annual report puts the enterprise
on the abnormal-operation list) and returns the table's columns as numpy arrays.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from experiments.synthetic_city.common import (
    DAYS_PER_YEAR,
    NULL_DAY,
    Timeline,
    choose,
    day,
    events,
    quarterly_rows,
    sigmoid,
)
from experiments.synthetic_city.population import (
    Population,
    addresses,
    company_names,
    is_tech,
    person_names,
    resident_ids,
)

Columns = dict[str, np.ndarray]
Context = dict[str, Any]
Generator = Callable[[Population, Timeline, np.random.Generator, Context], Columns]


def _removal(
    rng: np.random.Generator, start: np.ndarray, p_removed: np.ndarray | float, lo: int, hi: int
) -> np.ndarray:
    """Removal dates ``lo..hi`` days after ``start`` with probability ``p_removed``, else null."""
    n = start.shape[0]
    removed = rng.random(n) < p_removed
    when = start + rng.integers(lo, hi, n)
    return np.where(removed, when, NULL_DAY)


def _years_since(pop: Population, tl: Timeline) -> np.ndarray:
    return (tl.as_of_day - pop.founding) / DAYS_PER_YEAR


def _activity(pop: Population, ent: np.ndarray, days: np.ndarray, tl: Timeline) -> np.ndarray:
    """Yearly revenue level of enterprise ``ent`` on ``days`` (10k CNY per year)."""
    t = (days - tl.as_of_day) / DAYS_PER_YEAR
    return pop.scale[ent] * np.exp(pop.growth[ent] * t)


# ---------------------------------------------------------------- 1 market-entity registration


def licence(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    n = pop.n
    authority = np.char.add("郑州市", np.char.add(pop.division, "市场监督管理局"))
    return {
        "uscc": pop.uscc,
        "event_date": pop.founding,
        "name": company_names(pop, rng),
        "legal_rep_name": person_names(rng, n),
        "legal_rep_id_number": resident_ids(rng, pop.division),
        "founding_date": pop.founding,
        "address": addresses(pop, rng),
        "status": pop.status,
        "status_date": pop.dereg,
        "registration_authority": authority,
        "industry_code": pop.industry_code,
        "registered_capital": pop.capital,
    }


def changes(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.15 * pop.rate_multiplier(0.3), start, end)
    kinds = ["name", "address", "legal_rep", "capital", "scope", "shareholder"]
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "change_type": choose(rng, kinds, [0.1, 0.25, 0.15, 0.15, 0.2, 0.15], ent.size),
    }


def shareholders(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    count = 1 + rng.poisson(0.4 + 0.4 * pop.size)
    ent = np.repeat(np.arange(pop.n), count)
    k = ent.size
    natural = rng.random(k) < 0.8
    days = pop.founding[ent] + (rng.random(k) < 0.2) * rng.integers(0, 3000, k)
    days = np.minimum(days, tl.end)
    share = pop.capital[ent] / count[ent] * rng.uniform(0.5, 1.5, k)
    names = np.where(
        natural, person_names(rng, k), np.char.add(person_names(rng, k), "投资有限公司")
    )
    ids = np.where(natural, resident_ids(rng, pop.division[ent]), "")
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "shareholder_name": names,
        "shareholder_id_number": ids,
        "shareholder_kind": np.where(natural, "natural_person", "legal_person"),
        "subscribed_capital": np.round(share, 2),
        "paid_in_capital": np.round(share * rng.uniform(0.0, 1.0, k), 2),
    }


def branches(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.02 * (1 + 2 * pop.size) * pop.rate_multiplier(-0.3), start, end)
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "branch_name": np.char.add(np.char.add("分公司", np.arange(ent.size).astype("U9")), "号"),
        "branch_division": pop.division[rng.integers(0, pop.n, ent.size)],
    }


def equity_pledges(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.03 * pop.rate_multiplier(0.7), start, end)
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "pledged_amount": np.round(pop.capital[ent] * rng.uniform(0.1, 0.8, ent.size), 2),
        "pledgee_name": np.char.add(person_names(rng, ent.size), "担保有限公司"),
        "release_date": _removal(rng, days, sigmoid(0.5 + pop.z[ent]), 180, 1100),
    }


def annual_reports(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    parts: list[Columns] = []
    missed_ent, missed_year = [], []
    for year in tl.years():
        jan1 = day(f"{year + 1}-01-01")
        due = np.flatnonzero(
            (pop.founding < day(f"{year}-12-31"))
            & ((pop.dereg == NULL_DAY) | (pop.dereg > day(f"{year + 1}-06-30")))
        )
        if jan1 > tl.end or due.size == 0:
            continue
        filed = rng.random(due.size) < sigmoid(2.6 + 0.9 * pop.z[due])
        missed_ent.append(due[~filed])
        missed_year.append(np.full((~filed).sum(), year))
        ent = due[filed]
        k = ent.size
        mid = np.full(k, day(f"{year}-07-01"))
        revenue = _activity(pop, ent, mid, tl) * rng.lognormal(0.0, 0.25, k)
        assets = revenue * rng.uniform(0.4, 1.6, k)
        leverage = sigmoid(-0.1 - 0.7 * pop.z[ent] + rng.normal(0.0, 0.5, k))
        liabilities = assets * leverage
        margin = 0.04 + 0.05 * pop.z[ent] + rng.normal(0.0, 0.04, k)
        net_profit = revenue * margin
        headcount = pop.employees[ent] * np.exp(
            0.7 * pop.growth[ent] * (year + 0.5 - tl.as_of.year)
        )
        guarantees = assets * 0.2 * (rng.random(k) < 0.12 * pop.rate_multiplier(0.5)[ent])
        parts.append(
            {
                "uscc": pop.uscc[ent],
                "event_date": jan1 + rng.integers(0, 181, k),
                "report_year": np.full(k, year),
                "total_assets": np.round(assets, 2),
                "owners_equity": np.round(assets - liabilities, 2),
                "revenue": np.round(revenue, 2),
                "total_profit": np.round(
                    np.where(net_profit > 0, net_profit / 0.75, net_profit), 2
                ),
                "net_profit": np.round(net_profit, 2),
                "tax_paid": np.round(revenue * rng.uniform(0.01, 0.05, k), 2),
                "liabilities": np.round(liabilities, 2),
                "guarantees_given": np.round(guarantees, 2),
                "employees": np.maximum(np.round(headcount), 0).astype(np.int64),
            }
        )
    ctx["missed_report_ent"] = np.concatenate(missed_ent)
    ctx["missed_report_year"] = np.concatenate(missed_year)
    cols = {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}
    keep = cols["event_date"] <= tl.end
    return {k: v[keep] for k, v in cols.items()}


def abnormal_operations(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    # enterprises that missed an annual report are listed in the summer after the deadline
    ent_a = ctx["missed_report_ent"]
    days_a = np.array([day(f"{y + 1}-07-01") for y in ctx["missed_report_year"]], dtype=np.int64)
    days_a = days_a + rng.integers(0, 60, ent_a.size)
    start, end = pop.active_window(tl)
    ent_b, days_b = events(rng, 0.01 * pop.rate_multiplier(0.9), start, end)
    ent = np.concatenate([ent_a, ent_b])
    days = np.concatenate([days_a, days_b])
    reason = np.concatenate(
        [
            np.full(ent_a.size, "no_annual_report"),
            choose(rng, ["unreachable_address", "false_report", "other"], [6, 2, 1], ent_b.size),
        ]
    )
    keep = days <= tl.end
    ent, days, reason = ent[keep], days[keep], reason[keep]
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "reason": reason,
        "removal_date": _removal(rng, days, sigmoid(0.3 + 0.8 * pop.z[ent]), 60, 720),
    }


def serious_violations(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.003 * pop.rate_multiplier(1.2), start, end)
    reasons = ["abnormal_three_years", "false_registration", "major_penalty"]
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "reason": choose(rng, reasons, [5, 1, 2], ent.size),
        "removal_date": _removal(rng, days, 0.2, 365, 1500),
    }


def spot_checks(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, np.full(pop.n, 0.08), start, end)
    fail = rng.random(ent.size) < sigmoid(-2.0 - 0.9 * pop.z[ent])
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "result": np.where(fail, "fail", "pass"),
        "authority": np.char.add(pop.division[ent], "市场监督管理局"),
    }


# ---------------------------------------------------------------- 2 judicial


def judgments(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.05 * (1 + pop.size) * pop.rate_multiplier(0.6), start, end)
    k = ent.size
    defendant = rng.random(k) < sigmoid(-0.2 - 0.9 * pop.z[ent])
    cases = ["civil", "commercial", "labour", "administrative"]
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "case_type": choose(rng, cases, [0.35, 0.45, 0.15, 0.05], k),
        "role": np.where(defendant, "defendant", "plaintiff"),
        "amount": np.round(pop.scale[ent] * rng.lognormal(-2.5, 1.0, k), 2),
    }


def enforcements(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.03 * pop.rate_multiplier(1.1), start, end)
    k = ent.size
    closes = rng.random(k) < sigmoid(0.8 + 0.7 * pop.z[ent])
    terminated = ~closes & (rng.random(k) < 0.6)
    closed = np.where(closes | terminated, days + rng.integers(30, 600, k), NULL_DAY)
    closed = np.where(closed > tl.end, NULL_DAY, closed)
    status = np.where(closed == NULL_DAY, "open", np.where(terminated, "terminated", "closed"))
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "amount": np.round(pop.scale[ent] * rng.lognormal(-2.8, 1.0, k), 2),
        "status": status,
        "closed_date": closed,
    }


def dishonest_debtors(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.006 * pop.rate_multiplier(1.5), start, end)
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "amount": np.round(pop.scale[ent] * rng.lognormal(-2.5, 1.0, ent.size), 2),
        "removal_date": _removal(rng, days, 0.4, 90, 900),
    }


def bankruptcies(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    ended = pop.dereg != NULL_DAY
    pick = np.flatnonzero(ended & (rng.random(pop.n) < sigmoid(-2.0 - 1.0 * pop.z)))
    days = pop.dereg[pick] - rng.integers(60, 500, pick.size)
    keep = days >= pop.founding[pick]
    pick, days = pick[keep], days[keep]
    stages = ["filed", "accepted", "reorganisation", "liquidation"]
    return {
        "uscc": pop.uscc[pick],
        "event_date": days,
        "stage": choose(rng, stages, [0.2, 0.3, 0.1, 0.4], pick.size),
    }


# ---------------------------------------------------------------- 3 tax (interface call)


def tax_credit_grades(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    parts: list[Columns] = []
    for year in tl.years():
        publish = day(f"{year + 1}-04-01")
        alive = np.flatnonzero(
            (pop.founding < day(f"{year}-12-31"))
            & ((pop.dereg == NULL_DAY) | (pop.dereg > publish))
            & ~pop.coop
        )
        if publish > tl.end or alive.size == 0:
            continue
        score = pop.z[alive] + rng.normal(0.0, 0.6, alive.size)
        grade = np.select(
            [score > 1.1, score > -0.5, score > -1.8], ["A", "B", "C"], default="D"
        ).astype("U1")
        grade[pop.founding[alive] >= day(f"{year}-01-01")] = "M"
        parts.append(
            {
                "uscc": pop.uscc[alive],
                "event_date": publish + rng.integers(0, 30, alive.size),
                "eval_year": np.full(alive.size, year),
                "grade": grade,
            }
        )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


def tax_abnormal(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.012 * pop.rate_multiplier(1.1), start, end)
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "removal_date": _removal(rng, days, sigmoid(0.5 + pop.z[ent]), 30, 600),
    }


def tax_arrears(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ent, days = events(rng, 0.02 * pop.rate_multiplier(1.2), start, end)
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "tax_type": choose(rng, ["vat", "income", "other"], [5, 3, 2], ent.size),
        "amount": np.round(pop.scale[ent] * rng.lognormal(-4.0, 0.8, ent.size), 2),
        "cleared_date": _removal(rng, days, sigmoid(0.8 + pop.z[ent]), 30, 500),
    }


def tax_payments(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    qe = tl.quarter_ends()
    _, end = pop.active_window(tl)
    covered = ~pop.coop & (rng.random(pop.n) < 0.95)
    ent, q = quarterly_rows(covered, pop.founding, end, qe)
    k = ent.size
    days = qe[q]
    level = _activity(pop, ent, days, tl) / 4.0 * rng.lognormal(0.0, 0.2, k)
    vat = level * 0.03 * rng.uniform(0.6, 1.2, k)
    margin = 0.04 + 0.05 * pop.z[ent] + rng.normal(0.0, 0.03, k)
    cit = np.maximum(level * margin, 0.0) * 0.25
    late = rng.random(k) < sigmoid(-3.6 - 1.3 * pop.z[ent])
    paid_share = np.where(late, rng.uniform(0.0, 0.7, k), 1.0)
    return {
        "uscc": pop.uscc[ent],
        "event_date": days + 15 + rng.integers(0, 10, k),
        "period_end": days,
        "vat_payable": np.round(vat, 3),
        "vat_paid": np.round(vat * paid_share, 3),
        "cit_payable": np.round(cit, 3),
        "cit_paid": np.round(cit * paid_share, 3),
    }


# ---------------------------------------------------------------- 4, 5 fund and insurance


def _headcount(pop: Population, ent: np.ndarray, days: np.ndarray, tl: Timeline) -> np.ndarray:
    t = (days - tl.as_of_day) / DAYS_PER_YEAR
    return np.maximum(np.round(pop.employees[ent] * np.exp(0.7 * pop.growth[ent] * t)), 1.0)


def fund_contributions(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    qe = tl.quarter_ends()
    _, end = pop.active_window(tl)
    p = np.array([0.2, 0.6, 0.9, 0.98])[pop.size]
    # data gap: the county fund centre of Zhongmu (410122) does not share its records
    covered = (rng.random(pop.n) < p) & (pop.division != "410122")
    ent, q = quarterly_rows(covered, pop.founding, end, qe)
    k = ent.size
    people = np.maximum(np.round(_headcount(pop, ent, qe[q], tl) * rng.uniform(0.6, 1.0, k)), 1)
    monthly = people * 0.144 * rng.uniform(0.8, 1.2, k)
    arrears = rng.random(k) < sigmoid(-4.0 - 1.2 * pop.z[ent])
    return {
        "uscc": pop.uscc[ent],
        "event_date": qe[q] + 10 + rng.integers(0, 10, k),
        "contributors": people.astype(np.int64),
        "monthly_amount": np.round(monthly, 3),
        "arrears_amount": np.round(np.where(arrears, monthly * rng.uniform(1, 3, k), 0.0), 3),
    }


def social_insurance(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    qe = tl.quarter_ends()
    _, end = pop.active_window(tl)
    p = np.array([0.55, 0.9, 0.97, 0.99])[pop.size]
    covered = rng.random(pop.n) < p
    ent, q = quarterly_rows(covered, pop.founding, end, qe)
    k = ent.size
    heads = _headcount(pop, ent, qe[q], tl) * np.exp(rng.normal(0, 0.05, k))
    heads = np.maximum(np.round(heads), 1.0)
    wage = 1.8 * rng.uniform(0.8, 1.3, k)  # quarterly wage bill per head, 10k CNY
    base = heads * wage
    arrears = rng.random(k) < sigmoid(-3.6 - 1.2 * pop.z[ent])
    paid = np.where(arrears, rng.uniform(0.3, 0.9, k), 1.0)
    return {
        "uscc": pop.uscc[ent],
        "event_date": qe[q] + 10 + rng.integers(0, 10, k),
        "insured_headcount": heads.astype(np.int64),
        "pension_paid": np.round(base * 0.16 * paid, 3),
        "medical_paid": np.round(base * 0.08 * paid, 3),
        "unemployment_paid": np.round(base * 0.005 * paid, 4),
        "injury_paid": np.round(base * 0.004 * paid, 4),
        "maternity_paid": np.round(base * 0.005 * paid, 4),
        "arrears_amount": np.round(base * 0.294 * (1 - paid), 3),
    }


# ---------------------------------------------------------------- 6-9


def environmental_ratings(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    rated = rng.random(pop.n) < np.where(np.isin(pop.section, ["C", "E", "G", "N", "A"]), 0.5, 0.01)
    parts: list[Columns] = []
    for year in tl.years():
        publish = day(f"{year + 1}-05-01")
        ent = np.flatnonzero(
            rated
            & (pop.founding < day(f"{year}-01-01"))
            & ((pop.dereg == NULL_DAY) | (pop.dereg > publish))
        )
        if publish > tl.end:
            continue
        score = pop.z[ent] + rng.normal(0, 0.7, ent.size)
        rating = np.select(
            [score > 1.3, score > 0.0, score > -1.0, score > -2.0],
            ["green", "blue", "yellow", "red"],
            default="black",
        )
        parts.append(
            {
                "uscc": pop.uscc[ent],
                "event_date": publish + rng.integers(0, 60, ent.size),
                "eval_year": np.full(ent.size, year),
                "rating": rating,
            }
        )
    return {k: np.concatenate([p[k] for p in parts]) for k in parts[0]}


_CUSTOMS_LEVELS = ["advanced_certified", "general_certified", "general", "dishonest"]


def _customs_level(z: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    s = z + rng.normal(0, 0.6, z.size)
    return np.select([s > 1.6, s > 0.8, s > -2.0], _CUSTOMS_LEVELS[:3], default="dishonest")


def customs_records(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    share = {"F": 0.05, "C": 0.15, "G": 0.08, "I": 0.03}
    p = np.vectorize(lambda s: share.get(s, 0.005), otypes=[float])(pop.section)
    p = np.where(pop.division == "410173", np.minimum(3 * p, 0.6), p)
    start, end = pop.active_window(tl)
    reg = np.flatnonzero(rng.random(pop.n) < p)
    reg_day = pop.founding[reg] + rng.integers(30, 900, reg.size)
    reg, reg_day = reg[reg_day <= end[reg]], reg_day[reg_day <= end[reg]]
    rate = np.zeros(pop.n)
    rate[reg] = 0.15
    ent_c, days_c = events(rng, rate, np.maximum(start, np.full(pop.n, tl.history_start)), end)
    ent = np.concatenate([reg, ent_c])
    days = np.concatenate([reg_day, days_c])
    kind = np.concatenate([np.full(reg.size, "registration"), np.full(ent_c.size, "credit_change")])
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "record_type": kind,
        "credit_level": _customs_level(pop.z[ent], rng),
    }


def ip_rights(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    tech = is_tech(pop) | (pop.section == "C")
    rate = (0.12 + 0.5 * tech) * (1 + 0.7 * pop.size) * pop.rate_multiplier(-0.4)
    ent, days = events(rng, rate, start, end)
    k = ent.size
    kinds = ["trademark", "invention_patent", "utility_model", "design_patent"]
    right = np.where(
        tech[ent], choose(rng, kinds, [3, 2, 4, 1], k), choose(rng, kinds, [8, 0.2, 1, 0.8], k)
    )
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "right_type": right,
        "status": np.where(rng.random(k) < 0.1, "lapsed", "valid"),
    }


def software_copyrights(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    start, end = pop.active_window(tl)
    rate = np.where(is_tech(pop), 0.5, 0.01) * pop.rate_multiplier(-0.4)
    ent, days = events(rng, rate, start, end)
    names = np.char.add(np.char.add("管理系统V", rng.integers(1, 6, ent.size).astype("U1")), ".0")
    return {"uscc": pop.uscc[ent], "event_date": days, "software_name": names}


# ---------------------------------------------------------------- 10-15


def real_estate(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    owners = rng.random(pop.n) < np.array([0.04, 0.15, 0.45, 0.8])[pop.size]
    own = np.flatnonzero(owners)
    own_day = np.maximum(pop.founding[own] + rng.integers(0, 2000, own.size), pop.founding[own])
    own_day = np.minimum(own_day, tl.end)
    mort_rate = np.where(owners, 0.12 * pop.rate_multiplier(0.5), 0.0)
    ent_m, day_m = events(rng, mort_rate, start, end)
    seize_rate = np.where(owners, 0.02, 0.002) * pop.rate_multiplier(1.3)
    ent_s, day_s = events(rng, seize_rate, start, end)
    ent = np.concatenate([own, ent_m, ent_s])
    days = np.concatenate([own_day, day_m, day_s])
    kind = np.concatenate(
        [
            np.full(own.size, "ownership"),
            np.full(ent_m.size, "mortgage"),
            np.full(ent_s.size, "seizure"),
        ]
    )
    k = ent.size
    area = np.round(rng.lognormal(5.5, 0.9, k) * (1 + pop.size[ent]), 1)
    end_day = np.where(
        kind == "ownership",
        NULL_DAY,
        _removal(rng, days, np.where(kind == "mortgage", 0.6, sigmoid(pop.z[ent])), 200, 1500),
    )
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "record_type": kind,
        "area_m2": area,
        "assessed_value": np.round(area * rng.uniform(0.5, 1.5, k), 1),
        "end_date": end_day,
    }


_ADMIN = [
    # (action, base rate per year, beta: sensitivity to poor quality)
    ("licence", 0.10, 0.0),
    ("penalty", 0.05, 0.9),
    ("coercive_measure", 0.006, 1.3),
    ("reward", 0.012, -0.6),
    ("inspection", 0.10, 0.0),
    ("confirmation", 0.02, 0.0),
    ("ruling", 0.01, 0.5),
]


def admin_actions(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    ents, days, kinds = [], [], []
    for action, rate, beta in _ADMIN:
        e, d = events(rng, rate * (1 + 0.5 * pop.size) * pop.rate_multiplier(beta), start, end)
        ents.append(e)
        days.append(d)
        kinds.append(np.full(e.size, action))
    ent = np.concatenate(ents)
    kind = np.concatenate(kinds)
    k = ent.size
    fine = np.where(kind == "penalty", np.round(rng.lognormal(-0.5, 1.2, k), 2), np.nan)
    failed = rng.random(k) < sigmoid(-1.8 - 0.9 * pop.z[ent])
    result = np.where(kind == "inspection", np.where(failed, "fail", "pass"), "")
    authority = choose(
        rng, ["市场监管", "生态环境", "应急管理", "税务", "住建", "消防"], [1] * 6, k
    )
    return {
        "uscc": pop.uscc[ent],
        "event_date": np.concatenate(days),
        "action_type": kind,
        "fine_amount": fine,
        "result": result,
        "authority": authority,
    }


def utility_payments(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    qe = tl.quarter_ends()
    _, end = pop.active_window(tl)
    covered = rng.random(pop.n) < 0.85
    ent, q = quarterly_rows(covered, pop.founding, end, qe)
    k = ent.size
    level = _activity(pop, ent, qe[q], tl) / 4.0 * np.exp(rng.normal(0, 0.12, k))
    heavy = np.isin(pop.section[ent], ["C", "E", "G"])
    elec = level * np.where(heavy, 0.04, 0.01)
    water = elec * 0.15 * rng.uniform(0.5, 1.5, k)
    gas = np.where(rng.random(k) < 0.4, elec * 0.3, 0.0)
    late = rng.random(k) < sigmoid(-3.8 - 1.2 * pop.z[ent])
    share = np.where(late, rng.uniform(0.0, 0.8, k), 1.0)
    return {
        "uscc": pop.uscc[ent],
        "event_date": qe[q] + 5 + rng.integers(0, 10, k),
        "electricity_billed": np.round(elec, 3),
        "electricity_paid": np.round(elec * share, 3),
        "water_billed": np.round(water, 3),
        "water_paid": np.round(water * share, 3),
        "gas_billed": np.round(gas, 3),
        "gas_paid": np.round(gas * share, 3),
    }


def tech_records(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    start, end = pop.active_window(tl)
    tech = is_tech(pop) | (pop.section == "C")
    cert_rate = np.where(tech, 0.08, 0.002) * pop.rate_multiplier(-0.8)
    e1, d1 = events(rng, cert_rate, start, end)
    sme_rate = np.where(tech & (pop.size <= 2), 0.25, 0.0) * pop.rate_multiplier(-0.3)
    e2, d2 = events(rng, sme_rate, start, end)
    grant_rate = np.where(tech, 0.06, 0.001) * pop.rate_multiplier(-0.6)
    e3, d3 = events(rng, grant_rate, start, end)
    ent = np.concatenate([e1, e2, e3])
    days = np.concatenate([d1, d2, d3])
    kind = np.concatenate(
        [
            np.full(e1.size, "high_tech_certificate"),
            np.full(e2.size, "tech_sme"),
            np.full(e3.size, "research_grant"),
        ]
    )
    years = np.where(kind == "high_tech_certificate", 3, np.where(kind == "tech_sme", 1, 0))
    expiry = np.where(years > 0, days + (years * DAYS_PER_YEAR).astype(np.int64), NULL_DAY)
    amount = np.where(
        kind == "research_grant", np.round(rng.lognormal(3.0, 1.0, ent.size), 1), np.nan
    )
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "record_type": kind,
        "amount": amount,
        "expiry_date": expiry,
    }


def agri_entities(pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context) -> Columns:
    agri = np.flatnonzero((pop.section == "A") & (pop.coop | (rng.random(pop.n) < 0.3)))
    days = pop.founding[agri] + rng.integers(90, 1500, agri.size)
    keep = days <= tl.end
    agri, days = agri[keep], days[keep]
    kind = np.where(
        pop.coop[agri],
        "farmers_cooperative",
        choose(rng, ["family_farm", "leading_enterprise"], [4, 1], agri.size),
    )
    s = pop.z[agri] + rng.normal(0, 0.7, agri.size)
    level = np.select([s > 1.8, s > 0.9], ["national", "provincial"], default="municipal")
    return {"uscc": pop.uscc[agri], "event_date": days, "entity_type": kind, "level": level}


def public_trading(
    pop: Population, tl: Timeline, rng: np.random.Generator, ctx: Context
) -> Columns:
    start, end = pop.active_window(tl)
    bias = np.where(np.isin(pop.section, ["E", "M", "I", "N"]), 3.0, 0.6)
    rate = 0.03 * bias * (1 + pop.size) * pop.rate_multiplier(-0.5)
    ent, days = events(rng, rate, start, end)
    k = ent.size
    kind = choose(rng, ["tender_won", "government_procurement"], [1, 1], k)
    buyers = ["郑州市政府采购中心", "郑州市公共资源交易中心", "河南省政府采购中心", "区财政局"]
    return {
        "uscc": pop.uscc[ent],
        "event_date": days,
        "record_type": kind,
        "amount": np.round(pop.scale[ent] * rng.lognormal(-2.0, 1.0, k), 2),
        "buyer": choose(rng, buyers, [3, 3, 1, 2], k),
    }


GENERATORS: dict[str, Generator] = {
    "licence": licence,
    "changes": changes,
    "shareholders": shareholders,
    "branches": branches,
    "equity_pledges": equity_pledges,
    "annual_reports": annual_reports,
    "abnormal_operations": abnormal_operations,
    "serious_violations": serious_violations,
    "spot_checks": spot_checks,
    "judgments": judgments,
    "enforcements": enforcements,
    "dishonest_debtors": dishonest_debtors,
    "bankruptcies": bankruptcies,
    "tax_credit_grades": tax_credit_grades,
    "tax_abnormal": tax_abnormal,
    "tax_arrears": tax_arrears,
    "tax_payments": tax_payments,
    "fund_contributions": fund_contributions,
    "social_insurance": social_insurance,
    "environmental_ratings": environmental_ratings,
    "customs_records": customs_records,
    "ip_rights": ip_rights,
    "software_copyrights": software_copyrights,
    "real_estate": real_estate,
    "admin_actions": admin_actions,
    "utility_payments": utility_payments,
    "tech_records": tech_records,
    "agri_entities": agri_entities,
    "public_trading": public_trading,
}
"""Table name -> generator, in dependency order (annual reports before abnormal operations)."""
