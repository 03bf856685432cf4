"""A new user's first job on raw tables (issue 16): strings and missing values on both sides,
a yes/no label, no preprocessing; PSI -> SecureBoost -> registry over mutual-TLS gRPC."""

from __future__ import annotations

from pathlib import Path

import pytest

from bank_node.audit_service import bank_audit_log
from bank_node.jobs.runner import JobRunner
from bank_node.jobs.spec import JobSpec
from experiments.support.grpc_harness import start_platform
from platform_node.data_provider import PlatformDataProvider, ServedTable
from tests.tables_support import credit_tables
from tests.test_job_e2e import _bank_config


@pytest.mark.parametrize("algorithm", ["secureboost", "logreg"])
def test_raw_tables_train_first_try(tmp_path: Path, shared_data: Path, algorithm: str) -> None:
    bank, plat = credit_tables(shared_data, 1600, seed=5)
    bank.iloc[:1500].to_csv(tmp_path / "bank.csv", index=False)  # partial overlap: PSI
    plat.iloc[100:].to_csv(tmp_path / "platform.csv", index=False)
    served = {"credit": ServedTable(path=tmp_path / "platform.csv", id_column="id")}
    running = start_platform(tmp_path, PlatformDataProvider(tmp_path / "platform", served))
    try:
        config = _bank_config(tmp_path, running.port)
        params = {"n_estimators": 3, "max_depth": 3, "min_data_per_group": 20}
        spec = JobSpec.from_dict(
            {
                "job": {"name": "raw-credit", "algorithm": algorithm, "id": f"raw-{algorithm}"},
                "bank_data": {
                    "source": "table",
                    "path": str(tmp_path / "bank.csv"),
                    "label_column": "default",  # "yes" / "no"
                },
                "platform_data": {"dataset": "credit"},
                "split": {"valid_fraction": 0.25, "seed": 7},
                "crypto": {"key_bits": 1024},
                "params": params if algorithm == "secureboost" else {"max_epochs": 3},
            },
            base=tmp_path,
        )
        peer = config.platform_peer()
        result = JobRunner(spec, config, peer, audit=bank_audit_log(config)).run()
        peer.close()
    finally:
        running.stop(0.2)
    assert result.state.psi["n_intersection"] == 1400
    assert result.state.phase == "registered"
    assert result.metrics["val_auc"] > 0.65
