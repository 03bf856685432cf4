"""A company's own view: what the platform holds about it (counts, dates), consents, uses."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from bank_node.cli.main import main
from experiments.synthetic_city.city import generate_city
from models.errors import InvalidArgument
from platform_node.catalogue.schema import CATEGORIES
from platform_node.catalogue.store import CatalogueStore
from platform_node.company_report import holdings


@pytest.fixture(scope="module")
def city(tmp_path_factory: pytest.TempPathFactory) -> Path:
    out = tmp_path_factory.mktemp("city")
    generate_city(1500, 5, out)
    return out


def test_holdings_count_the_company_records(city: Path) -> None:
    store = CatalogueStore(city / "platform")
    table = store.read("licence")
    uscc = str(table.column("uscc")[0])
    held = holdings(city / "platform", uscc)
    assert [h.category for h in held] == [c.key for c in CATEGORIES]
    registration = next(h for h in held if h.category == "registration")
    assert registration.records >= 1 and registration.first_date <= registration.last_date
    assert registration.tables["licence"] == sum(
        1 for v in table.column("uscc").to_pylist() if v == uscc
    )
    with pytest.raises(InvalidArgument):
        holdings(city / "platform", "not-a-code")


def test_company_report_cli(city: Path, tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    cfg = tmp_path / "platform.toml"
    cfg.write_text(
        f'[platform]\ndata_dir = "{city / "platform"}"\n[platform.known_parties]\nbank-a = "bank"\n'
    )
    uscc = str(CatalogueStore(city / "platform").read("licence").column("uscc")[0])
    assert main(["consent", "grant", "--config", str(cfg), "--uscc", uscc, "--bank", "bank-a"]) == 0
    capsys.readouterr()
    assert main(["company", "report", "--config", str(cfg), "--uscc", uscc, "--json"]) == 0
    doc = json.loads(capsys.readouterr().out)
    assert doc["uscc"] == uscc and len(doc["holdings"]) == 15
    assert [c["bank"] for c in doc["consents"]] == ["bank-a"]
    assert doc["uses"] == []
