"""Issue 15 problem 4 (bulk consent from a file, light command) and issue 14 row 12 (the
operator is the OS account): consents granted from a file in one command, all codes checked
before any grant, invalid ones counted by line and never echoed."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest

from bank_node.cli.main import EXIT_OK, EXIT_USAGE, main
from experiments.support.grpc_harness import shared_pki
from models.audit import events as ev
from models.audit import read_entries
from models.uscc import generate_usccs
from proto.transport.local_identity import os_account


@pytest.fixture
def platform_toml(tmp_path: Path) -> Path:
    path = tmp_path / "platform.toml"
    path.write_text(
        f'[platform]\ndata_dir = "{tmp_path / "platform"}"\npki_dir = "{shared_pki()}"\n'
        '[platform.known_parties]\nbank-a = "bank"\nregulator = "regulator"\n'
    )
    return path


def test_bulk_grant_from_a_file(
    platform_toml: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    codes = generate_usccs(200, np.random.default_rng(3))
    src = tmp_path / "consents.csv"
    src.write_text("uscc,evidence\n" + "".join(f"{c},form-{i}\n" for i, c in enumerate(codes)))
    t0 = time.perf_counter()
    code = main(["consent", "grant", "--config", str(platform_toml), "--file", str(src),
                 "--bank", "bank-a", "--days", "30"])  # fmt: skip
    elapsed = time.perf_counter() - t0
    assert code == EXIT_OK and "200 consents granted" in capsys.readouterr().out
    log = tmp_path / "platform" / "audit" / "audit.jsonl"
    grants = [e for e in read_entries(log) if e.event == ev.CONSENT_GRANTED]
    assert sorted(e.details["uscc"] for e in grants) == sorted(codes)
    assert {e.actor.party for e in grants} == {f"platform/{os_account()}"}
    assert elapsed < 30.0, f"200 grants took {elapsed:.1f} s"
    # one command with plain lines; a bad code stops everything before any grant
    more = generate_usccs(3, np.random.default_rng(4))
    bad = tmp_path / "bad.txt"
    bad.write_text(f"{more[0]}\n{more[1][:-1]}X\n\n{more[2]}\n")
    capsys.readouterr()
    code = main(["consent", "grant", "--config", str(platform_toml), "--file", str(bad),
                 "--bank", "bank-a"])  # fmt: skip
    err = capsys.readouterr().err
    assert code == EXIT_USAGE and "1 of 3 codes are not valid USCCs (lines 2)" in err
    assert more[1][:-1] not in err  # no data values in error text
    after = [e for e in read_entries(log) if e.event == ev.CONSENT_GRANTED]
    assert len(after) == len(grants)  # nothing half-written
