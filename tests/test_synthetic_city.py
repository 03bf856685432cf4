"""The synthetic city generator: determinism, completeness, data card, realistic mess."""

from __future__ import annotations

import argparse
import hashlib
import json
from pathlib import Path

import numpy as np
import pyarrow.parquet as pq
import pytest

from experiments.synthetic_city import cli, generate_city
from models.errors import InvalidArgument
from models.uscc import valid_mask
from platform_node.catalogue.providers import ParquetProviderAdapter
from platform_node.catalogue.schema import CATEGORIES, SharingMode
from platform_node.catalogue.store import CatalogueStore


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


@pytest.fixture(scope="module")
def big_city(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    """10k enterprises: about 2,000 labelled companies, enough for a stable AUC margin."""
    out = tmp_path_factory.mktemp("city10k")
    card = generate_city(10_000, seed=3, out_dir=out)
    return out, card


def test_same_seed_gives_identical_files(tmp_path: Path) -> None:
    a = generate_city(600, seed=5, out_dir=tmp_path / "a")
    b = generate_city(600, seed=5, out_dir=tmp_path / "b")
    generate_city(600, seed=6, out_dir=tmp_path / "c")
    assert a == b
    da, db, dc = _digests(tmp_path / "a"), _digests(tmp_path / "b"), _digests(tmp_path / "c")
    assert da == db
    assert len(da) > 30
    assert da != dc
    assert da["bank/loans.parquet"] != dc["bank/loans.parquet"]


def test_every_category_has_records(big_city: tuple[Path, dict]) -> None:
    out, card = big_city
    store = CatalogueStore(out / "platform")
    provider = ParquetProviderAdapter(out / "platform")
    for c in CATEGORIES:
        assert card["records_per_category"][c.key] > 0, c.key
        for t in c.tables:
            if c.sharing is SharingMode.PHYSICAL_AGGREGATION:
                rows = store.row_count(t.name)
            else:
                rows = pq.ParquetFile(provider.path(t.name)).metadata.num_rows
            assert rows > 0, t.name
            assert rows == card["records_per_table"][t.name]
    assert card["platform_feature_categories"] == 15
    assert card["sharing_modes"]["tax"] == "interface_call"
    assert card["sharing_modes"]["judicial"] == "physical_aggregation"


def test_data_card_numbers(big_city: tuple[Path, dict]) -> None:
    out, card = big_city
    on_disk = json.loads((out / "data_card.json").read_text(encoding="utf-8"))
    assert on_disk == card
    for key in ("enterprises", "loans", "default_rate", "auc_bank_only", "auc_joint", "as_of"):
        assert key in card
    assert card["enterprises"] == 10_000
    assert 0.02 <= card["default_rate"] <= 0.08
    assert 0.02 <= card["default_rate_window_loans"] <= 0.08
    assert card["modelling_rows"] >= 1500
    loans = pq.read_table(out / "bank" / "loans.parquet")
    assert loans.num_rows == card["loans"]
    assert card["auc_bank_only"] > 0.5
    assert card["auc_joint"] > card["auc_bank_only"] + 0.05


def test_joint_beats_bank_only_on_another_seed(tmp_path: Path) -> None:
    card = generate_city(10_000, seed=8, out_dir=tmp_path)
    assert card["auc_joint"] > card["auc_bank_only"] + 0.03


def test_realistic_mess(big_city: tuple[Path, dict]) -> None:
    out, card = big_city
    # malformed codes in the court and regulators' feeds were rejected and counted
    assert card["rejected_invalid_codes_total"] > 0
    assert set(card["rejected_invalid_codes"]) <= {"judgments", "admin_actions"}
    log = CatalogueStore(out / "platform").ingest_log()
    assert sum(r.rejected_invalid_code for r in log) == card["rejected_invalid_codes_total"]
    for r in log:
        assert r.accepted + r.rejected == r.received
    stored = CatalogueStore(out / "platform").read("judgments", columns=["uscc"])
    assert valid_mask(stored.column("uscc").to_pylist()).all()
    # deregistered and revoked enterprises
    licence = CatalogueStore(out / "platform").read("licence", columns=["uscc", "status"])
    status = np.asarray(licence.column("status").to_pylist())
    assert {"active", "deregistered", "revoked"} <= set(status.tolist())
    assert card["enterprises_deregistered_by_data_end"] == int((status != "active").sum())
    # missing categories: many enterprises have no fund records, a whole county has none
    fund = pq.read_table(ParquetProviderAdapter(out / "platform").path("fund_contributions"))
    with_fund = set(fund.column("uscc").to_pylist())
    assert len(with_fund) < 0.6 * card["enterprises"]
    assert not any(code[2:8] == "410122" for code in with_fund)
    # interface-call data exists only for authorised modelling rows
    assert 0 < card["rows_with_interface_call_data"] < card["modelling_rows"]


def test_zhengzhou_profile(big_city: tuple[Path, dict]) -> None:
    _, card = big_city
    industries = card["industries"]
    assert max(industries, key=industries.get) == "F"  # wholesale and retail lead
    assert card["sizes"]["micro"] > card["sizes"]["small"] > card["sizes"]["medium"]
    licence = CatalogueStore(big_city[0] / "platform").read("licence", columns=["uscc"])
    codes = licence.column("uscc").to_pylist()
    assert all(code[2:6] == "4101" for code in codes)
    assert {code[:2] for code in codes} == {"91", "93"}


def test_refuses_to_overwrite_and_validates(tmp_path: Path) -> None:
    generate_city(300, seed=1, out_dir=tmp_path)
    with pytest.raises(InvalidArgument):
        generate_city(300, seed=1, out_dir=tmp_path)
    generate_city(300, seed=2, out_dir=tmp_path, overwrite=True)
    with pytest.raises(InvalidArgument):
        generate_city(50, seed=1, out_dir=tmp_path / "tiny")
    with pytest.raises(InvalidArgument):
        generate_city(300, seed=1, out_dir=tmp_path / "x", target_default_rate=0.2)


def test_cli(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    parser = argparse.ArgumentParser()
    cli.add_arguments(parser)
    args = parser.parse_args(["--enterprises", "400", "--seed", "4", "--out", str(tmp_path)])
    assert cli.run(args) == 0
    summary = json.loads(capsys.readouterr().out.splitlines()[0])
    assert summary["enterprises"] == 400
    assert (tmp_path / "data_card.json").exists()
    assert cli.run(args) == 2  # exists already, no --overwrite
