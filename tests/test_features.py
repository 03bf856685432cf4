"""Point-in-time feature pipeline: correctness, authorisation gating, dictionary."""

from __future__ import annotations

import datetime as dt
import shutil
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from experiments.synthetic_city import generate_city
from models.errors import InvalidArgument
from models.uscc import generate_usccs
from platform_node.catalogue.providers import AuthorisationRegistry, ParquetProviderAdapter
from platform_node.catalogue.schema import (
    CATEGORIES,
    TABLES,
    FieldType,
    SharingMode,
    interface_call_tables,
    physical_tables,
)
from platform_node.catalogue.store import CatalogueStore
from platform_node.features.definitions import FEATURES
from platform_node.features.dictionary import render
from platform_node.features.pipeline import compute_features

ROOT = Path(__file__).resolve().parent.parent
AS_OF = dt.date(2022, 1, 1)


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("pit_city")
    generate_city(1500, seed=11, out_dir=out)
    return out


def _features(platform: Path, usccs: np.ndarray, as_of: object, party: str = "bank-a"):
    return compute_features(
        CatalogueStore(platform),
        usccs,
        as_of,  # type: ignore[arg-type]
        bank_party=party,
        authorisations=AuthorisationRegistry(platform),
        provider=ParquetProviderAdapter(platform),
        threads=2,
    )


def _all_usccs(platform: Path) -> np.ndarray:
    codes = CatalogueStore(platform).read("licence", columns=["uscc"]).column("uscc")
    return np.sort(np.asarray(codes.to_pylist(), dtype=str))


def _shift_copies(
    name: str, data: pa.Table, when: dt.date, rng: np.random.Generator, spread: int
) -> pa.Table:
    """Copies of up to 300 records re-dated to ``when`` .. ``when + spread`` days."""
    if data.num_rows == 0:
        return data
    rows = rng.choice(data.num_rows, size=min(300, data.num_rows), replace=False)
    sample = data.take(pa.array(np.sort(rows)))
    days = np.datetime64(when, "D") + rng.integers(0, spread + 1, sample.num_rows)
    dates = pa.array(days.astype("datetime64[D]"), pa.date32())
    sample = sample.set_column(1, "event_date", dates)
    # open-ended copies (no removal or closing date), so a leak would show in "at as-of" flags
    for i, column in enumerate(sample.column_names):
        if column != "event_date" and TABLES[name].field(column).type is FieldType.DATE:
            sample = sample.set_column(i, column, pa.nulls(sample.num_rows, pa.date32()))
    return sample.cast(data.schema)


def _with_extra_records(src: Path, dst: Path, when: dt.date, spread: int) -> None:
    shutil.copytree(src, dst)
    store = CatalogueStore(dst / "platform")
    provider = ParquetProviderAdapter(dst / "platform")
    rng = np.random.default_rng(0)
    for name in physical_tables():
        extra = _shift_copies(name, store.read(name), when, rng, spread)
        store.ingest(name, extra, source="late records")
    for name in interface_call_tables():
        data = pq.read_table(provider.path(name))
        extra = _shift_copies(name, data, when, rng, spread)
        provider.publish(name, pa.concat_tables([data, extra]))


def _same(a: np.ndarray, b: np.ndarray) -> bool:
    return bool(np.array_equal(a, b, equal_nan=True))


def test_dictionary_has_enough_features_and_is_in_sync() -> None:
    cats = {f.category for f in FEATURES}
    assert len(FEATURES) >= 40
    assert len(cats) >= 12
    assert len({f.name for f in FEATURES}) == len(FEATURES)
    doc = (ROOT / "docs" / "features.md").read_text(encoding="utf-8")
    assert doc == render(), "regenerate: python -m platform_node.features.dictionary"


def test_records_on_or_after_as_of_change_nothing(city: Path, tmp_path: Path) -> None:
    usccs = _all_usccs(city / "platform")
    before = _features(city / "platform", usccs, AS_OF)
    assert np.isfinite(before.X).any(axis=0).sum() > 60  # most features are populated

    _with_extra_records(city, tmp_path / "late", AS_OF, spread=400)
    after = _features(tmp_path / "late" / "platform", usccs, AS_OF)
    assert _same(before.X, after.X)

    # control: the same copies dated the day before as-of do change features
    _with_extra_records(city, tmp_path / "early", AS_OF - dt.timedelta(days=1), spread=0)
    early = _features(tmp_path / "early" / "platform", usccs, AS_OF)
    changed = ~np.all((before.X == early.X) | (np.isnan(before.X) & np.isnan(early.X)), axis=0)
    assert changed.sum() >= 30


def test_explicit_pairs_match_single_date_runs(city: Path) -> None:
    usccs = _all_usccs(city / "platform")[:300]
    d1, d2 = dt.date(2021, 7, 1), dt.date(2023, 1, 1)
    at1 = _features(city / "platform", usccs, d1)
    at2 = _features(city / "platform", usccs, d2)
    mixed_dates = np.where(np.arange(300) % 2 == 0, np.datetime64(d1), np.datetime64(d2))
    mixed = _features(city / "platform", usccs, mixed_dates)
    expected = np.where((np.arange(300) % 2 == 0)[:, None], at1.X, at2.X)
    assert _same(mixed.X, expected)
    assert not _same(at1.X, at2.X)
    # the same enterprise twice, at two dates, in one request
    twice = _features(city / "platform", np.array([usccs[0], usccs[0]]), [d1, d2])
    assert _same(twice.X[0], at1.X[0]) and _same(twice.X[1], at2.X[0])


def test_interface_call_categories_need_an_authorisation(city: Path) -> None:
    platform = city / "platform"
    usccs = _all_usccs(platform)
    allowed = AuthorisationRegistry(platform).authorised("bank-a", usccs)
    assert 0 < allowed.sum() < usccs.size
    a = _features(platform, usccs, AS_OF, party="bank-a")
    b = _features(platform, usccs, AS_OF, party="bank-b")
    iface = np.array(
        [CATEGORIES[[c.key for c in CATEGORIES].index(g)].sharing is SharingMode.INTERFACE_CALL
         for g in a.feature_groups]
    )  # fmt: skip
    assert iface.sum() >= 10
    assert np.isnan(b.X[:, iface]).all()
    assert np.isnan(a.X[~allowed][:, iface]).all()
    assert np.isfinite(a.X[allowed][:, iface]).any()
    assert _same(a.X[:, ~iface], b.X[:, ~iface])
    assert int(a.meta["interface_call_rows_authorised"]) == int(allowed.sum())


def test_category_selection_and_groups(city: Path) -> None:
    usccs = _all_usccs(city / "platform")[:50]
    full = _features(city / "platform", usccs, AS_OF)
    part = compute_features(
        CatalogueStore(city / "platform"), usccs, AS_OF, categories=["judicial", "tax"]
    )
    assert set(part.feature_groups) == {"judicial", "tax"}
    cols = [full.feature_names.index(n) for n in part.feature_names]
    judicial = np.array([g == "judicial" for g in part.feature_groups])
    assert _same(part.X[:, judicial], full.X[:, cols][:, judicial])
    assert np.isnan(part.X[:, ~judicial]).all()  # tax without a bank party: not fetched
    with pytest.raises(InvalidArgument):
        compute_features(CatalogueStore(city / "platform"), usccs, AS_OF, categories=["nope"])


def test_invalid_requests_are_rejected(city: Path) -> None:
    store = CatalogueStore(city / "platform")
    good = _all_usccs(city / "platform")[:2]
    with pytest.raises(InvalidArgument) as err:
        compute_features(store, [good[0], good[1][:17] + "0"], AS_OF)
    assert good[1][:17] not in str(err.value)
    with pytest.raises(InvalidArgument):
        compute_features(store, good, "2022-13-01")
    with pytest.raises(InvalidArgument):
        compute_features(store, good, [AS_OF])


def test_hand_made_records(tmp_path: Path) -> None:
    """A few features checked against values worked out by hand from the records."""
    a, b, c = generate_usccs(3, np.random.default_rng(9))
    store = CatalogueStore(tmp_path)
    d = dt.date.fromisoformat
    store.ingest(
        "enforcements",
        pa.Table.from_pydict(
            {
                "uscc": [a, a, a, a, b],
                "event_date": [d("2018-06-01"), d("2020-03-01"), d("2021-12-31"),
                               d("2022-01-01"), d("2021-06-01")],
                "amount": [5.0, 7.0, 11.0, 13.0, 2.0],
                "status": ["closed", "terminated", "open", "open", "closed"],
                "closed_date": [d("2019-01-01"), d("2021-01-01"), None, None, d("2022-02-01")],
            }
        ),
    )  # fmt: skip
    store.ingest(
        "abnormal_operations",
        pa.Table.from_pydict(
            {
                "uscc": [a, b],
                "event_date": [d("2020-01-01"), d("2021-01-01")],
                "reason": ["other", "other"],
                "removal_date": [d("2021-12-31"), d("2022-01-01")],
            }
        ),
    )
    f = compute_features(store, [a, b, c], AS_OF, categories=["judicial", "registration"])
    col = {n: i for i, n in enumerate(f.feature_names)}
    X = f.X
    # enforcement cases dated in [2019-01-01, 2022-01-01): a has 2020-03-01 and 2021-12-31
    assert X[:, col["jud_enforcements_3y"]].tolist() == [2, 1, 0]
    # open at as-of: a's 2021-12-31 case (11); b's case closes after as-of, so still open (2)
    assert X[:, col["jud_open_enforcement_amount"]].tolist() == [11.0, 2.0, 0.0]
    assert X[:, col["jud_terminated_enforcements_3y"]].tolist() == [1, 0, 0]
    # a was removed the day before as-of; b's removal takes effect on as-of, so listed
    assert X[:, col["reg_abnormal_listed"]].tolist() == [0, 1, 0]
    # missing tables: counts are 0, "latest" values are missing
    assert X[:, col["reg_changes_3y"]].tolist() == [0, 0, 0]
    assert np.isnan(X[:, col["reg_capital"]]).all()
