"""MLflow tracking and model registry of the bank node.

Contract for the training code (call after a job finishes)::

    from bank_node.tracking import (
        Tracking, JobRecord, TrainingResult, PartyData, CryptoInfo, PsiInfo, ModelPart,
        log_training_run, register_model, promote,
    )

    tracking = Tracking.for_data_dir(bank_data_dir, audit=bank_audit_log, actor=bank_identity)
    job = JobRecord(
        job_id="job-20250601-0001",
        launched_by="bank-a/alice",                 # who launched it (party or officer)
        launched_by_fingerprint=caller.cert_fingerprint,
        launched_at="2025-06-01T09:00:00Z", finished_at="2025-06-01T09:04:10Z",
        algorithm="secureboost",
        params={"n_trees": 20, "max_depth": 4, "learning_rate": 0.3},
        crypto=CryptoInfo("paillier", 2048),
        psi=PsiInfo("ecdh-psi", bank_size=5000, platform_size=80000, intersection_size=4600),
        bank=PartyData("bank-a", "loans-2024", digest, n_rows, categories=[...],
                       schema=[("loan_amount", "double"), ...],
                       date_range=("2023-01-01", "2024-12-31"),
                       cert_fingerprint=bank_cert_fp),
        platform=PartyData("platform", describe.dataset, describe.digest, describe.n_rows,
                           categories=list(describe.categories),
                           schema=[(c, "double") for c in describe.feature_names],
                           cert_fingerprint=platform_cert_fp),
    )
    result = TrainingResult(
        model_id="mdl-...",
        history=[{"step": t, "train_auc": .., "val_auc": .., "train_ks": .., "val_ks": ..,
                  "train_loss": .., "val_loss": ..} for t in trees],
        final_metrics={"val_auc": .., "val_ks": ..},
        importance={"bank-a": {"loan": 0.4}, "platform": {"tax": 0.3, "judicial": 0.1}},
        y_true=y_val, y_score=p_val,                 # only the curves are stored
        bank_part=ModelPart("bank-a", sha256_hex, model_id, path="var/bank/models/m.json"),
        platform_part=ModelPart("platform", platform_digest, platform_model_id),
    )
    run = log_training_run(tracking, job, result)          # -> RunInfo
    ref = register_model(tracking, "sme-credit", run, job, result)   # -> ModelVersionRef
    head = certified_person(cert_dir, ca, roles=("approver",), organisation="bank-a")
    promote(tracking, "sme-credit", ref.version, "champion", approver=head)

Default store: ``sqlite:///<bank data dir>/mlflow/mlflow.db`` with artifacts in
``<bank data dir>/mlflow/artifacts``; ``Tracking(uri)`` takes any MLflow tracking URI.
See ``docs/governance.md``.
"""

from bank_node.tracking.records import (
    Approval,
    CryptoInfo,
    JobRecord,
    ModelPart,
    ModelVersionRef,
    PartyData,
    PsiInfo,
    RunInfo,
    TrainingResult,
)
from bank_node.tracking.registry import (
    ALIASES,
    bind_platform_part,
    get_version,
    list_versions,
    parse_model_spec,
    promote,
    register_model,
)
from bank_node.tracking.run import JOB_ARTIFACT, log_training_run
from bank_node.tracking.store import Tracking, default_uris
from bank_node.tracking.version import code_version

__all__ = [
    "ALIASES",
    "JOB_ARTIFACT",
    "Approval",
    "CryptoInfo",
    "JobRecord",
    "ModelPart",
    "ModelVersionRef",
    "PartyData",
    "PsiInfo",
    "RunInfo",
    "Tracking",
    "TrainingResult",
    "bind_platform_part",
    "code_version",
    "default_uris",
    "get_version",
    "list_versions",
    "log_training_run",
    "parse_model_spec",
    "promote",
    "register_model",
]
