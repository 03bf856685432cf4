"""``fedcredit whitelist upload`` (a recommender's certificate) and ``whitelist list`` (a bank's
config), against a platform on loopback with mutual TLS."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import pytest

from bank_node.cli.main import EXIT_OK, EXIT_REFUSED, EXIT_USAGE, main
from tests.whitelist_support import Platform, pki_with_recommenders, start


@pytest.fixture
def platform(tmp_path: Path) -> Iterator[Platform]:
    p = start(tmp_path, n_companies=8)
    yield p
    p.stop()


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    code = main([str(a) for a in argv])
    out = capsys.readouterr()
    return code, out.out + out.err


def _candidates(tmp_path: Path, rows: list[str]) -> Path:
    path = tmp_path / "candidates.csv"
    path.write_text("uscc,reason,criteria\n" + "\n".join(rows) + "\n", encoding="utf-8")
    return path


def test_upload_and_list(
    platform: Platform, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = pki_with_recommenders()
    c = [str(u) for u in platform.companies["uscc"]]
    csv = _candidates(
        tmp_path,
        [
            f"{c[0]},专精特新 SME,high-tech;tax grade A",
            f"{c[1]},exporter,customs advanced",
            "91410100XXXXXXXXXX,bad code,",
            f"{c[0]},again,",
        ],
    )
    upload = ("whitelist", "upload", "--platform", platform.target, "--file", csv, "--json")
    code, text = _run(capsys, *upload, "--cert-dir", pki / "jinshui-district")
    assert code == EXIT_OK, text
    counts = json.loads(text)
    assert (counts["received"], counts["accepted"], counts["duplicates"]) == (4, 2, 1)
    assert counts["rejected_invalid_uscc"] == 1 and counts["rejected"][0]["row"] == 3
    # a bank's certificate may not recommend
    code, text = _run(capsys, *upload, "--cert-dir", pki / "bank-a")
    assert code == EXIT_REFUSED and "permission_denied" in text

    platform.grant(c[0], "bank-a", "whitelist_listing")
    bank_toml = tmp_path / "bank.toml"
    bank_toml.write_text(
        f'[bank]\nparty = "bank-a"\ndata_dir = "{tmp_path / "bank"}"\npki_dir = "{pki}"\n'
        f'platform_target = "{platform.target}"\nplatform_name = "platform"\n'
    )
    code, text = _run(capsys, "whitelist", "list", "--config", bank_toml, "--json")
    assert code == EXIT_OK, text
    doc = json.loads(text)
    assert doc["total"] == 1 and doc["entries"][0]["uscc"] == c[0]
    assert doc["entries"][0]["recommendations"][0]["criteria"] == ["high-tech", "tax grade A"]
    assert doc["entries"][0]["recommendations"][0]["reason"] == "专精特新 SME"
    code, text = _run(capsys, "whitelist", "list", "--config", bank_toml, "--industry", "F")
    assert code == EXIT_OK and text.startswith("0 listed companies match")
    code, text = _run(capsys, "whitelist", "list", "--config", bank_toml, "--district", "x")
    assert code == EXIT_USAGE, text


def test_candidates_file_needs_its_columns(tmp_path: Path, capsys: pytest.CaptureFixture) -> None:
    path = tmp_path / "c.csv"
    path.write_text("code,why\nx,y\n")
    pki = pki_with_recommenders()
    code, text = _run(
        capsys, "whitelist", "upload", "--platform", "127.0.0.1:1", "--cert-dir",
        pki / "jinshui-district", "--file", path,
    )  # fmt: skip
    assert code == EXIT_USAGE and "'uscc' and 'reason'" in text
