"""Issue 15 problem 6: MLflow artifacts land under the bank's data directory by default (the
config always fills ``tracking_uri``, so before they went to ``<cwd>/mlruns``)."""

from __future__ import annotations

from pathlib import Path

import pytest

from bank_node.config import BankConfig
from bank_node.jobs.tracking_glue import bank_tracking


def test_artifacts_under_the_bank_data_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    cwd = tmp_path / "elsewhere"
    cwd.mkdir()
    monkeypatch.chdir(cwd)
    cfg = tmp_path / "bank.toml"
    cfg.write_text(f'[bank]\ndata_dir = "{tmp_path / "bank"}"\n')
    config = BankConfig.load(cfg, plaintext=True)
    tracking = bank_tracking(config)
    experiment = tracking.client.get_experiment(tracking.experiment_id())
    expected = (tmp_path / "bank" / "mlflow" / "artifacts").resolve().as_uri()
    assert experiment.artifact_location == expected
    run = tracking.client.create_run(tracking.experiment_id())
    assert run.info.artifact_uri.startswith(expected)
    assert not (cwd / "mlruns").exists()
