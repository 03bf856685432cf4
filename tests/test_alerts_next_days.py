"""The next-days mode: daily feeds driven by the latent quality, defaults that follow events,
and the lead time alerts give (small and fast; the full run is in experiments/)."""

from __future__ import annotations

import datetime as dt

import numpy as np

from experiments.synthetic_city.common import NULL_DAY, Timeline
from experiments.synthetic_city.next_days import (
    FLOWS,
    CityDays,
    NextDaysConfig,
    simulate_lead_times,
    synthetic_loans,
)
from experiments.synthetic_city.population import make_population
from models.uscc import valid_mask
from platform_node.catalogue.schema import TABLES

FAST = NextDaysConfig(distress_hazard=1 / 150, mean_delay_days=12.0)


def test_daily_feeds_fit_the_catalogue_and_follow_the_latent_quality() -> None:
    assert set(FLOWS) <= set(TABLES)
    pop = make_population(3000, 1, Timeline(dt.date(2022, 1, 1)))
    loans = synthetic_loans(pop, 500, dt.date(2024, 1, 1), 1)
    sim = CityDays(pop, loans, dt.date(2024, 1, 1), 1, FAST)
    first = [sim.step() for _ in range(3)]
    again = CityDays(pop, synthetic_loans(pop, 500, dt.date(2024, 1, 1), 1),
                     dt.date(2024, 1, 1), 1, FAST)  # fmt: skip
    assert [f.records for f in first] == [again.step().records for _ in range(3)]  # seeded
    day0 = first[0]
    assert day0.date == dt.date(2024, 1, 1) and day0.records > 0
    for name, frame in day0.feeds.items():
        assert set(frame.columns) <= {f.name for f in TABLES[name].all_fields}
        assert valid_mask(frame["uscc"].to_numpy()).all()
    # distressed enterprises have lower latent quality
    distressed = sim.onset != NULL_DAY
    assert distressed.any() and pop.z[distressed].mean() < pop.z[~distressed].mean()


def test_defaults_follow_alerts_with_a_lead_time() -> None:
    result = simulate_lead_times(2000, 800, 25, seed=2, config=FAST)
    assert result.defaults >= 10
    assert result.defaults_with_alert_before >= result.defaults // 2
    assert result.lead_days_median is not None and result.lead_days_median > 3
    assert result.default_rate_alerted is not None and result.default_rate_not_alerted is not None
    assert result.default_rate_alerted > 3 * result.default_rate_not_alerted
    assert np.isfinite(result.lead_days_mean or 0.0)
