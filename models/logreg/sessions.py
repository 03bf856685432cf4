"""Session specs of the LR-family jobs (``logreg``, ``scorecard``, ``binning``)."""

from __future__ import annotations

from collections.abc import Mapping

from models.federation.session import SessionSpec


def model_session_spec(
    *,
    job_id: str,
    algorithm: str,
    dataset: str,
    session_params: Mapping[str, str] | None,
    model_id: str,
    purpose: str,
) -> SessionSpec:
    """The spec of one session about ``model_id``.

    Parameters
    ----------
    job_id, algorithm, dataset:
        As in :class:`~models.federation.session.SessionSpec`.
    session_params:
        What the platform's data provider needs (catalogue categories, as-of date, ...).
    model_id, purpose:
        Added to the params (``purpose``: ``"train"``, ``"score"`` or ``"binning"``); they
        override keys of the same name in ``session_params``.
    """
    return SessionSpec(
        job_id=job_id,
        algorithm=algorithm,
        dataset=dataset,
        params={**dict(session_params or {}), "model_id": model_id, "purpose": purpose},
    )
