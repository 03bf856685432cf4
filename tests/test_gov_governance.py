"""Issue 15, problem 1: an unapproved model never serves; promotions need an approver; the
scoring store follows MLflow's aliases only where an audited approval backs them."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from bank_node.governance import MODEL_ALIAS_REFUSED, approved_state, reconcile
from bank_node.scoring.model_store import ModelStore
from bank_node.tracking import get_version, log_training_run, promote, register_model
from experiments.support.scoring import Trained, synthetic_tables, train_models
from models.audit import Actor, verify
from models.errors import FailedPrecondition, InvalidArgument
from tests.test_tracking import fake_job, fake_result, make_store

NAME = "sme-credit"
HEAD = Actor("bank-a/head-of-risk", "approver", "ab" * 32)


@pytest.fixture(scope="module")
def trained(tmp_path_factory: pytest.TempPathFactory) -> Trained:
    tmp = tmp_path_factory.mktemp("gov-parts")
    bank, plat = synthetic_tables(120, seed=4)
    return train_models(bank, plat, tmp / "p", tmp / "b", n_estimators=2, lr_epochs=2)


@pytest.fixture
def world(tmp_path: Path, trained: Trained) -> dict[str, Any]:
    """MLflow version 1 (not served here), 2 = the tree part, 3 = the logistic part; both
    parts registered with the scoring store as a training job does (``NAME@latest``)."""
    store = make_store(tmp_path)
    tracking = store["tracking"]
    scoring = ModelStore(tmp_path / "bank")
    for i, (mid, path) in enumerate(
        [(trained.sb.model_id_, trained.sb_path), (trained.lr.model_id_, trained.lr_path)]
    ):
        job, result = fake_job(f"job-{i + 2}"), fake_result(tmp_path, mid, seed=i)
        ref = register_model(tracking, NAME, log_training_run(tracking, job, result), job, result)
        scoring.register(NAME, path, version=ref.version)
    return store | {"scoring": scoring}


def _mlflow_aliases(tracking: Any) -> dict[str, str]:
    return {a: str(v) for a, v in tracking.client.get_registered_model(NAME).aliases.items()}


def test_unapproved_versions_never_serve(world: dict[str, Any], trained: Trained) -> None:
    scoring: ModelStore = world["scoring"]
    with pytest.raises(FailedPrecondition, match="no approved champion"):
        scoring.resolve("")  # before: the last trained version was the default
    for spec in (f"{NAME}@latest", f"{NAME}@3", trained.lr.model_id_):
        with pytest.raises(FailedPrecondition, match="not approved"):
            scoring.resolve(spec)
    with pytest.raises(FailedPrecondition, match="no version"):
        scoring.resolve(NAME)  # no champion
    with pytest.raises(InvalidArgument):  # champion is given by an approval only
        scoring.register(NAME, trained.lr_path, alias="champion")
    # version 2 approved as champion; a newer trained version does not replace it
    promote(world["tracking"], NAME, "2", "champion", HEAD)
    assert reconcile(world["tracking"], scoring, world["audit"]) == []
    assert scoring.resolve("").model_id == trained.sb.model_id_
    scoring.register(NAME, trained.lr_path, version="3")  # retrained, registered again
    assert scoring.resolve("").model_id == trained.sb.model_id_
    assert scoring.resolve(NAME).version == "2"
    with pytest.raises(FailedPrecondition):
        scoring.resolve(f"{NAME}@3")
    # an officer may name another approved version: the challenger
    promote(world["tracking"], NAME, "3", "challenger", HEAD)
    reconcile(world["tracking"], scoring, world["audit"])
    assert scoring.resolve(f"{NAME}@challenger").model_id == trained.lr.model_id_
    assert scoring.resolve(f"{NAME}@3").family == "logreg"
    assert scoring.resolve("").version == "2"
    entry = scoring.resolve("")
    assert entry.approvals["champion"]["by"] == HEAD.party
    assert entry.approvals["champion"]["cert_fingerprint"] == HEAD.cert_fingerprint


def test_alias_changes_made_in_mlflow_are_refused(world: dict[str, Any], trained: Trained) -> None:
    tracking, audit, scoring = world["tracking"], world["audit"], world["scoring"]
    promote(tracking, NAME, "2", "champion", HEAD)
    reconcile(tracking, scoring, audit)
    # someone uses MLflow's UI: moves champion to version 3 and forges the approval tags
    tracking.client.set_registered_model_alias(NAME, "champion", "3")
    tracking.client.set_model_version_tag(NAME, "3", "fedcredit.approved_by", HEAD.party)
    tracking.client.set_registered_model_alias(NAME, "challenger", "1")
    drifts = reconcile(tracking, scoring, audit)
    assert {(d.alias, d.mlflow_version, d.approved_version, d.action) for d in drifts} == {
        ("champion", "3", "2", "reverted"),
        ("challenger", "1", "", "removed"),
    }
    assert _mlflow_aliases(tracking) == {"champion": "2"}
    assert scoring.resolve("").model_id == trained.sb.model_id_  # served all along
    refused = audit.query(event=MODEL_ALIAS_REFUSED)
    assert [(e.details["alias"], e.details["mlflow_version"]) for e in refused] == [
        ("champion", "3"),
        ("challenger", "1"),
    ]
    # deleting the champion alias in MLflow is refused too
    tracking.client.delete_registered_model_alias(NAME, "champion")
    assert [d.action for d in reconcile(tracking, scoring, audit)] == ["reverted"]
    assert str(get_version(tracking, NAME, "champion").version) == "2"
    # in agreement: nothing to do, nothing written
    n = len(audit.entries())
    assert reconcile(tracking, scoring, audit) == [] and len(audit.entries()) == n
    assert verify(audit.path).ok


def test_store_follows_audited_approvals(world: dict[str, Any], trained: Trained) -> None:
    tracking, audit, scoring = world["tracking"], world["audit"], world["scoring"]
    promote(tracking, NAME, "2", "champion", HEAD)
    # the store's update was lost (a crash after the audited promotion): reconcile applies it
    assert "sme-credit@champion" not in scoring.aliases()
    reconcile(tracking, scoring, audit)
    assert scoring.resolve("").version == "2"
    # a hand edit of models.json pointing the champion at the unapproved entry
    doc = json.loads(scoring.path.read_text())
    doc["aliases"][f"{NAME}@champion"] = f"{NAME}:{trained.lr.model_id_}"
    scoring.path.write_text(json.dumps(doc))
    with pytest.raises(FailedPrecondition):
        scoring.resolve("")  # the entry has no approval, so it does not serve
    reconcile(tracking, scoring, audit)
    assert scoring.resolve("").model_id == trained.sb.model_id_
    # only promotions by an approver count when replaying the log
    audit.append(
        "model_promoted",
        Actor("bank-a", "bank", ""),
        {"model_name": NAME, "model_version": "3", "alias": "champion"},
    )
    assert approved_state(audit, NAME)["champion"]["model_version"] == "2"
