"""Registered models: versions bound to both model parts, aliases and approvals.

A registered version's source is the run's ``model/`` artifact (the bank's part); the
platform's part is bound to the same version by tags (``fedcredit.platform_part.model_id``,
``fedcredit.platform_part.digest``). Aliases are ``champion`` (serves scores) and
``challenger`` (candidate). Every registration and promotion is also an audit entry.

A promotion needs a principal with the ``approver`` role (an identity from a certificate,
see :func:`proto.transport.local_identity.certified_person`), never a free-text name: the
approver is the audit entry's actor. :mod:`bank_node.governance` wraps this with the scoring
store and the reconciliation of MLflow's aliases against the recorded approvals.
"""

from __future__ import annotations

import contextlib
import dataclasses
import re
from typing import Any

from bank_node.tracking.records import (
    Approval,
    JobRecord,
    ModelVersionRef,
    RunInfo,
    TrainingResult,
)
from bank_node.tracking.run import MODEL_DIR
from bank_node.tracking.store import Tracking
from models.audit import Actor, ActorLike
from models.audit import events as ev
from models.audit.entry import utc_timestamp
from models.errors import InvalidArgument, NotFound, PermissionDenied

ALIASES = ("champion", "challenger")
_NAME_RE = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
TAG_MODEL_ID = "fedcredit.model_id"
TAG_JOB_ID = "fedcredit.job_id"
TAG_BANK_DIGEST = "fedcredit.bank_part.digest"
TAG_REGISTERED_AUDITED = "fedcredit.registered_audited"
TAG_PLATFORM_PARTY = "fedcredit.platform_part.party"
TAG_PLATFORM_MODEL_ID = "fedcredit.platform_part.model_id"
TAG_PLATFORM_DIGEST = "fedcredit.platform_part.digest"
TAG_APPROVED_BY = "fedcredit.approved_by"
TAG_APPROVED_AT = "fedcredit.approved_at"
TAG_APPROVED_FP = "fedcredit.approved_by.cert_fingerprint"
APPROVER_ROLE = "approver"


def _check_name(name: str) -> str:
    if not isinstance(name, str) or not _NAME_RE.match(name):
        raise InvalidArgument("model names are 1-64 letters, digits, '_', '.', '-'")
    return name


def _is_missing(exc: Exception) -> bool:
    code = getattr(exc, "error_code", "")
    return code in ("RESOURCE_DOES_NOT_EXIST", "NOT_FOUND", "INVALID_PARAMETER_VALUE")


def _ref(mv: Any) -> ModelVersionRef:
    return ModelVersionRef(
        name=mv.name,
        version=str(mv.version),
        run_id=mv.run_id or "",
        model_id=(mv.tags or {}).get(TAG_MODEL_ID, ""),
        aliases=tuple(mv.aliases or ()),
    )


def register_model(
    tracking: Tracking,
    name: str,
    run: RunInfo,
    job: JobRecord,
    result: TrainingResult,
    *,
    description: str = "",
) -> ModelVersionRef:
    """Register the run's model as a new version of ``name`` with both parts bound to it."""
    from mlflow.exceptions import MlflowException

    _check_name(name)
    client = tracking.client
    try:
        client.get_registered_model(name)
    except MlflowException as exc:
        if not _is_missing(exc):
            raise
        client.create_registered_model(
            name,
            tags={"fedcredit.kind": "federated-credit-model"},
            description="Federated credit model (bank part in MLflow, platform part on the "
            "platform, bound by model id and digest).",
        )
    tags = {
        TAG_MODEL_ID: result.model_id,
        TAG_JOB_ID: job.job_id,
        TAG_BANK_DIGEST: result.bank_part.digest,
        "fedcredit.algorithm": job.algorithm,
    }
    # a job rerun after a crash during its registration reuses the version it registered
    # (same job, model id and bank part) instead of registering the model twice
    existing = [
        v
        for v in client.search_model_versions(f"name = '{name}'")
        if all((v.tags or {}).get(k) == tags[k] for k in (TAG_MODEL_ID, TAG_JOB_ID))
        and (v.tags or {}).get(TAG_BANK_DIGEST) == result.bank_part.digest
    ]
    if existing:
        mv = min(existing, key=lambda v: int(v.version))
        run = dataclasses.replace(run, run_id=str(mv.run_id))
    else:
        mv = client.create_model_version(
            name,
            source=f"{run.artifact_uri.rstrip('/')}/{MODEL_DIR}",
            run_id=run.run_id,
            tags=tags,
            description=description or f"{job.algorithm} trained by job {job.job_id}",
        )
    version = str(mv.version)
    audited = (getattr(mv, "tags", None) or {}).get(TAG_REGISTERED_AUDITED) == "1"
    bind_platform_part(
        tracking,
        name,
        version,
        party=result.platform_part.party,
        model_id=result.platform_part.model_id or result.model_id,
        digest=result.platform_part.digest,
    )
    if not audited:
        tracking.record(
            ev.MODEL_REGISTERED,
            {
                "model_name": name,
                "model_version": version,
                "model_id": result.model_id,
                "job_id": job.job_id,
                "run_id": run.run_id,
                "bank_part_digest": result.bank_part.digest,
                "platform_part_digest": result.platform_part.digest,
                "parties": [job.bank.party, job.platform.party],
            },
        )
        client.set_model_version_tag(name, version, TAG_REGISTERED_AUDITED, "1")
    return ModelVersionRef(name, version, run.run_id, result.model_id)


def bind_platform_part(
    tracking: Tracking, name: str, version: str, *, party: str, model_id: str, digest: str
) -> None:
    """Tag version ``version`` of ``name`` with the platform part it pairs with."""
    client = tracking.client
    client.set_model_version_tag(name, version, TAG_PLATFORM_PARTY, party)
    client.set_model_version_tag(name, version, TAG_PLATFORM_MODEL_ID, model_id)
    client.set_model_version_tag(name, version, TAG_PLATFORM_DIGEST, digest)


def get_version(tracking: Tracking, name: str, version: str | None = None) -> Any:
    """The MLflow ``ModelVersion`` for a version number or an alias.

    Without ``version``: the ``champion``, else the latest version. :class:`NotFound` if none.
    """
    from mlflow.exceptions import MlflowException

    _check_name(name)
    client = tracking.client
    try:
        if version is None:
            try:
                return client.get_model_version_by_alias(name, "champion")
            except MlflowException as exc:
                if not _is_missing(exc):
                    raise
            versions = client.search_model_versions(f"name = '{name}'")
            if not versions:
                raise NotFound("no such registered model")
            return max(versions, key=lambda v: int(v.version))
        if version.isdigit():
            return client.get_model_version(name, version)
        return client.get_model_version_by_alias(name, version)
    except MlflowException as exc:
        if _is_missing(exc):
            raise NotFound("no such registered model version") from None
        raise


def parse_model_spec(spec: str) -> tuple[str, str | None]:
    """``"NAME[@VERSION|@ALIAS]"`` -> ``(name, version or alias or None)``."""
    name, _, version = spec.partition("@")
    return _check_name(name), (version or None)


def list_versions(tracking: Tracking, name: str) -> list[ModelVersionRef]:
    """Every version of ``name``, oldest first."""
    versions = tracking.client.search_model_versions(f"name = '{_check_name(name)}'")
    return sorted((_ref(v) for v in versions), key=lambda r: int(r.version))


def promote(
    tracking: Tracking,
    name: str,
    version: str,
    alias: str,
    approver: ActorLike,
    *,
    details: dict[str, Any] | None = None,
) -> Approval:
    """Give ``alias`` (champion / challenger) to a version; ``approver`` approved it.

    ``approver`` is an authenticated principal with the ``approver`` role (party
    ``<bank>/<name>``, its certificate fingerprint); anything else is refused with
    :class:`PermissionDenied`. The approval is stored on the version
    (``fedcredit.approved_by``/``_at``/``.cert_fingerprint`` and
    ``fedcredit.approval.<alias>.by``/``.at``) and in an audit entry ``model_promoted`` whose
    actor is the approver (``details`` adds keys, e.g. the OS account that ran the command).
    A challenger promoted to champion loses its challenger alias.
    """
    if alias not in ALIASES:
        raise InvalidArgument("alias is champion or challenger")
    if isinstance(approver, str) or not hasattr(approver, "role"):
        raise PermissionDenied("a promotion needs an approver identity, not a name")
    who = Actor.of(approver)
    if who.role != APPROVER_ROLE or "/" not in who.party:
        raise PermissionDenied("a promotion needs a principal with the approver role")
    mv = get_version(tracking, name, str(version))
    version = str(mv.version)
    client = tracking.client
    previous = ""
    with contextlib.suppress(NotFound):
        previous = str(get_version(tracking, name, alias).version)
    now = utc_timestamp()
    record = {
        "model_name": name,
        "model_version": version,
        "model_id": (mv.tags or {}).get(TAG_MODEL_ID, ""),
        "alias": alias,
        "approver": who.party,
        "approver_cert_fingerprint": who.cert_fingerprint,
        "previous_version": previous,
        **(details or {}),
    }
    # the audit entry first: an alias in MLflow without its approval entry is refused by the
    # reconciliation, so a crash between the two steps cannot leave an unapproved champion
    tracking.record(ev.MODEL_PROMOTED, record, who)
    client.set_registered_model_alias(name, alias, version)
    if alias == "champion" and "challenger" in (mv.aliases or ()):
        client.delete_registered_model_alias(name, "challenger")
    for key, value in (
        (TAG_APPROVED_BY, who.party),
        (TAG_APPROVED_AT, now),
        (TAG_APPROVED_FP, who.cert_fingerprint),
        (f"fedcredit.approval.{alias}.by", who.party),
        (f"fedcredit.approval.{alias}.at", now),
    ):
        client.set_model_version_tag(name, version, key, value)
    return Approval(name, version, alias, who.party, now, previous)
