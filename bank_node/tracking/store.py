"""Where the bank's MLflow tracking and model registry live, and how to reach them.

Default (``Tracking.for_data_dir``): a SQLite database ``<data dir>/mlflow/mlflow.db`` for
runs and the registry, and ``<data dir>/mlflow/artifacts`` for artifacts. Any MLflow tracking
URI works instead (``http://host:5000`` for an ``mlflow server``, ``postgresql://...``).

All calls go through an explicit :class:`mlflow.MlflowClient`; nothing sets MLflow's global
tracking URI, so several nodes (or tests) in one process do not interfere.
"""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from models.audit import Actor, ActorLike, AuditLog, LogEntry

if TYPE_CHECKING:
    from mlflow import MlflowClient

DEFAULT_EXPERIMENT = "fedcredit-training"
#: MLflow 3's UI opens an experiment on its GenAI (traces) page unless the experiment is tagged
#: as classic model development; ours holds training runs.
EXPERIMENT_KIND_TAG = "mlflow.experimentKind"
EXPERIMENT_KIND = "custom_model_development"


def default_uris(data_dir: str | os.PathLike[str]) -> tuple[str, str]:
    """``(tracking_uri, artifact_location)`` of the default store under a bank data dir."""
    root = Path(data_dir).resolve() / "mlflow"
    return f"sqlite:///{root / 'mlflow.db'}", (root / "artifacts").as_uri()


class Tracking:
    """A bank node's MLflow tracking store and model registry.

    Parameters
    ----------
    tracking_uri
        Any MLflow tracking URI.
    registry_uri
        Model registry URI (default: the tracking URI).
    artifact_location
        Artifact root for the experiment when this object creates it (needed for a local
        database store; a tracking server decides on its own).
    experiment
        Experiment that holds the training runs.
    audit, actor
        The bank's audit log and the node identity used as default actor for registrations
        and promotions.
    """

    def __init__(
        self,
        tracking_uri: str,
        *,
        registry_uri: str | None = None,
        artifact_location: str | None = None,
        experiment: str = DEFAULT_EXPERIMENT,
        audit: AuditLog | None = None,
        actor: ActorLike | None = None,
    ) -> None:
        self.tracking_uri = tracking_uri
        self.registry_uri = registry_uri or tracking_uri
        self.artifact_location = artifact_location
        self.experiment = experiment
        self.audit = audit
        self.actor = Actor.of(actor) if actor is not None else None
        self._client: MlflowClient | None = None
        self._experiment_id: str | None = None

    @classmethod
    def for_data_dir(cls, data_dir: str | os.PathLike[str], **kwargs: Any) -> Tracking:
        """The default store: SQLite and artifacts under ``<data_dir>/mlflow``."""
        tracking_uri, artifacts = default_uris(data_dir)
        (Path(data_dir).resolve() / "mlflow").mkdir(parents=True, exist_ok=True)
        return cls(tracking_uri, artifact_location=artifacts, **kwargs)

    @property
    def client(self) -> MlflowClient:
        if self._client is None:
            from mlflow import MlflowClient  # slow import, deferred

            self._client = MlflowClient(
                tracking_uri=self.tracking_uri, registry_uri=self.registry_uri
            )
        return self._client

    def experiment_id(self) -> str:
        """The training experiment's id, created on first use."""
        if self._experiment_id is None:
            exp = self.client.get_experiment_by_name(self.experiment)
            if exp is not None:
                self._experiment_id = str(exp.experiment_id)
                if (exp.tags or {}).get(EXPERIMENT_KIND_TAG) != EXPERIMENT_KIND:
                    self.client.set_experiment_tag(
                        self._experiment_id, EXPERIMENT_KIND_TAG, EXPERIMENT_KIND
                    )
            else:
                self._experiment_id = str(
                    self.client.create_experiment(
                        self.experiment,
                        artifact_location=self.artifact_location,
                        tags={
                            "fedcredit.kind": "federated-training",
                            EXPERIMENT_KIND_TAG: EXPERIMENT_KIND,
                        },
                    )
                )
        return self._experiment_id

    def ui_command(self) -> str:
        """The shell command that opens the MLflow UI on this store."""
        cmd = f"mlflow ui --backend-store-uri '{self.tracking_uri}'"
        if self.registry_uri != self.tracking_uri:
            cmd += f" --registry-store-uri '{self.registry_uri}'"
        return cmd + " --port 5000"

    def record(
        self, event: str, details: Mapping[str, Any], actor: ActorLike | None = None
    ) -> LogEntry | None:
        """Append an entry to the bank's audit log (no-op without one)."""
        if self.audit is None:
            return None
        return self.audit.append(event, actor if actor is not None else self.actor, details)
