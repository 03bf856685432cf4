"""The synthetic city's "next days": daily feeds after the data end, and the defaults they herald.

Each enterprise keeps its latent credit quality ``z`` (:mod:`experiments.synthetic_city.population`,
same seed, same values). Day by day:

- an active enterprise falls into **distress** with a daily hazard ``h0 * exp(-1.3 z)``;
- records arrive in the catalogue's tables at a rate per enterprise (``records_per_day`` in
  total, split by table), more often for low ``z`` (``exp(-beta z)`` per table); a record is
  *adverse* (an open enforcement, arrears, a penalty above the threshold, a seizure, a C/D tax
  grade...) with probability ``sigmoid(a - 1.2 z)``, and the adverse tables fire
  ``distress_multiplier`` times more often, with adverse records ``p_bad_distressed`` of the
  time, once the enterprise is in distress;
- a **borrower** in distress defaults ``Gamma(3, mean_delay / 3)`` days after the onset with
  probability ``p_default_distressed``; a small share of borrowers default with no distress
  before (sudden defaults: no warning is possible).

So defaults follow events, both driven by ``z``; :func:`lead_times` measures how many days
before a default the first alert came.

Command line::

    python -m experiments.synthetic_city.next_days --enterprises 20000 --days 120 --out DIR
    python -m experiments.synthetic_city.next_days --city CITY_DIR --days 60 --ingest

With ``--city`` the population is the city's (its data card's size and seed) and the loans its
bank's open loans; ``--ingest`` appends each day's feeds to ``CITY_DIR/platform`` through the
alert ingestion path (events derived as they arrive).
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from experiments.synthetic_city.common import NULL_DAY, Timeline, day, rng_for, sigmoid, to_date
from experiments.synthetic_city.population import Population, make_population

Columns = dict[str, object]
Maker = Callable[[np.ndarray, np.ndarray, np.random.Generator], Columns]


@dataclass(frozen=True)
class NextDaysConfig:
    records_per_day: float = 0.05  # records per enterprise and day, all tables together
    distress_hazard: float = 1 / 2500  # daily hazard of distress at z = 0
    distress_multiplier: float = 12.0  # adverse tables' rate while distressed
    p_bad_distressed: float = 0.8
    p_default_distressed: float = 0.65
    mean_delay_days: float = 50.0
    sudden_default_per_day: float = 1 / 20000  # borrowers defaulting without distress


def _fine(bad: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    return np.where(bad, np.round(rng.lognormal(3.0, 0.6, bad.size), 2), 0.3)


def _quarterly_paid(bad: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    billed = np.round(rng.lognormal(1.0, 0.8, bad.size), 3)
    paid = np.round(billed * np.where(bad, rng.uniform(0.2, 0.8, bad.size), 1.0), 3)
    return billed, paid


def _utility(ent: np.ndarray, bad: np.ndarray, rng: np.random.Generator) -> Columns:
    e_b, e_p = _quarterly_paid(bad, rng)
    w_b, w_p = _quarterly_paid(np.zeros_like(bad), rng)
    return {"electricity_billed": e_b, "electricity_paid": e_p, "water_billed": w_b,
            "water_paid": w_p}  # fmt: skip


_LIFTED = dt.date(2030, 1, 1)


def _until(bad: np.ndarray) -> np.ndarray:
    """End dates: empty (still in force) for adverse records, set for the others."""
    out = np.full(bad.size, _LIFTED, dtype=object)
    out[bad] = None
    return out


def _pick(bad: np.ndarray, yes: str, no: str) -> np.ndarray:
    return np.where(bad, yes, no)


#: table -> (share of records, z-sensitivity of the rate, adverse table?, columns maker)
FLOWS: dict[str, tuple[float, float, bool, Maker]] = {
    "changes": (0.14, 0.2, False, lambda e, b, r: {"change_type": r.choice(
        ["name", "address", "legal_rep", "capital", "scope"], e.size)}),
    "judgments": (0.07, 0.8, True, lambda e, b, r: {
        "case_type": r.choice(["civil", "commercial", "labour"], e.size),
        "role": _pick(b, "defendant", "plaintiff"),
        "amount": np.round(r.lognormal(2.0, 1.0, e.size), 2)}),
    "enforcements": (0.035, 1.0, True, lambda e, b, r: {
        "amount": np.round(r.lognormal(2.5, 1.0, e.size), 2),
        "status": np.where(b, np.where(r.random(e.size) < 0.25, "terminated", "open"), "closed"),
        "closed_date": pd.NaT}),
    "dishonest_debtors": (0.006, 1.3, True, lambda e, b, r: {
        "amount": np.round(r.lognormal(2.5, 1.0, e.size), 2),
        "removal_date": _until(b)}),
    "bankruptcies": (0.0008, 1.5, True, lambda e, b, r: {
        "stage": np.where(b, "filed", "accepted")}),
    "tax_payments": (0.22, 0.0, False, lambda e, b, r: {
        "vat_payable": np.round(r.lognormal(1.0, 1.0, e.size), 3),
        "vat_paid": np.round(r.lognormal(1.0, 1.0, e.size), 3)}),
    "tax_arrears": (0.015, 1.2, True, lambda e, b, r: {
        "tax_type": r.choice(["vat", "income", "other"], e.size),
        "amount": np.round(np.where(b, r.lognormal(1.5, 1.0, e.size), 0.0), 3)}),
    "tax_credit_grades": (0.015, 0.5, True, lambda e, b, r: {
        "eval_year": np.full(e.size, 2025), "grade": np.where(
            b, r.choice(["C", "D"], e.size), r.choice(["A", "B", "M"], e.size))}),
    "tax_abnormal": (0.006, 1.2, True, lambda e, b, r: {
        "removal_date": _until(b)}),
    "social_insurance": (0.11, 0.3, True, lambda e, b, r: {
        "insured_headcount": r.integers(1, 200, e.size),
        "arrears_amount": np.round(np.where(b, r.lognormal(0.5, 0.8, e.size), 0.0), 3)}),
    "fund_contributions": (0.08, 0.3, True, lambda e, b, r: {
        "contributors": r.integers(1, 200, e.size),
        "arrears_amount": np.round(np.where(b, r.lognormal(0.0, 0.8, e.size), 0.0), 3)}),
    "utility_payments": (0.11, 0.3, True, _utility),
    "abnormal_operations": (0.008, 1.0, True, lambda e, b, r: {
        "reason": r.choice(["no_annual_report", "unreachable_address"], e.size),
        "removal_date": _until(b)}),
    "serious_violations": (0.0015, 1.3, True, lambda e, b, r: {
        "reason": np.full(e.size, "major_penalty"),
        "removal_date": _until(b)}),
    "admin_actions": (0.05, 0.6, True, lambda e, b, r: {
        "action_type": np.where(b, "penalty", r.choice(["licence", "inspection"], e.size)),
        "fine_amount": _fine(b, r), "authority": np.full(e.size, "郑州市市场监督管理局")}),
    "equity_pledges": (0.008, 0.6, True, lambda e, b, r: {
        "pledged_amount": np.round(r.lognormal(4.0, 1.0, e.size), 1),
        "release_date": _until(b)}),
    "real_estate": (0.015, 0.8, True, lambda e, b, r: {
        "record_type": np.where(b, "seizure", r.choice(["ownership", "mortgage"], e.size)),
        "area_m2": np.round(r.lognormal(5.0, 0.8, e.size), 1)}),
    "spot_checks": (0.03, 0.2, False, lambda e, b, r: {
        "result": r.choice(["pass", "fail"], e.size, p=[0.9, 0.1]),
        "authority": np.full(e.size, "郑州市市场监督管理局")}),
    "ip_rights": (0.02, -0.4, False, lambda e, b, r: {
        "right_type": r.choice(["trademark", "utility_model"], e.size),
        "status": np.full(e.size, "valid")}),
    "public_trading": (0.02, -0.4, False, lambda e, b, r: {
        "record_type": np.full(e.size, "tender_won"),
        "amount": np.round(r.lognormal(3.0, 1.0, e.size), 1)}),
}  # fmt: skip


@dataclass
class Loans:
    """The watched loan book: one row per loan (borrower index into the population)."""

    loan_id: np.ndarray
    borrower: np.ndarray
    start: np.ndarray  # day numbers
    end: np.ndarray
    default_day: np.ndarray  # NULL_DAY until it defaults


@dataclass
class DayFeeds:
    date: dt.date
    feeds: dict[str, pd.DataFrame]
    new_defaults: np.ndarray  # loan indices that defaulted this day

    @property
    def records(self) -> int:
        return sum(len(f) for f in self.feeds.values())


class CityDays:
    """Simulates the next days of a population (see the module docstring)."""

    def __init__(
        self,
        pop: Population,
        loans: Loans,
        first_day: dt.date,
        seed: int,
        config: NextDaysConfig | None = None,
    ) -> None:
        self.pop = pop
        self.loans = loans
        self.config = config or NextDaysConfig()
        self.day = day(first_day)
        self.rng = rng_for(seed, f"next_days/{first_day.isoformat()}")
        self.onset = np.full(pop.n, NULL_DAY, np.int64)
        self.alive = pop.dereg == NULL_DAY
        self.due = np.full(loans.loan_id.size, NULL_DAY, np.int64)  # drawn at distress onset
        shares = np.array([f[0] for f in FLOWS.values()])
        self.shares = shares / shares.sum()
        self.hazard = self.config.distress_hazard * np.exp(-1.3 * pop.z)

    def expected_records(self) -> float:
        """Expected records of the next day (all tables), given who is in distress now."""
        c, z = self.config, self.pop.z[self.alive]
        distressed = (self.onset != NULL_DAY)[self.alive]
        total = 0.0
        for (_name, (_s, beta, adverse, _make)), share in zip(
            FLOWS.items(), self.shares, strict=True
        ):
            rate = c.records_per_day * share * np.exp(-beta * z - beta * beta / 2)
            if adverse:
                rate = np.where(distressed, rate * c.distress_multiplier, rate)
            total += float(rate.sum())
        return total

    def _distress(self) -> None:
        c, rng = self.config, self.rng
        fresh = self.alive & (self.onset == NULL_DAY) & (rng.random(self.pop.n) < self.hazard)
        self.onset[fresh] = self.day
        new = np.flatnonzero(fresh[self.loans.borrower] & (self.due == NULL_DAY))
        defaults = rng.random(new.size) < c.p_default_distressed
        delay = rng.gamma(3.0, c.mean_delay_days / 3.0, new.size).astype(np.int64) + 1
        self.due[new[defaults]] = self.day + delay[defaults]

    def step(self) -> DayFeeds:
        """One day: distress, records of every table, defaults."""
        c, rng, pop = self.config, self.rng, self.pop
        self._distress()
        distressed = self.onset != NULL_DAY
        date = to_date(self.day)
        feeds: dict[str, pd.DataFrame] = {}
        alive = np.flatnonzero(self.alive)
        for (name, (_share, beta, adverse, make)), share in zip(
            FLOWS.items(), self.shares, strict=True
        ):
            rate = c.records_per_day * share * np.exp(-beta * pop.z[alive] - beta * beta / 2)
            if adverse:
                rate = np.where(distressed[alive], rate * c.distress_multiplier, rate)
            count = rng.poisson(rate)
            ent = np.repeat(alive, count)
            if ent.size == 0:
                continue
            p_bad = np.where(distressed[ent], c.p_bad_distressed, sigmoid(-3.2 - 1.2 * pop.z[ent]))
            bad = rng.random(ent.size) < p_bad
            cols: Columns = {"uscc": pop.uscc[ent], "event_date": np.full(ent.size, date)}
            cols.update(make(ent, bad, rng))
            feeds[name] = pd.DataFrame(cols)
        loans = self.loans
        open_ = (
            (loans.default_day == NULL_DAY) & (loans.start <= self.day) & (loans.end >= self.day)
        )
        due = open_ & (self.due == self.day)
        sudden = open_ & ~due & (rng.random(loans.loan_id.size) < c.sudden_default_per_day)
        hit = np.flatnonzero(due | sudden)
        loans.default_day[hit] = self.day
        self.day += 1
        return DayFeeds(date, feeds, hit)

    def run(self, days: int) -> Iterator[DayFeeds]:
        for _ in range(days):
            yield self.step()


def synthetic_loans(pop: Population, n_loans: int, first_day: dt.date, seed: int) -> Loans:
    """A loan book of ``n_loans`` active borrowers (one loan each), started before the first
    day and running a year past it."""
    rng = rng_for(seed, "next_days/loans")
    alive = np.flatnonzero(pop.dereg == NULL_DAY)
    borrower = np.sort(rng.choice(alive, size=min(n_loans, alive.size), replace=False))
    d0 = day(first_day)
    start = d0 - rng.integers(1, 365, borrower.size)
    return Loans(
        loan_id=np.array([f"NL{i:07d}" for i in range(borrower.size)]),
        borrower=borrower,
        start=start,
        end=start + 365 + 365,
        default_day=np.full(borrower.size, NULL_DAY, np.int64),
    )


def city_loans(city: Path, pop: Population, first_day: dt.date) -> Loans:
    """The city bank's loans (``application_id``) still running on the first day (term not
    over, no default before it)."""
    frame = pd.read_parquet(city / "bank" / "loans.parquet")
    start = pd.to_datetime(frame["application_date"])
    days_start = ((start - pd.Timestamp("1970-01-01")).dt.days).to_numpy(np.int64)
    days_end = days_start + (frame["term_months"].to_numpy(np.int64) * 30.44).astype(np.int64)
    defaulted = pd.to_datetime(frame["default_date"])
    d0 = day(first_day)
    keep = (
        (days_start < d0)
        & (days_end > d0)
        & (defaulted.isna() | (defaulted >= pd.Timestamp(first_day))).to_numpy()
    )
    index = pd.Index(pop.uscc)
    borrower = index.get_indexer(frame["uscc"].to_numpy()[keep])
    return Loans(
        loan_id=frame["application_id"].astype(str).to_numpy()[keep],
        borrower=borrower.astype(np.int64),
        start=days_start[keep],
        end=days_end[keep],
        default_day=np.full(int(keep.sum()), NULL_DAY, np.int64),
    )


@dataclass(frozen=True)
class LeadTimes:
    loans: int
    defaults: int
    defaults_with_alert_before: int
    lead_days_median: float | None
    lead_days_mean: float | None
    lead_days_p25: float | None
    lead_days_p75: float | None
    loans_alerted: int
    default_rate_alerted: float | None
    default_rate_not_alerted: float | None

    def to_dict(self) -> dict[str, object]:
        return dict(self.__dict__)


def lead_times(loans: Loans, first_alert_day: np.ndarray) -> LeadTimes:
    """Days between the first alert of a loan's borrower (while the loan was watched) and the
    loan's default; ``first_alert_day[i]`` is NULL_DAY when loan ``i`` had no alert."""
    defaulted = loans.default_day != NULL_DAY
    alerted = first_alert_day != NULL_DAY
    warned = defaulted & alerted & (first_alert_day <= loans.default_day)
    lead = (loans.default_day - first_alert_day)[warned].astype(float)

    def q(p: float) -> float | None:
        return float(np.percentile(lead, p)) if lead.size else None

    def rate(mask: np.ndarray) -> float | None:
        return float(defaulted[mask].mean()) if mask.any() else None

    return LeadTimes(
        loans=int(loans.loan_id.size),
        defaults=int(defaulted.sum()),
        defaults_with_alert_before=int(warned.sum()),
        lead_days_median=q(50),
        lead_days_mean=float(lead.mean()) if lead.size else None,
        lead_days_p25=q(25),
        lead_days_p75=q(75),
        loans_alerted=int(alerted.sum()),
        default_rate_alerted=rate(alerted),
        default_rate_not_alerted=rate(~alerted),
    )


def simulate_lead_times(
    n_enterprises: int,
    n_loans: int,
    days: int,
    seed: int = 0,
    *,
    min_severity: int = 2,
    config: NextDaysConfig | None = None,
) -> LeadTimes:
    """Run the next days and derive every day's events (the platform's rules, in memory);
    a loan's first alert is its borrower's first event of at least ``min_severity``."""
    from platform_node.alerts.events import EVENT_TABLES, derive_events
    from platform_node.catalogue.schema import table
    from platform_node.catalogue.store import conform

    first = dt.date(2024, 1, 1)
    pop = make_population(n_enterprises, seed, Timeline(dt.date(2022, 1, 1)))
    loans = synthetic_loans(pop, n_loans, first, seed)
    sim = CityDays(pop, loans, first, seed, config)
    first_alert = np.full(pop.n, NULL_DAY, np.int64)
    index = pd.Index(pop.uscc)
    grades: dict[str, str] = {}
    for feeds in sim.run(days):
        d = day(feeds.date)
        for name, frame in feeds.feeds.items():
            if name not in EVENT_TABLES:
                continue
            records = conform(table(name), frame)
            ev = derive_events(
                name,
                records,
                grades=lambda u: np.array([grades.get(str(c), "") for c in u], dtype=object),
            )
            if name == "tax_credit_grades":
                grades.update(zip(frame["uscc"].tolist(), frame["grade"].tolist(), strict=True))
            if len(ev) == 0:
                continue
            ent = index.get_indexer(ev.uscc[ev.severity >= min_severity])
            ent = ent[first_alert[ent] == NULL_DAY]
            first_alert[ent] = d
    per_loan = first_alert[loans.borrower]
    return lead_times(loans, per_loan)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--enterprises", type=int, default=20000)
    parser.add_argument("--loans", type=int, default=4000)
    parser.add_argument("--days", type=int, default=120)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--city", type=Path, default=None, help="a generated city directory")
    parser.add_argument("--ingest", action="store_true", help="append feeds to CITY/platform")
    parser.add_argument("--out", type=Path, default=None, help="write lead times JSON here")
    args = parser.parse_args(argv)
    if args.city is None:
        result = simulate_lead_times(args.enterprises, args.loans, args.days, args.seed)
        text = json.dumps(result.to_dict(), indent=2)
        print(text)
        if args.out is not None:
            args.out.write_text(text + "\n", encoding="utf-8")
        return 0
    card = json.loads((args.city / "data_card.json").read_text(encoding="utf-8"))
    tl = Timeline(dt.date.fromisoformat(card["as_of"]))
    pop = make_population(int(card["enterprises"]), int(card["seed"]), tl)
    first = to_date(tl.end) + dt.timedelta(days=1)
    loans = city_loans(args.city, pop, first)
    sim = CityDays(pop, loans, first, int(card["seed"]))
    ingestor = None
    if args.ingest:
        from platform_node.alerts.ingest import AlertIngestor

        ingestor = AlertIngestor(args.city / "platform")
    for feeds in sim.run(args.days):
        events = 0
        if ingestor is not None:
            for name, frame in feeds.feeds.items():
                events += ingestor.ingest(name, frame, source="next_days").events
        print(f"{feeds.date} records {feeds.records} events {events} "
              f"defaults {feeds.new_defaults.size}")  # fmt: skip
    out = args.city / "next_days"
    out.mkdir(exist_ok=True)
    defaulted = loans.default_day != NULL_DAY
    pd.DataFrame({
        "loan_id": loans.loan_id[defaulted],
        "uscc": pop.uscc[loans.borrower[defaulted]],
        "default_date": [to_date(d) for d in loans.default_day[defaulted]],
    }).to_parquet(out / "defaults.parquet")  # fmt: skip
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
