"""PlatformDataProvider: the catalogue dataset and served CSV/Parquet tables."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from experiments.synthetic_city import generate_city
from models.errors import InvalidArgument, NotFound
from models.federation.party import Caller
from models.uscc import valid_mask
from platform_node.catalogue.schema import CATEGORIES, TABLES, Sensitivity
from platform_node.data_provider import PlatformDataProvider, ServedTable

BANK_A = Caller("bank-a", "bank")
BANK_B = Caller("bank-b", "bank")


@pytest.fixture(scope="module")
def platform_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("provider_city")
    generate_city(1200, seed=31, out_dir=out)
    return out / "platform"


def test_served_csv_host_table(shared_data: Path) -> None:
    path = shared_data / "default_credit_hetero_host.csv"
    provider = PlatformDataProvider(
        Path("/nonexistent"), {"default_credit": ServedTable(path, "id")}
    )
    table = provider.load("default_credit", BANK_A, {})
    raw = pd.read_csv(path)
    assert table.n_rows == 30_000
    assert table.feature_names == [f"x{i}" for i in range(10)]
    assert set(table.feature_groups) == {"served"}
    assert table.y is None
    assert table.ids.tolist() == raw["id"].astype(str).tolist()
    assert np.allclose(table.X, raw[table.feature_names].to_numpy())
    # a second load is served from the cache, as an independent copy
    again = provider.load("default_credit", BANK_A, {})
    again.X[0, 0] = 1e9
    assert provider.load("default_credit", BANK_A, {}).X[0, 0] == table.X[0, 0]


def test_served_parquet_with_excluded_columns(tmp_path: Path) -> None:
    frame = pd.DataFrame(
        {"id": ["u1", "u2"], "owner_id_number": [1, 2], "a": [0.5, 1.5], "b": [1, 0]}
    )
    frame.to_parquet(tmp_path / "t.parquet")
    spec = ServedTable.from_dict(
        {
            "path": str(tmp_path / "t.parquet"),
            "id_column": "id",
            "exclude_columns": ["owner_id_number"],
        }
    )
    table = PlatformDataProvider(tmp_path, {"t": spec}).load("t", BANK_A, {})
    assert table.feature_names == ["a", "b"]
    frame.assign(a=["x", "y"]).to_csv(tmp_path / "text.csv", index=False)
    text = PlatformDataProvider(tmp_path, {"t": ServedTable(tmp_path / "text.csv", "id")})
    assert text.load("t", BANK_A, {}).categories == {"a": ("x", "y")}  # encoded on the platform
    bad = PlatformDataProvider(
        tmp_path, {"t": ServedTable(tmp_path / "text.csv", "id", categorical_columns=("zz",))}
    )
    with pytest.raises(InvalidArgument):
        bad.load("t", BANK_A, {})
    with pytest.raises(InvalidArgument):
        ServedTable.from_dict({"path": "x.csv"})
    with pytest.raises(NotFound):
        PlatformDataProvider(tmp_path, {"t": ServedTable(tmp_path / "no.csv", "id")}).load(
            "t", BANK_A, {}
        )


def test_catalogue_dataset(platform_dir: Path) -> None:
    provider = PlatformDataProvider(platform_dir, threads=2)
    table = provider.load("catalogue", BANK_A, {"as_of": "2022-01-01"})
    assert valid_mask(table.ids).all()
    assert len(set(table.ids.tolist())) == table.n_rows > 500
    assert set(table.feature_groups) == {c.key for c in CATEGORIES}
    assert table.y is None
    assert table.meta["as_of"] == "2022-01-01"
    personal = {
        f.name for t in TABLES.values() for f in t.fields if f.sensitivity is Sensitivity.PERSONAL
    }
    assert not any(p in name for name in table.feature_names for p in personal)
    # enterprises founded later are not in the table of an earlier as-of date
    earlier = provider.load("catalogue", BANK_A, {"as_of": "2020-01-01"})
    assert set(earlier.ids.tolist()) < set(table.ids.tolist())


def test_catalogue_categories_and_caller(platform_dir: Path) -> None:
    provider = PlatformDataProvider(platform_dir, threads=2)
    params = {"as_of": "2022-01-01", "categories": "judicial, tax"}
    a = provider.load("catalogue", BANK_A, params)
    b = provider.load("catalogue", BANK_B, params)
    assert set(a.feature_groups) == {"judicial", "tax"}
    tax = np.array([g == "tax" for g in a.feature_groups])
    assert np.isfinite(a.X[:, tax]).any()
    assert np.isnan(b.X[:, tax]).all()  # bank-b holds no authorisation
    assert np.array_equal(a.X[:, ~tax], b.X[:, ~tax], equal_nan=True)


def test_catalogue_bad_requests(platform_dir: Path) -> None:
    provider = PlatformDataProvider(platform_dir)
    with pytest.raises(InvalidArgument):
        provider.load("catalogue", BANK_A, {})
    with pytest.raises(InvalidArgument):
        provider.load("catalogue", BANK_A, {"as_of": "2022-01-01", "categories": "nope"})
    with pytest.raises(NotFound):
        provider.load("other", BANK_A, {})
    with pytest.raises(InvalidArgument):
        PlatformDataProvider(platform_dir, {"catalogue": ServedTable(Path("x.csv"), "id")})
