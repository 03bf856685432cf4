"""The catalogue as code, the store's ingestion, authorisations and provider adapters."""

from __future__ import annotations

import datetime as dt
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from models.errors import InvalidArgument
from models.uscc import generate_usccs
from platform_node.catalogue.providers import AuthorisationRegistry, ParquetProviderAdapter
from platform_node.catalogue.schema import (
    CATEGORIES,
    TABLES,
    FieldType,
    Sensitivity,
    SharingMode,
    interface_call_tables,
)
from platform_node.catalogue.store import CatalogueStore
from platform_node.features.definitions import FEATURES

EXPECTED_KEYS = [
    "registration", "judicial", "tax", "housing_fund", "social_insurance", "environment",
    "customs", "ip", "software_copyright", "real_estate", "administrative", "utilities",
    "technology", "agriculture", "public_resources",
]  # fmt: skip


def test_fifteen_categories_in_list_order() -> None:
    assert [c.number for c in CATEGORIES] == list(range(1, 16))
    assert [c.key for c in CATEGORIES] == EXPECTED_KEYS
    for c in CATEGORIES:
        assert c.tables, c.key
        for t in c.tables:
            names = [f.name for f in t.all_fields]
            assert names[:2] == ["uscc", "event_date"]
            assert len(names) == len(set(names)), t.name
            assert t.arrow_schema().field("event_date").type == pa.date32()


def test_both_sharing_modes_and_all_sensitivities_are_used() -> None:
    modes = {c.sharing for c in CATEGORIES}
    assert modes == set(SharingMode)
    levels = {f.sensitivity for t in TABLES.values() for f in t.fields}
    assert levels == set(Sensitivity)
    assert TABLES["licence"].field("legal_rep_id_number").sensitivity is Sensitivity.PERSONAL


def test_registration_fields_cover_the_list() -> None:
    licence = {f.name for f in TABLES["licence"].fields}
    assert {"name", "legal_rep_name", "founding_date", "address", "status"} <= licence
    assert {"registration_authority", "industry_code", "registered_capital"} <= licence
    annual = {f.name for f in TABLES["annual_reports"].fields}
    money = {"total_assets", "owners_equity", "revenue", "total_profit", "net_profit"}
    assert money | {"tax_paid", "liabilities", "guarantees_given", "employees"} <= annual
    assert TABLES["annual_reports"].field("employees").type is FieldType.INT


def test_no_feature_reads_a_personal_field() -> None:
    for f in FEATURES:
        spec = TABLES[f.table]
        assert f.inputs, f.name
        for column in f.inputs:
            assert spec.field(column).sensitivity is not Sensitivity.PERSONAL, f.name


# ---------------------------------------------------------------------------- ingestion


def _feed(codes: list[str], start: str = "2021-01-01") -> pd.DataFrame:
    first = dt.date.fromisoformat(start)
    return pd.DataFrame(
        {
            "uscc": codes,
            "event_date": [first + dt.timedelta(days=i) for i in range(len(codes))],
            "case_type": ["civil"] * len(codes),
            "role": ["defendant"] * len(codes),
            "amount": np.arange(len(codes), dtype=float),
        }
    )


def test_feed_with_invalid_codes_is_partly_ingested(tmp_path: Path) -> None:
    good = generate_usccs(50, np.random.default_rng(0))
    bad = [good[0][:17] + ("1" if good[0][17] != "1" else "2"), good[1][:17], "", "not a code"]
    feed = _feed(good + bad)
    feed.loc[3, "event_date"] = None  # one valid code without a date
    store = CatalogueStore(tmp_path)
    report = store.ingest("judgments", feed, source="court feed")
    assert report.received == 54
    assert report.rejected_invalid_code == 4
    assert report.rejected_missing_date == 1
    assert report.accepted == 49
    stored = store.read("judgments")
    assert stored.num_rows == 49
    assert set(stored.column("uscc").to_pylist()) == set(good) - {good[3]}
    log = store.ingest_log()
    assert log[-1] == report
    line = (tmp_path / "catalogue" / "ingest_log.jsonl").read_text()
    assert all(code not in line for code in bad[:2])
    assert json.loads(line.splitlines()[-1])["source"] == "court feed"


def test_ingestion_appends_parts(tmp_path: Path) -> None:
    codes = generate_usccs(10, np.random.default_rng(1))
    store = CatalogueStore(tmp_path)
    store.ingest("judgments", _feed(codes[:6]))
    store.ingest("judgments", _feed(codes[6:]))
    assert len(store.parts("judgments")) == 2
    assert store.row_count("judgments") == 10
    assert store.tables_present() == ["judgments"]
    con = store.connect()
    assert con.execute("SELECT count(*) FROM judgments").fetchone() == (10,)
    assert con.execute("SELECT count(*) FROM enforcements").fetchone() == (0,)


def test_feed_schema_violations_raise(tmp_path: Path) -> None:
    store = CatalogueStore(tmp_path)
    codes = generate_usccs(3, np.random.default_rng(2))
    with pytest.raises(InvalidArgument, match="required column"):
        store.ingest("judgments", _feed(codes).drop(columns=["event_date"]))
    with pytest.raises(InvalidArgument, match="outside the catalogue schema"):
        store.ingest("judgments", _feed(codes).assign(extra=1))
    with pytest.raises(InvalidArgument, match="not of type"):
        store.ingest("judgments", _feed(codes).assign(amount=["x", "y", "z"]))
    with pytest.raises(InvalidArgument, match="interface-call"):
        store.ingest("tax_payments", pd.DataFrame({"uscc": codes, "event_date": [None] * 3}))
    with pytest.raises(InvalidArgument):
        store.ingest("no_such_table", _feed(codes))


# ---------------------------------------------------------------------------- interface calls


def test_authorisations_and_provider_fetch(tmp_path: Path) -> None:
    codes = generate_usccs(6, np.random.default_rng(4))
    registry = AuthorisationRegistry(tmp_path)
    registry.record(codes[:3], "bank-a", dt.date(2022, 3, 1))
    registry.record(codes[2:4], "bank-b", dt.date(2022, 3, 1))
    registry.revoke(codes[1], "bank-a", dt.date(2022, 6, 1))
    assert registry.authorised("bank-a", codes).tolist() == [1, 0, 1, 0, 0, 0]
    assert registry.authorised("bank-b", codes).tolist() == [0, 0, 1, 1, 0, 0]
    with pytest.raises(InvalidArgument):
        registry.record([codes[0][:17]], "bank-a", dt.date(2022, 3, 1))

    spec = TABLES["tax_arrears"]
    data = pa.Table.from_pydict(
        {
            "uscc": codes,
            "event_date": [dt.date(2021, 5, 1)] * 6,
            "tax_type": ["vat"] * 6,
            "amount": [1.0] * 6,
            "cleared_date": [None] * 6,
        },
        schema=spec.arrow_schema(),
    )
    adapter = ParquetProviderAdapter(tmp_path)
    adapter.publish("tax_arrears", data)
    got = adapter.fetch("tax_arrears", np.array(codes[:2]))
    assert sorted(got.column("uscc").to_pylist()) == sorted(codes[:2])
    assert adapter.fetch("tax_payments", np.array(codes)).num_rows == 0  # nothing published
    with pytest.raises(InvalidArgument):
        adapter.fetch("judgments", np.array(codes))  # physical table: not an interface call
    with pytest.raises(InvalidArgument):
        adapter.fetch("tax_arrears", np.array(["bad"]))


def test_interface_call_tables_are_the_agency_categories() -> None:
    cats = {c.key for c in CATEGORIES if c.sharing is SharingMode.INTERFACE_CALL}
    assert cats == {"tax", "housing_fund", "social_insurance", "utilities"}
    assert "tax_payments" in interface_call_tables()
