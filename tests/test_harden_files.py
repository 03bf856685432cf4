"""Files (issue 14 row 7): everything a node writes under its data directory is private to
its account (files 0600, directories 0700): the audit log and its SQLite index, the consent
registry, session specs and step digests, job state, aligned ids, checkpoints, model parts,
MLflow, keys. Checked after a real training job over mutual TLS, starting from a normal umask
and with a file an earlier version left world-readable."""

from __future__ import annotations

import os
from pathlib import Path

from bank_node.audit_service import bank_audit_log
from bank_node.jobs.runner import JobRunner
from bank_node.jobs.spec import JobSpec
from experiments.support.grpc_harness import start_platform
from platform_node.consent.registry import ConsentRegistry
from platform_node.data_provider import PlatformDataProvider, ServedTable
from proto.transport.node_files import loose_files
from tests.test_job_e2e import _bank_config


def test_node_files_are_private_after_a_job(tmp_path: Path, shared_data: Path) -> None:
    old_umask = os.umask(0o022)  # a fresh process with the usual umask
    try:
        for node in ("platform", "bank"):
            (tmp_path / node).mkdir(mode=0o755)
            legacy = tmp_path / node / "left-by-an-old-version.csv"
            legacy.write_text("id\n")
            legacy.chmod(0o644)
        served = {
            "breast": ServedTable(path=shared_data / "breast_hetero_host.csv", id_column="id")
        }
        running = start_platform(tmp_path, PlatformDataProvider(tmp_path / "platform", served))
        try:
            config = _bank_config(tmp_path, running.port)
            spec = JobSpec.from_dict(
                {
                    "job": {"name": "files-sb", "algorithm": "secureboost", "id": "files-sb-1"},
                    "bank_data": {
                        "source": "table",
                        "path": str(shared_data / "breast_hetero_guest.csv"),
                    },
                    "platform_data": {"dataset": "breast"},
                    "split": {"valid_fraction": 0.25, "seed": 7},
                    "crypto": {"key_bits": 1024},
                    "params": {"n_estimators": 1, "max_depth": 2},
                },
                base=tmp_path,
            )
            peer = config.platform_peer()
            audit = bank_audit_log(config)
            result = JobRunner(spec, config, peer, audit=audit).run()
            peer.close()
            assert result.state.phase == "registered"
            assert audit.query(event="psi_run")  # builds the bank's audit index
            registry = ConsentRegistry.in_data_dir(tmp_path / "platform", running.audit_log)
            registry.close()
            running.audit_log.query(event="session_opened")
        finally:
            running.stop(0.2)
        bank_dir, platform_dir = tmp_path / "bank", tmp_path / "platform"
        written = {p.name for p in bank_dir.rglob("*")} | {p.name for p in platform_dir.rglob("*")}
        for name in (
            "aligned_ids.npy",
            "audit.index.sqlite",
            "consent.db",
            "model_signing.key",
            "mlflow.db",
            "files-sb-1.steps",
        ):
            assert name in written, name
        assert loose_files(bank_dir) == []
        assert loose_files(platform_dir) == []
    finally:
        os.umask(old_umask)
