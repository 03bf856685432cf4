"""Run a training job from the bank: PSI -> describe -> fit -> save -> track -> audit.

Each phase is persisted (``bank_node/jobs/state.py``); running the same job id again resumes
after the last completed phase, and training itself resumes after the last completed tree.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import logging
import os
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from bank_node.config import BankConfig
from bank_node.jobs.algorithms import FitJob, FitOutcome, adapter_for
from bank_node.jobs.spec import JobSpec
from bank_node.jobs.state import JobState, JobStore
from models.audit.entry import Actor
from models.audit.events import PSI_RUN, TRAINING_COMPLETED, TRAINING_FAILED, TRAINING_STARTED
from models.dataset import PartyTable
from models.errors import DataLoss, InvalidArgument
from models.federation.peer import PassivePeer
from models.federation.session import DescribeRequest, DescribeResponse, SessionSpec

log = logging.getLogger("fedcredit.bank.jobs")

Callback = Callable[[dict[str, Any]], None]


@dataclass
class JobResult:
    job_id: str
    state: JobState
    outcome: FitOutcome | None = None
    metrics: dict[str, float] = field(default_factory=dict)


def load_bank_side(spec: JobSpec) -> PartyTable:
    from bank_node.loanbook.loader import load_bank_table

    return load_bank_table(
        spec.bank_data.path,
        as_of=spec.platform_data.as_of or None,
        id_column=spec.bank_data.id_column,
        label_column=spec.bank_data.label_column,
        positive_label=spec.bank_data.positive_label,
        categorical_columns=spec.bank_data.categorical_columns,
    )


MIN_CLASS_ROWS = 5


def check_training_labels(bank: PartyTable, spec: JobSpec) -> None:
    """Before any network call: rows to train on, two classes with a few rows of each."""
    if bank.n_rows == 0:
        when = spec.platform_data.as_of or "the as-of date"
        raise InvalidArgument(
            f"the bank data has no rows for platform_data.as_of = {when} (a loan book keeps "
            "the applications of the 12 months from it; check the date, e.g. a synthetic "
            "city's data_card.json)"
        )
    y = np.asarray(bank.y)
    if int(np.sum((y == 0) | (y == 1))) != y.size:
        raise InvalidArgument("the bank's labels must be 0 or 1")
    counts = [int(np.sum(y == c)) for c in (0, 1)]
    if min(counts) < MIN_CLASS_ROWS:
        raise InvalidArgument(
            f"training needs both classes with at least {MIN_CLASS_ROWS} rows each "
            f"(found {counts[0]} non-defaults and {counts[1]} defaults)"
        )


def split_rows(n: int, valid_fraction: float, seed: int) -> tuple[np.ndarray, np.ndarray]:
    """A fixed-seed random split of aligned row positions into train and validation."""
    order = np.random.default_rng(seed).permutation(n)
    n_valid = round(n * valid_fraction)
    return np.sort(order[n_valid:]), np.sort(order[:n_valid])


def ks_statistic(y: np.ndarray, score: np.ndarray) -> float:
    from sklearn.metrics import roc_curve

    fpr, tpr, _ = roc_curve(y, score)
    return float(np.max(tpr - fpr))


class JobRunner:
    """Drives one job end to end against the platform behind ``peer``."""

    def __init__(
        self,
        spec: JobSpec,
        config: BankConfig,
        peer: PassivePeer,
        *,
        callbacks: list[Callback] | None = None,
        should_stop: Callable[[], bool] | None = None,
        launched_by: str = "",
        audit: Any | None = None,
        register: bool = True,
        on_phase: Callable[[str], None] | None = None,
    ) -> None:
        self.spec = spec
        self.on_phase = on_phase or (lambda _phase: None)
        #: rows of the bank's table and invalid company codes dropped from it (after loading)
        self.bank_summary: dict[str, int] = {}
        self.config = config
        self.peer = peer
        self.callbacks = list(callbacks or [])
        self.should_stop = should_stop
        self.launched_by = launched_by or _whoami(config)
        self.store = JobStore(config.data_dir, spec.job_id)
        self.audit = audit
        self.register = register

    @property
    def psi_job_id(self) -> str:
        """The PSI session of this job's alignment (of its first PSI attempt)."""
        return f"{self.spec.job_id}-psi"

    def _psi_job_id(self, state: JobState) -> str:
        """The PSI session of the alignment: a PSI interrupted by a crash of either node cannot
        resume (the secret scalars lived in memory, and the platform refuses the same step ids
        with new bodies), so each attempt gets its own session; the one that completed is
        recorded in ``state.psi["job_id"]``."""
        if state.psi.get("job_id"):
            return str(state.psi["job_id"])
        n = max(1, state.psi_attempts)
        return self.psi_job_id if n == 1 else f"{self.psi_job_id}-a{n}"

    def _audit(self, event: str, details: dict[str, Any]) -> None:
        if self.audit is not None:
            self.audit.append(
                event,
                Actor(self.launched_by, "bank", ""),
                {"job_id": self.spec.job_id, **details},
            )

    # -- phases ------------------------------------------------------------------------------
    def align(self, state: JobState, bank: PartyTable) -> np.ndarray:
        """PSI with the platform; the agreed order is stored with the job."""
        path = self.store.aligned_ids_path
        if state.done("aligned") and path.exists():
            ids: np.ndarray = np.load(path, allow_pickle=False)
            return ids
        from models.psi.choose import AUTO_ALGORITHM
        from models.psi.unbalanced_active import PsiAutoActive
        from models.uscc import is_valid_uscc

        validator = is_valid_uscc if self.spec.bank_data.source == "loanbook" else None
        params = {**self.spec.platform_params()}
        if validator is not None:
            params["id_format"] = "uscc"
        state.psi_attempts += 1  # a new PSI session per attempt (see _psi_job_id)
        state.psi = {}
        self.store.save(state)
        psi_job = self._psi_job_id(state)
        self.peer.open_session(
            SessionSpec(psi_job, AUTO_ALGORITHM, self.spec.platform_data.dataset, params)
        )
        try:  # balanced or unbalanced PSI, chosen by size ratio (models/psi/choose.py)
            cache_dir = self.config.data_dir / "psi_cache" / self.peer.party
            run = PsiAutoActive(self.peer, cache_dir, id_validator=validator).run(bank.ids)
            result = run.result
        finally:
            with contextlib.suppress(Exception):
                self.peer.close_session("psi done")
        np.save(path, np.asarray(result.aligned_ids).astype(str), allow_pickle=False)
        state.psi = {
            "protocol": "ecdh-psi/ristretto255"
            if run.protocol == "balanced"
            else "oprf-psi/ristretto255 (unbalanced)",
            "job_id": psi_job,
            "n_bank": int(result.n_self),
            "n_platform": int(result.n_peer),
            "n_intersection": int(result.n_intersection),
            "n_duplicates": int(result.n_duplicates),
            "n_invalid": int(result.n_invalid),
        }
        state.phase = "aligned"
        self.store.save(state)
        self._audit(
            PSI_RUN,
            {
                "psi_protocol": state.psi["protocol"],
                "intersection_size": state.psi["n_intersection"],
                "n_bank": state.psi["n_bank"],
                "n_platform": state.psi["n_platform"],
            },
        )
        return np.asarray(result.aligned_ids).astype(str)

    def describe(self, state: JobState) -> DescribeResponse:
        job = f"{self.spec.job_id}-describe"
        params = {**self.spec.platform_params(), "alignment": self._psi_job_id(state)}
        self.peer.open_session(
            SessionSpec(job, "describe", self.spec.platform_data.dataset, params)
        )
        try:
            reply = self.peer.call("describe/0", DescribeRequest(True), DescribeResponse)
        finally:
            with contextlib.suppress(Exception):
                self.peer.close_session("described")
        state.platform = {
            "party": self.peer.party,
            "dataset": reply.dataset,
            "digest": reply.digest,
            "n_rows": reply.n_rows,
            "n_features": reply.n_features,
            "categories": list(reply.categories),
            "meta": dict(reply.meta),
        }
        self.store.save(state)
        return reply

    def train(self, state: JobState, bank: PartyTable) -> FitOutcome:
        spec = self.spec
        train_rows, valid_rows = split_rows(bank.n_rows, spec.valid_fraction, spec.seed)
        adapter = adapter_for(spec.algorithm)
        self._audit(
            TRAINING_STARTED,
            {"algorithm": spec.algorithm, "n_rows": bank.n_rows, "dataset_digest": bank.digest()},
        )
        session_params = {**spec.platform_params(), "alignment": self._psi_job_id(state)}
        state.attempts += 1
        self.store.save(state)
        try:
            job = FitJob(
                params=spec.params,
                key_bits=spec.key_bits,
                scheme=spec.scheme,
                job_id=self._training_session_id(state),
                dataset=spec.platform_data.dataset,
                session_params=session_params,
                train_rows=train_rows,
                valid_rows=valid_rows,
                checkpoint_dir=self.store.checkpoint_dir,
                model_dir=self.config.data_dir / "models" / spec.job_id,
                callbacks=self.callbacks,
                should_stop=self.should_stop,
                on_phase=self.on_phase,
            )
            outcome = adapter(job, bank, self.peer)
        except Exception as err:
            self._audit(TRAINING_FAILED, {"algorithm": spec.algorithm, "error": type(err).__name__})
            raise
        check_platform_part_key(
            self.config.data_dir, outcome.platform_key, outcome.platform_signature
        )
        y = np.asarray(bank.y)[valid_rows]
        metrics: dict[str, float] = {}
        if outcome.valid_scores is not None and valid_rows.size and np.unique(y).size == 2:
            from sklearn.metrics import roc_auc_score

            metrics["val_auc"] = float(roc_auc_score(y, outcome.valid_scores))
            metrics["val_ks"] = ks_statistic(y, outcome.valid_scores)
        state.model = {
            "model_id": outcome.model_id,
            "bank_part": str(outcome.model_path),
            "bank_part_digest": outcome.model_digest,
            "platform_part_digest": outcome.platform_digest,
            "platform_part_signature": outcome.platform_signature,
            "platform_model_key": outcome.platform_key,
            "n_train": int(train_rows.size),
            "n_valid": int(valid_rows.size),
        }
        state.metrics = metrics
        state.phase = "trained"
        self.store.save(state)
        self._audit(
            TRAINING_COMPLETED,
            {"algorithm": spec.algorithm, "model_id": outcome.model_id, **metrics},
        )
        return outcome

    def _audit_training_completed_once(self, state: JobState) -> None:
        """A crash between persisting the ``trained`` phase and auditing it leaves the job
        trained but unaudited: audit it on the rerun unless the entry is already there."""
        if self.audit is None:
            return
        model_id = str(state.model.get("model_id", ""))
        done = self.audit.query(event=TRAINING_COMPLETED, job_id=self.spec.job_id)
        if any(e.details.get("model_id") == model_id for e in done):
            return
        self._audit(
            TRAINING_COMPLETED,
            {"algorithm": self.spec.algorithm, "model_id": model_id, **state.metrics},
        )

    def _saved_outcome(self, state: JobState) -> FitOutcome:
        """The outcome of a job trained by an earlier run, from its persisted state (the
        model's parts and digests; the per-tree history and validation scores of the
        interrupted run are not logged again)."""
        m = state.model
        return FitOutcome(
            estimator=None,
            model_id=str(m["model_id"]),
            model_path=Path(str(m["bank_part"])),
            model_digest=str(m["bank_part_digest"]),
            platform_digest=str(m.get("platform_part_digest", "")),
            platform_signature=str(m.get("platform_part_signature", "")),
            platform_key=str(m.get("platform_model_key", "")),
        )

    def _serve(self, outcome: FitOutcome, version: str) -> None:
        """Register the new version with the scoring service as ``NAME@latest``: not approved,
        so it serves nothing until an approver promotes it (``fedcredit model promote``)."""
        from bank_node.scoring.model_store import ModelStore

        ModelStore(self.config.data_dir).register(
            self.spec.name,
            outcome.model_path,
            alias="latest",
            version=str(version),
            features=_feature_source(self.spec),
            as_of=self.spec.platform_data.as_of,
        )

    def _training_session_id(self, state: JobState) -> str:
        """SecureBoost checkpoints per tree and resumes in the same session; the linear
        algorithms restart training, so a new attempt gets a new session (and model) id and
        never collides with the platform's step cache of an interrupted attempt."""
        if self.spec.algorithm == "secureboost" or state.attempts <= 1:
            return self.spec.job_id
        return f"{self.spec.job_id}-r{state.attempts}"

    def run(self) -> JobResult:
        state = self.store.load()
        if not state.launched_at:
            state.launched_by = self.launched_by
            state.launched_at = dt.datetime.now(dt.UTC).isoformat(timespec="seconds")
            self.store.save(state)
        self.on_phase("loading bank data")
        bank = load_bank_side(self.spec)
        self.bank_summary = {
            "rows": bank.n_rows,
            "invalid_ids_dropped": int(bank.meta.get("rejected_invalid_codes", "0") or 0),
        }
        check_training_labels(bank, self.spec)  # before any network call
        self.on_phase("PSI: aligning companies")
        aligned = self.align(state, bank)
        bank_aligned = bank.align_to(aligned)
        self.on_phase("describing the platform's data")
        self.describe(state)
        outcome = None
        if not state.done("trained"):
            self.on_phase("training")
            outcome = self.train(state, bank_aligned)
        elif not state.done("registered") and self.register:
            # trained, then interrupted before registration finished (a crash while
            # registering): register the saved model instead of skipping it
            self._audit_training_completed_once(state)
            outcome = self._saved_outcome(state)
        if outcome is not None and not state.done("registered") and self.register:
            from bank_node.jobs.tracking_glue import track_and_register

            self.on_phase("registering in MLflow")
            _, valid_rows = split_rows(
                bank_aligned.n_rows, self.spec.valid_fraction, self.spec.seed
            )
            state.registry = track_and_register(
                self.spec,
                self.config,
                state,
                outcome,
                bank_aligned,
                np.asarray(bank_aligned.y)[valid_rows],
                self.audit,
            )
            self._serve(outcome, state.registry.get("model_version", ""))
            state.phase = "registered"
            self.store.save(state)
        return JobResult(self.spec.job_id, state, outcome, dict(state.metrics))


def _feature_source(spec: JobSpec) -> dict[str, str]:
    """Where the scoring service finds the bank's features for this model."""
    if spec.bank_data.source == "loanbook":
        return {"kind": "loanbook", "dir": str(spec.bank_data.path.resolve())}
    return {
        "kind": "table",
        "path": str(spec.bank_data.path.resolve()),
        "id_column": spec.bank_data.id_column,
    }


def _whoami(config: BankConfig) -> str:
    """Who launched the job: the OS account that ran it (not ``$USER``, which is free text)."""
    from proto.transport.local_identity import os_account

    return f"{config.party}/{os_account()}"


def check_platform_part_key(data_dir: Path, key: str, signature: str) -> None:
    """The platform must sign the model part it saved (the estimator verified the signature
    over the digest it sent), with the same model-signing key for every job: the key is pinned
    on first use in ``<bank data>/pins/platform_model_key`` (delete the file to accept a new
    key after the platform's operator announces one)."""
    if not key or not signature:
        raise DataLoss("the platform did not sign its model part")
    path = Path(data_dir) / "pins" / "platform_model_key"
    if path.exists():
        if path.read_text(encoding="ascii").strip() != key:
            raise DataLoss(
                "the platform signed its model part with another key than the pinned one"
            )
        return
    path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
    tmp = path.with_name(".platform_model_key.tmp")
    tmp.write_text(key + "\n", encoding="ascii")
    os.replace(tmp, path)
