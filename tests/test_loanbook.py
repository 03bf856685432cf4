"""The bank's loan book: labelled table, point-in-time bank features, labelled CSV files."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from bank_node.loanbook import load_bank_table
from bank_node.loanbook.features import BANK_FEATURES, bank_features
from bank_node.loanbook.schema import BANK_TABLES
from experiments.synthetic_city import generate_city
from models.errors import InvalidArgument, NotFound
from models.uscc import valid_mask

AS_OF = dt.date(2022, 1, 1)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("loan_city")
    generate_city(2500, seed=21, out_dir=out)
    return out


def test_one_row_per_company_first_application(city: Path) -> None:
    table = load_bank_table(city / "bank", as_of="2022-01-01")
    loans = pd.read_parquet(city / "bank" / "loans.parquet")
    dates = pd.to_datetime(loans["application_date"])
    window = loans[(dates >= pd.Timestamp("2022-01-01")) & (dates < pd.Timestamp("2023-01-01"))]
    first = window.sort_values(["application_date", "application_id"]).groupby("uscc").head(1)
    expected = dict(zip(first["uscc"], first["outcome_dpd90_12m"], strict=True))
    assert table.n_rows == len(expected) == len(set(table.ids.tolist()))
    assert table.y is not None
    assert {u: int(v) for u, v in zip(table.ids, table.y, strict=True)} == expected
    assert valid_mask(table.ids).all()
    assert set(table.feature_groups) == {"bank"}
    assert table.n_features == len(BANK_FEATURES) + 5
    assert table.meta["row_rule"].startswith("first application")
    amounts = dict(zip(first["uscc"], first["amount"], strict=True))
    col = table.feature_names.index("app_amount")
    assert all(amounts[u] == a for u, a in zip(table.ids, table.X[:, col], strict=True))


def test_bank_features_are_point_in_time(city: Path, tmp_path: Path) -> None:
    table = load_bank_table(city / "bank", as_of=AS_OF)
    usccs = table.ids
    before, names = bank_features(city / "bank", usccs, AS_OF)
    assert np.isfinite(before).any(axis=0).all()

    def add_late_records(dst: Path, when: dt.date) -> None:
        shutil.copytree(city / "bank", dst)
        rng = np.random.default_rng(0)
        for name, date_column in [
            ("loans", "application_date"),
            ("accounts", "quarter_end"),
            ("overdue_events", "event_date"),
            ("customers", "customer_since"),
        ]:
            data = pq.read_table(dst / f"{name}.parquet", schema=BANK_TABLES[name])
            rows = rng.choice(data.num_rows, size=min(400, data.num_rows), replace=False)
            extra = data.take(pa.array(rows))
            # move the copies onto modelling companies, dated `when`
            extra = extra.set_column(
                extra.schema.get_field_index("uscc"),
                "uscc",
                pa.array(rng.choice(usccs, extra.num_rows), pa.string()),
            )
            i = extra.schema.get_field_index(date_column)
            extra = extra.set_column(i, date_column, pa.array([when] * extra.num_rows, pa.date32()))
            if name == "loans":
                j = extra.schema.get_field_index("default_date")
                extra = extra.set_column(j, "default_date", extra.column(date_column))
            extra = extra.cast(BANK_TABLES[name])
            pq.write_table(pa.concat_tables([data, extra]), dst / f"{name}.parquet")

    add_late_records(tmp_path / "late", AS_OF)
    after, _ = bank_features(tmp_path / "late", usccs, AS_OF)
    assert np.array_equal(before, after, equal_nan=True)

    add_late_records(tmp_path / "early", AS_OF - dt.timedelta(days=1))
    early, _ = bank_features(tmp_path / "early", usccs, AS_OF)
    differs = ~np.all((before == early) | (np.isnan(before) & np.isnan(early)), axis=0)
    assert differs.sum() >= len(names) // 2


def test_loanbook_needs_as_of_and_a_book(city: Path, tmp_path: Path) -> None:
    with pytest.raises(InvalidArgument):
        load_bank_table(city / "bank")
    with pytest.raises(InvalidArgument):
        load_bank_table(city / "bank", as_of="01/01/2022")
    with pytest.raises(NotFound):
        load_bank_table(tmp_path, as_of="2022-01-01")
    with pytest.raises(InvalidArgument):
        bank_features(city / "bank", ["91350100M000100Y44"], AS_OF)


def test_labelled_csv_default_credit_guest(shared_data: Path) -> None:
    path = shared_data / "default_credit_hetero_guest.csv"
    table = load_bank_table(path)
    raw = pd.read_csv(path)
    assert table.n_rows == 30_000
    assert table.feature_names == [f"x{i}" for i in range(13)]
    assert table.y is not None
    assert np.array_equal(table.y, raw["y"].to_numpy(float))
    assert np.allclose(table.X, raw[table.feature_names].to_numpy())
    assert table.ids[0] == str(raw["id"].iloc[0])


def test_labelled_parquet_and_errors(tmp_path: Path) -> None:
    frame = pd.DataFrame({"key": ["a", "b", "c"], "label": [0, 1, 0], "f": [1.0, 2.0, 3.0]})
    frame.to_parquet(tmp_path / "t.parquet")
    table = load_bank_table(tmp_path / "t.parquet", id_column="key", label_column="label")
    assert table.ids.tolist() == ["a", "b", "c"] and table.feature_names == ["f"]
    frame.assign(label=[0, 2, 1]).to_csv(tmp_path / "bad_label.csv", index=False)
    with pytest.raises(InvalidArgument):
        load_bank_table(tmp_path / "bad_label.csv", id_column="key", label_column="label")
    with pytest.raises(InvalidArgument):
        load_bank_table(tmp_path / "t.parquet")  # no "id" column
    frame.assign(f=["y", "x", None]).to_csv(tmp_path / "text.csv", index=False)
    text = load_bank_table(tmp_path / "text.csv", id_column="key", label_column="label")
    assert text.categories == {"f": ("x", "y")}  # a string column is a category, coded
    assert text.X[:2, 0].tolist() == [1.0, 0.0] and np.isnan(text.X[2, 0])
    with pytest.raises(InvalidArgument, match="not feature columns"):
        load_bank_table(
            tmp_path / "text.csv",
            id_column="key",
            label_column="label",
            categorical_columns=["nope"],
        )
    with pytest.raises(NotFound):
        load_bank_table(tmp_path / "missing.csv")
