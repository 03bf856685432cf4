"""Helpers shared by the LR engine tests (training sessions driven by hand)."""

from __future__ import annotations

from models.federation.peer import PassivePeer
from models.logreg.sessions import model_session_spec


def open_train_session(peer: PassivePeer, job: str) -> None:
    """Open the platform's LR training session of ``job`` (model id = job id)."""
    peer.open_session(
        model_session_spec(
            job_id=job,
            algorithm="logreg",
            dataset="",
            session_params=None,
            model_id=job,
            purpose="train",
        )
    )
