"""Risk events derived from feeds: the mapping, invalid USCCs rejected and counted, interface-call
feeds, crash recovery of a stored part, the baseline of an existing catalogue."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pyarrow as pa
import pytest

from models.errors import InvalidArgument
from platform_node.alerts.events import EVENT_TABLES, EventType, derive_events
from platform_node.alerts.ingest import AlertIngestor
from platform_node.catalogue.schema import table
from platform_node.catalogue.store import CatalogueStore, conform
from tests.alerts_support import codes, enforcement_feed

D = pd.Timestamp("2026-11-02").date()


def _feed(name: str, rows: list[dict[str, object]]) -> pa.Table:
    return conform(table(name), pd.DataFrame([{"event_date": D, **r} for r in rows]))


def test_each_rule_maps_records_to_typed_events() -> None:
    c = codes(4)
    cases: list[tuple[str, list[dict[str, object]], list[str]]] = [
        ("enforcements", [{"uscc": c[0], "status": "open"}, {"uscc": c[1], "status": "closed"},
                          {"uscc": c[2], "status": "terminated"}],
         ["enforcement_new", "enforcement_terminated"]),
        ("dishonest_debtors", [{"uscc": c[0]}, {"uscc": c[1], "removal_date": D}],
         ["dishonest_debtor"]),
        ("bankruptcies", [{"uscc": c[0], "stage": "filed"}], ["bankruptcy"]),
        ("tax_arrears", [{"uscc": c[0], "amount": 3.0}, {"uscc": c[1], "amount": 0.0}],
         ["tax_arrears"]),
        ("tax_abnormal", [{"uscc": c[0]}], ["abnormal_taxpayer"]),
        ("social_insurance", [{"uscc": c[0], "arrears_amount": 1.5},
                              {"uscc": c[1], "arrears_amount": 0.0}],
         ["social_insurance_arrears"]),
        ("fund_contributions", [{"uscc": c[0], "arrears_amount": 0.4}], ["housing_fund_arrears"]),
        ("utility_payments", [{"uscc": c[0], "electricity_billed": 10.0, "electricity_paid": 5.0},
                              {"uscc": c[1], "electricity_billed": 10.0,
                               "electricity_paid": 10.0}],
         ["utility_arrears"]),
        ("abnormal_operations", [{"uscc": c[0], "reason": "unreachable_address"}],
         ["abnormal_operation"]),
        ("serious_violations", [{"uscc": c[0]}], ["serious_violation"]),
        ("admin_actions", [{"uscc": c[0], "action_type": "penalty", "fine_amount": 12.0},
                           {"uscc": c[1], "action_type": "penalty", "fine_amount": 0.5},
                           {"uscc": c[2], "action_type": "licence"}],
         ["penalty"]),
        ("licence", [{"uscc": c[0], "status": "deregistered"}, {"uscc": c[1], "status": "active"}],
         ["deregistration"]),
        ("equity_pledges", [{"uscc": c[0], "pledged_amount": 100.0}], ["equity_pledge"]),
        ("real_estate", [{"uscc": c[0], "record_type": "seizure"},
                         {"uscc": c[1], "record_type": "mortgage"}],
         ["real_estate_seizure"]),
    ]  # fmt: skip
    seen = set()
    for name, rows, expected in cases:
        ev = derive_events(name, _feed(name, rows))
        assert sorted(ev.event_type.tolist()) == sorted(expected), name
        seen.update(expected)
        seen.add(name)
    grades = derive_events(
        "tax_credit_grades",
        _feed("tax_credit_grades", [{"uscc": c[0], "grade": "C"}, {"uscc": c[1], "grade": "B"},
                                    {"uscc": c[2], "grade": "M"}]),
        grades=lambda u: pd.Series(u).map({c[2]: "A"}).fillna("").to_numpy(dtype=object),
    )  # fmt: skip
    # C with no history is a downgrade; B with none is not; M after A is
    assert sorted(grades.uscc.tolist()) == sorted([c[0], c[2]])
    seen.update({"tax_grade_downgrade", "tax_credit_grades"})
    assert {t.value for t in EventType} <= seen
    assert set(EVENT_TABLES) <= seen
    # tables outside the mapping raise nothing
    assert len(derive_events("judgments", _feed("judgments", [{"uscc": c[0]}]))) == 0


def test_invalid_codes_rejected_and_counted(tmp_path: Path) -> None:
    good = codes(3)
    bad = [good[0][:17], good[1][:-1] + ("0" if good[1][-1] != "0" else "1"), "not-a-code"]
    ing = AlertIngestor(tmp_path)
    report = ing.ingest("enforcements", enforcement_feed(good + bad), source="court feed")
    assert (report.received, report.accepted, report.rejected_invalid_code) == (6, 3, 3)
    assert report.events == 3
    assert {e.uscc for e in ing.store.events()} == set(good)
    # interface-call feeds (tax) are validated the same way; only their events are kept
    tax = pd.DataFrame({"uscc": [good[2], "91410100XXXXXXXXXX"], "event_date": [D, D],
                        "amount": [2.0, 2.0]})  # fmt: skip
    r2 = ing.ingest("tax_arrears", tax)
    assert (r2.accepted, r2.rejected_invalid_code, r2.events) == (1, 1, 1)
    assert not CatalogueStore(tmp_path).parts("tax_arrears")
    totals = ing.store.feed_totals()
    assert totals["rejected_invalid_code"] == 4 and totals["events"] == 4
    with pytest.raises(InvalidArgument):
        ing.ingest("enforcements", pd.DataFrame({"uscc": good, "event_date": [D] * 3,
                                                  "secret_column": [1, 2, 3]}))  # fmt: skip


def test_same_record_twice_and_crash_between_part_and_events(tmp_path: Path) -> None:
    c = codes(5, seed=9)
    cat = CatalogueStore(tmp_path)
    cat.ingest("enforcements", enforcement_feed(c[:2], day="2020-01-01"))  # history
    ing = AlertIngestor(tmp_path)  # baseline: existing parts raise nothing
    assert ing.store.event_count() == 0
    # a part written without its events (as if the platform died in between)
    cat.ingest("enforcements", enforcement_feed(c, day="2026-11-05"))
    assert ing.derive_pending() == 5
    assert ing.derive_pending() == 0
    # the same feed delivered again is the same events (ids are content-derived)
    ids_before = {e.event_id for e in ing.store.events()}
    ing.ingest("tax_arrears", pd.DataFrame({"uscc": c[:1], "event_date": [D], "amount": [1.0]}))
    ing.ingest("tax_arrears", pd.DataFrame({"uscc": c[:1], "event_date": [D], "amount": [1.0]}))
    assert ing.store.event_count() == 6
    assert ids_before <= {e.event_id for e in ing.store.events()}


def test_feed_of_only_invalid_codes_is_counted(tmp_path: Path) -> None:
    ing = AlertIngestor(tmp_path)
    report = ing.ingest("enforcements", enforcement_feed(["bad-1", "bad-2"]))
    assert (report.accepted, report.rejected_invalid_code, report.events) == (0, 2, 0)
    assert ing.store.feed_totals()["rejected_invalid_code"] == 2


def test_watch_expiry_stops_delivery(tmp_path: Path) -> None:
    import datetime as dt

    from models.audit.entry import Actor
    from models.errors import InvalidArgument as Invalid
    from models.federation.party import Caller
    from platform_node.alerts.service import AlertDelivery
    from platform_node.consent.registry import ConsentRegistry
    from proto.fedcredit.v1 import alerts_pb2
    from proto.transport.node_audit import open_node_audit_log

    now = [dt.datetime(2026, 11, 1, tzinfo=dt.UTC)]
    audit = open_node_audit_log(tmp_path, "platform", "platform")
    consent = ConsentRegistry.in_data_dir(
        tmp_path, audit, actor=Actor("op", "platform"), clock=lambda: now[0]
    )
    a = codes(1, seed=31)[0]
    consent.grant(a, "bank-a", "post_loan_monitoring", now[0] + dt.timedelta(days=300))
    ing = AlertIngestor(tmp_path)
    delivery = AlertDelivery(ing.store, consent, audit, clock=lambda: now[0])
    bank = Caller("bank-a", "bank")
    entry = alerts_pb2.WatchEntry(loan_id="L1", uscc=a, start_date="2026-10-01",
                                  end_date="2026-11-30")  # fmt: skip
    delivery.register(bank, entry)
    with pytest.raises(Invalid):  # an already-finished loan is not watched
        delivery.register(bank, alerts_pb2.WatchEntry(
            loan_id="L2", uscc=a, start_date="2026-01-01", end_date="2026-02-01"))  # fmt: skip
    ing.ingest("enforcements", enforcement_feed([a], day="2026-11-02"))
    assert [len(rows) for rows, _ in delivery.batches("bank-a", 0)] == [1]
    now[0] = dt.datetime(2026, 12, 5, tzinfo=dt.UTC)  # the loan ended on 30 November
    ing.ingest("enforcements", enforcement_feed([a], day="2026-12-04"))
    batches = list(delivery.batches("bank-a", 1))
    assert [len(rows) for rows, _ in batches] == [0] and batches[0][1] == 2
    assert ing.store.watches("bank-a") == []
    stopped = ing.store.watches("bank-a", active_only=False)
    assert [w.stop_reason for w in stopped] == ["expired"]
    consent.close()


def test_catalogue_version_changes_with_each_feed(tmp_path: Path) -> None:
    """Scoring caches key their tables on it: a re-score after an alert sees the new record."""
    from platform_node.data_provider import PlatformDataProvider

    provider = PlatformDataProvider(tmp_path)
    ing = AlertIngestor(tmp_path)
    before = provider.data_version("catalogue")
    ing.ingest("enforcements", enforcement_feed(codes(2, seed=41)))
    after = provider.data_version("catalogue")
    assert after != before
    ing.ingest("enforcements", enforcement_feed(codes(2, seed=42)))
    assert provider.data_version("catalogue") != after
