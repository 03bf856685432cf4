"""MLflow tracking: a training job becomes a complete run, a registered version, approvals."""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from bank_node.tracking import (
    CryptoInfo,
    JobRecord,
    ModelPart,
    PartyData,
    PsiInfo,
    Tracking,
    TrainingResult,
    get_version,
    list_versions,
    log_training_run,
    promote,
    register_model,
)
from bank_node.tracking.plots import ks_points, roc_points
from models.audit import Actor, AuditLog, verify
from models.audit import events as ev
from models.audit.keys import generate_signing_key
from models.errors import DataLoss, InvalidArgument, NotFound, PermissionDenied

BANK_FP = "b1" * 32
PLATFORM_FP = "c2" * 32
OFFICER_FP = "a3" * 32
PLATFORM_DIGEST = hashlib.sha256(b"platform table").hexdigest()
BANK_DIGEST = hashlib.sha256(b"bank table").hexdigest()
N_TREES = 5


def fake_job(job_id: str = "job-0001") -> JobRecord:
    """A job record as the training code fills it (the input contract)."""
    return JobRecord(
        job_id=job_id,
        launched_by="bank-a/alice",
        launched_by_fingerprint=OFFICER_FP,
        launched_at="2025-06-01T09:00:00Z",
        finished_at="2025-06-01T09:03:30Z",
        algorithm="secureboost",
        params={"n_trees": N_TREES, "max_depth": 3, "learning_rate": 0.3, "n_bins": 32},
        crypto=CryptoInfo("paillier", 1024, {"precision_bits": "53"}),
        psi=PsiInfo("ecdh-psi", bank_size=400, platform_size=1000, intersection_size=360),
        bank=PartyData(
            party="bank-a",
            dataset="loans-2024",
            digest=BANK_DIGEST,
            n_rows=400,
            categories=["loan", "account"],
            schema=[("loan_amount", "float64"), ("term_months", "int64"), ("sector", "string")],
            date_range=("2023-01-01", "2024-12-31"),
            cert_fingerprint=BANK_FP,
        ),
        platform=PartyData(
            party="platform",
            dataset="catalogue-2024q4",
            digest=PLATFORM_DIGEST,
            n_rows=1000,
            categories=["tax", "social_security", "judicial"],
            schema=[("tax", "double"), ("social_security", "double"), ("judicial", "double")],
            date_range=("2024-01-01", "2024-12-31"),
            cert_fingerprint=PLATFORM_FP,
        ),
    )


def fake_result(tmp: Path, model_id: str = "mdl-0001", seed: int = 0) -> TrainingResult:
    """A training result as the training code returns it (the input contract)."""
    rng = np.random.default_rng(seed)
    y = (rng.random(200) < 0.3).astype(np.int64)
    score = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    part = tmp / f"bank_part_{model_id}.json"
    part.write_text(json.dumps({"model_id": model_id, "trees": [[0.1, -0.2]] * N_TREES}))
    digest = hashlib.sha256(part.read_bytes()).hexdigest()
    history = [
        {
            "step": t,
            "train_auc": 0.6 + 0.03 * t,
            "val_auc": 0.58 + 0.02 * t,
            "train_ks": 0.2 + 0.02 * t,
            "val_ks": 0.18 + 0.01 * t,
            "train_loss": 0.6 - 0.02 * t,
            "val_loss": 0.62 - 0.01 * t,
        }
        for t in range(N_TREES)
    ]
    return TrainingResult(
        model_id=model_id,
        history=history,
        final_metrics={"val_auc": 0.66, "val_ks": 0.22, "val_loss": 0.58},
        importance={
            "bank-a": {"loan": 0.5, "account": 0.1},
            "platform": {"tax": 0.3, "judicial": 0.1},
        },
        y_true=y,
        y_score=score,
        bank_part=ModelPart("bank-a", digest, model_id, path=str(part)),
        platform_part=ModelPart(
            "platform", hashlib.sha256(b"pp" + model_id.encode()).hexdigest(), f"plat-{model_id}"
        ),
    )


def make_store(tmp: Path) -> dict[str, Any]:
    """A bank data dir with an audit log and MLflow store, one job logged and registered."""
    data_dir = tmp / "bank-a"
    audit = AuditLog(
        data_dir / "audit" / "audit.jsonl",
        generate_signing_key(data_dir / "audit" / "key.pem"),
        actor=Actor("bank-a", "bank", BANK_FP),
    )
    tracking = Tracking.for_data_dir(data_dir, audit=audit, actor=Actor("bank-a", "bank", BANK_FP))
    job, result = fake_job(), fake_result(tmp)
    run = log_training_run(tracking, job, result)
    ref = register_model(tracking, "sme-credit", run, job, result)
    return {
        "data_dir": data_dir,
        "audit": audit,
        "tracking": tracking,
        "job": job,
        "result": result,
        "run": run,
        "ref": ref,
    }


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Any]:
    return make_store(tmp_path_factory.mktemp("tracking"))


def test_default_store_lives_under_the_bank_data_dir(store) -> None:
    tracking, data_dir = store["tracking"], store["data_dir"]
    assert tracking.tracking_uri == f"sqlite:///{(data_dir / 'mlflow' / 'mlflow.db').resolve()}"
    assert (data_dir / "mlflow" / "mlflow.db").exists()
    assert store["run"].artifact_uri.startswith(
        (data_dir / "mlflow" / "artifacts").resolve().as_uri()
    )
    assert "mlflow ui --backend-store-uri" in tracking.ui_command()
    import mlflow

    assert "bank-a" not in mlflow.get_tracking_uri()  # no global state was changed


def test_run_params(store) -> None:
    run = store["tracking"].client.get_run(store["run"].run_id)
    params = run.data.params
    assert params["algorithm"] == "secureboost"
    assert params["crypto.scheme"] == "paillier" and params["crypto.key_bits"] == "1024"
    assert params["psi.protocol"] == "ecdh-psi" and params["psi.intersection_size"] == "360"
    assert params["platform.categories"] == "tax,social_security,judicial"
    assert params["n_trees"] == str(N_TREES) and params["learning_rate"] == "0.3"
    assert run.info.status == "FINISHED" and run.info.run_name == "job-0001"
    tags = run.data.tags
    assert tags["fedcredit.launched_by"] == "bank-a/alice"
    assert tags["fedcredit.platform.cert_fingerprint"] == PLATFORM_FP
    assert tags["fedcredit.code_version"].startswith("fedcredit")


def test_run_metrics_per_step_and_final(store) -> None:
    client, run_id = store["tracking"].client, store["run"].run_id
    for key in ("train_auc", "val_auc", "train_ks", "val_ks", "train_loss", "val_loss"):
        history = client.get_metric_history(run_id, key)
        assert sorted(m.step for m in history) == list(range(N_TREES))
        expected = {p["step"]: p[key] for p in store["result"].history}
        assert all(abs(m.value - expected[m.step]) < 1e-12 for m in history)
    metrics = client.get_run(run_id).data.metrics
    assert metrics["final.val_auc"] == pytest.approx(0.66)


def test_run_inputs_describe_both_sides_without_rows(store) -> None:
    run = store["tracking"].client.get_run(store["run"].run_id)
    inputs = {d.dataset.name: d for d in run.inputs.dataset_inputs}
    assert set(inputs) == {"bank-a/loans-2024", "platform/catalogue-2024q4"}
    for name, side in (
        ("bank-a/loans-2024", store["job"].bank),
        ("platform/catalogue-2024q4", store["job"].platform),
    ):
        ds = inputs[name].dataset
        profile = json.loads(ds.profile)
        assert profile["digest_sha256"] == side.digest and side.digest.startswith(ds.digest)
        assert profile["num_rows"] == side.n_rows
        assert profile["date_range"] == list(side.date_range)
        assert profile["categories"] == side.categories
        cols = json.loads(ds.schema)["mlflow_colspec"]
        assert [c["name"] for c in cols] == [c for c, _ in side.schema]
        assert {t.key: t.value for t in inputs[name].tags}["mlflow.data.context"] == "training"
        assert json.loads(ds.source)["party"] == side.party
    assert (
        json.loads(inputs["bank-a/loans-2024"].dataset.schema)["mlflow_colspec"][0]["type"]
        == "double"
    )


def test_run_artifacts(store) -> None:
    client, run_id = store["tracking"].client, store["run"].run_id
    root = Path(client.download_artifacts(run_id, "", str(store["data_dir"] / "dl")))
    for png in ("roc", "ks", "importance"):
        assert (root / "plots" / f"{png}.png").read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    card = json.loads((root / "model_card.json").read_text())
    assert card["model_id"] == "mdl-0001" and card["algorithm"] == "secureboost"
    assert card["parties"]["platform"]["dataset_digest"] == PLATFORM_DIGEST
    assert card["importance_by_party_and_category"]["platform"]["tax"] == 0.3
    part = store["result"].bank_part
    copied = root / "model" / Path(part.path).name
    assert hashlib.sha256(copied.read_bytes()).hexdigest() == part.digest
    parts = json.loads((root / "model" / "MODEL_PARTS.json").read_text())
    assert parts["platform"]["digest"] == store["result"].platform_part.digest
    # the validation labels and scores are summarised as curves, never stored
    text = "".join(p.read_text(errors="ignore") for p in root.rglob("*.json"))
    assert "y_true" not in text and "y_score" not in text


def test_experiment_opens_on_training_runs_and_model_has_a_signature(store) -> None:
    """Issue 15 item 6: MLflow 3's UI opened the experiment on its empty GenAI page, and the
    registered model carried no signature."""
    tracking, run_id = store["tracking"], store["run"].run_id
    exp = tracking.client.get_experiment(tracking.experiment_id())
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    from mlflow.models import Model

    root = Path(tracking.client.download_artifacts(run_id, "model", str(store["data_dir"] / "sig")))
    model = Model.load(str(root / "MLmodel"))
    names = [c.name for c in model.signature.inputs.inputs]
    assert names[:2] == ["uscc", "as_of"]
    assert names[2:] == [c for c, _ in store["job"].bank.schema]
    assert [c.name for c in model.signature.outputs.inputs] == ["probability_of_default"]
    assert model.flavors["fedcredit"]["parts"] == "MODEL_PARTS.json"
    # the platform's features never appear in the bank's signature
    assert not set(names) & {c for c, _ in store["job"].platform.schema}


def test_registered_version_binds_both_parts(store) -> None:
    ref, result = store["ref"], store["result"]
    assert (ref.name, ref.version, ref.model_id) == ("sme-credit", "1", "mdl-0001")
    mv = get_version(store["tracking"], "sme-credit", "1")
    assert mv.run_id == store["run"].run_id and mv.source.endswith("/model")
    assert mv.tags["fedcredit.platform_part.model_id"] == result.platform_part.model_id
    assert mv.tags["fedcredit.platform_part.digest"] == result.platform_part.digest
    assert mv.tags["fedcredit.bank_part.digest"] == result.bank_part.digest
    registered = [e for e in store["audit"].entries() if e.event == ev.MODEL_REGISTERED]
    assert registered[0].details["model_version"] == "1"
    assert [e.event for e in store["audit"].entries()][:1] == [ev.TRAINING_RUN_LOGGED]


RISK_HEAD = Actor("bank-a/risk-head", "approver", "ab" * 32)
CRO = Actor("bank-a/cro", "approver", "cd" * 32)


def test_promotion_records_the_approver_and_moves_aliases(store, tmp_path: Path) -> None:
    tracking = store["tracking"]
    first = promote(tracking, "sme-credit", "1", "challenger", RISK_HEAD)
    assert first.previous_version == ""
    promote(tracking, "sme-credit", "1", "champion", CRO)
    mv = get_version(tracking, "sme-credit", "champion")
    assert str(mv.version) == "1" and list(mv.aliases) == ["champion"]  # challenger alias moved up
    assert mv.tags["fedcredit.approved_by"] == "bank-a/cro"
    assert mv.tags["fedcredit.approval.challenger.by"] == "bank-a/risk-head"
    # a second version becomes champion; the approval names the version it replaces
    job2, result2 = fake_job("job-0002"), fake_result(tmp_path, "mdl-0002", seed=1)
    ref2 = register_model(
        tracking, "sme-credit", log_training_run(tracking, job2, result2), job2, result2
    )
    approval = promote(tracking, "sme-credit", ref2.version, "champion", CRO)
    assert (approval.version, approval.previous_version) == ("2", "1")
    assert str(get_version(tracking, "sme-credit").version) == "2"  # no version: the champion
    assert [r.version for r in list_versions(tracking, "sme-credit")] == ["1", "2"]
    promoted = [e for e in store["audit"].entries() if e.event == ev.MODEL_PROMOTED]
    assert [(e.details["alias"], e.details["approver"]) for e in promoted] == [
        ("challenger", "bank-a/risk-head"),
        ("champion", "bank-a/cro"),
        ("champion", "bank-a/cro"),
    ]
    assert [e.actor.party for e in promoted] == ["bank-a/risk-head", "bank-a/cro", "bank-a/cro"]
    assert promoted[1].details["approver_cert_fingerprint"] == "cd" * 32
    assert verify(store["audit"].path).ok
    with pytest.raises(InvalidArgument):
        promote(tracking, "sme-credit", "1", "production", CRO)
    # free text, an officer or the bank node itself cannot approve (issue 15)
    for who in ("bank-a/cro", Actor("bank-a/alice", "officer", ""), Actor("bank-a", "bank", "")):
        with pytest.raises(PermissionDenied):
            promote(tracking, "sme-credit", "1", "champion", who)  # type: ignore[arg-type]
    with pytest.raises(NotFound):
        promote(tracking, "sme-credit", "99", "champion", CRO)
    with pytest.raises(NotFound):
        get_version(tracking, "no-such-model")


def test_a_model_part_that_does_not_match_its_digest_is_refused(store, tmp_path: Path) -> None:
    result = fake_result(tmp_path, "mdl-bad")
    assert result.bank_part.path is not None
    Path(result.bank_part.path).write_text("tampered")
    with pytest.raises(DataLoss):
        log_training_run(store["tracking"], fake_job("job-bad"), result)
    runs = store["tracking"].client.search_runs(
        [store["tracking"].experiment_id()], "tags.`fedcredit.job_id` = 'job-bad'"
    )
    assert [r.info.status for r in runs] == ["FAILED"]


def test_a_run_without_validation_scores_skips_the_curves(store, tmp_path: Path) -> None:
    result = fake_result(tmp_path, "mdl-noval")
    result = dataclasses.replace(result, y_true=np.zeros(0), y_score=np.zeros(0))
    info = log_training_run(store["tracking"], fake_job("job-noval"), result)
    client = store["tracking"].client
    run = client.get_run(info.run_id)
    assert run.info.status == "FINISHED" and run.data.tags["fedcredit.curves"].startswith("not")
    plots = {f.path for f in client.list_artifacts(info.run_id, "plots")}
    assert plots == {"plots/importance.png"}


def test_roc_and_ks_match_a_reference() -> None:
    from sklearn.metrics import roc_auc_score, roc_curve

    rng = np.random.default_rng(3)
    y = (rng.random(500) < 0.25).astype(int)
    s = np.round(rng.random(500) * 0.6 + 0.4 * y, 2)  # ties included
    _, _, auc = roc_points(y, s)
    assert auc == pytest.approx(roc_auc_score(y, s), abs=1e-12)
    fpr, tpr, _ = roc_curve(y, s)
    assert ks_points(y, s)[3] == pytest.approx(float(np.max(tpr - fpr)), abs=1e-12)
    with pytest.raises(InvalidArgument):
        roc_points(np.zeros(5), np.ones(5))
