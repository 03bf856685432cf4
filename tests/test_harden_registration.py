"""Registration is idempotent across a crash (issue 14 row 13, the registration phase): a job
rerun after a crash during its registration registers the same model once (the version the
crashed run created is reused, and the registration is audited once).
The end-to-end case with real processes is in ``tests/test_harden_crash.py`` (slow)."""

from __future__ import annotations

from pathlib import Path

from bank_node.tracking import list_versions, log_training_run, register_model
from bank_node.tracking.registry import TAG_REGISTERED_AUDITED
from models.audit import events as ev
from models.audit import verify
from tests.test_tracking import fake_job, fake_result, make_store


def test_rerun_of_a_registration_reuses_the_version(tmp_path: Path) -> None:
    store = make_store(tmp_path)
    tracking, job, result = store["tracking"], store["job"], store["result"]
    # the rerun logs a new run and registers again: same job, model id and bank part
    again = register_model(
        tracking, "sme-credit", log_training_run(tracking, job, result), job, result
    )
    assert again.version == store["ref"].version == "1"
    assert again.run_id == store["ref"].run_id  # the version keeps its run
    assert [r.version for r in list_versions(tracking, "sme-credit")] == ["1"]
    # killed after the version was created but before the registration was audited
    tracking.client.delete_model_version_tag("sme-credit", "1", TAG_REGISTERED_AUDITED)
    register_model(tracking, "sme-credit", log_training_run(tracking, job, result), job, result)
    registered = [e for e in store["audit"].entries() if e.event == ev.MODEL_REGISTERED]
    assert len(registered) == 2  # the first registration, and the one the crash had missed
    register_model(tracking, "sme-credit", log_training_run(tracking, job, result), job, result)
    assert len([e for e in store["audit"].entries() if e.event == ev.MODEL_REGISTERED]) == 2
    # another model of another job is a new version
    job2, result2 = fake_job("job-0002"), fake_result(tmp_path, "mdl-0002", seed=1)
    ref2 = register_model(
        tracking, "sme-credit", log_training_run(tracking, job2, result2), job2, result2
    )
    assert ref2.version == "2"
    assert verify(store["audit"].path).ok
