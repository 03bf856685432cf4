"""Model governance on the bank: who may promote, what serves, and MLflow aliases kept honest.

Rules
-----
- Scoring serves ``NAME@champion`` unless an officer names another *approved* version
  (:meth:`bank_node.scoring.model_store.ModelStore.resolve`). A trained version is registered
  unapproved (``NAME@latest``) and never serves by default.
- A promotion (:func:`promote_version`) needs a principal with the ``approver`` role whose
  identity comes from its certificate and key (:func:`proto.transport.local_identity.
  certified_person`). It is audited (``model_promoted``, actor = the approver), then given to
  the version in MLflow and recorded in the scoring store.
- MLflow's aliases are the single source of truth for *which* version holds an alias, but only
  an alias backed by an audited approval counts. :func:`reconcile` replays the approvals from
  the bank's signed audit log and compares them with MLflow's aliases and the scoring store:

  * in agreement: the store follows MLflow (an approved promotion whose store update was lost
    is applied);
  * an alias set, moved or deleted in MLflow outside fedcredit (its UI offers "edit alias" and
    "Promote model"): the change is refused: MLflow's alias is put back to the approved version
    (or removed when none was approved), the store keeps serving the approved version, and a
    ``model_alias_refused`` audit entry records what was found and what was done.

The bank's server runs :func:`reconcile` in the background (:class:`GovernanceWatcher`);
``fedcredit model list|promote|reconcile`` and ``fedcredit score models`` run it too.
"""

from __future__ import annotations

import logging
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from bank_node.config import BankConfig
from models.audit import Actor, ActorLike, AuditLog
from models.audit import events as ev
from models.errors import FedCreditError

log = logging.getLogger("fedcredit.bank.governance")

#: Audit event: an alias found in MLflow without an audited approval was refused.
MODEL_ALIAS_REFUSED = "model_alias_refused"
#: Audit event: a recorded approval was applied to the scoring store by reconciliation.
MODEL_ALIAS_RECONCILED = "model_alias_reconciled"
APPROVER_ROLE = "approver"


@dataclass(frozen=True)
class AliasDrift:
    """One alias where MLflow disagreed with the approvals in the audit log."""

    name: str
    alias: str
    mlflow_version: str  # "" = no alias in MLflow
    approved_version: str  # "" = never approved
    action: str  # "reverted" | "removed"


def approver_identity(config: BankConfig, cert_dir: Path) -> Actor:
    """The approver whose certificate directory is ``cert_dir``, proven by its key and checked
    against the bank's CA, role ``approver``, organisation = this bank."""
    from models.errors import InvalidArgument
    from proto.transport.local_identity import certified_person

    if config.tls is None:
        raise InvalidArgument("the bank's config names no pki_dir: approvers cannot be checked")
    who = certified_person(
        cert_dir, config.tls.ca, roles=(APPROVER_ROLE,), organisation=config.party
    )
    return Actor.of(who)


def approved_state(audit: AuditLog, name: str) -> dict[str, dict[str, Any]]:
    """``{alias: details of the promotion in force}`` replayed from the audit log.

    Only ``model_promoted`` entries whose actor has the approver role count. A champion
    promotion of the challenger's version removes the challenger (as :func:`promote` does).
    """
    state: dict[str, dict[str, Any]] = {}
    for entry in audit.query(event=ev.MODEL_PROMOTED):
        d = entry.details
        if d.get("model_name") != name or entry.actor.role != APPROVER_ROLE:
            continue
        alias, version = str(d.get("alias", "")), str(d.get("model_version", ""))
        if alias not in ("champion", "challenger") or not version:
            continue
        rec = dict(d) | {
            "by": entry.actor.party,
            "role": entry.actor.role,
            "cert_fingerprint": entry.actor.cert_fingerprint,
            "at": entry.ts,
            "seq": entry.seq,
        }
        if alias == "champion" and state.get("challenger", {}).get("model_version") == version:
            del state["challenger"]
        state[alias] = rec
    return state


def _approval(rec: dict[str, Any]) -> dict[str, str]:
    return {
        "by": str(rec["by"]),
        "role": str(rec["role"]),
        "cert_fingerprint": str(rec["cert_fingerprint"]),
        "at": str(rec["at"]),
        "version": str(rec.get("model_version", "")),
        "audit_seq": str(rec.get("seq", "")),
    }


def _mlflow_aliases(tracking: Any, name: str) -> dict[str, str] | None:
    from mlflow.exceptions import MlflowException

    try:
        registered = tracking.client.get_registered_model(name)
    except MlflowException:
        return None  # not an MLflow model: the store and the audit log govern it alone
    return {str(a): str(v) for a, v in dict(registered.aliases or {}).items()}


def reconcile(
    tracking: Any,
    store: Any,
    audit: AuditLog,
    *,
    actor: ActorLike | None = None,
    names: tuple[str, ...] = (),
) -> list[AliasDrift]:
    """Bring MLflow's aliases and the scoring store in line with the audited approvals.

    Checks every model the scoring store serves, and ``names``. Returns the drifts found (and
    refused). See the module docstring for the rules.
    """
    drifts: list[AliasDrift] = []
    names = tuple(sorted({e.name for e in store.entries()} | set(names)))
    for name in names:
        mlflow = _mlflow_aliases(tracking, name)
        approved = approved_state(audit, name)
        if mlflow is not None:
            for alias in ("champion", "challenger"):
                have, want = mlflow.get(alias, ""), approved.get(alias, {}).get("model_version", "")
                if have == str(want):
                    continue
                if want:
                    tracking.client.set_registered_model_alias(name, alias, str(want))
                    action = "reverted"
                else:
                    tracking.client.delete_registered_model_alias(name, alias)
                    action = "removed"
                drift = AliasDrift(name, alias, have, str(want), action)
                drifts.append(drift)
                tracking.record(
                    MODEL_ALIAS_REFUSED,
                    {
                        "model_name": name,
                        "alias": alias,
                        "mlflow_version": have,
                        "approved_version": str(want),
                        "action": action,
                    },
                    actor,
                )
                log.warning(
                    "refused an alias change made outside fedcredit: %s@%s -> version %s "
                    "(approved: %s); %s",
                    name,
                    alias,
                    have or "none",
                    want or "none",
                    action,
                )
        _sync_store(store, name, approved, tracking, actor)
    return drifts


def _sync_store(
    store: Any, name: str, approved: dict[str, dict[str, Any]], tracking: Any, actor: Any
) -> None:
    """The store's approved aliases of ``name`` = the audited approvals."""
    aliases = store.aliases()
    for alias in ("champion", "challenger"):
        rec = approved.get(alias)
        current = aliases.get(f"{name}@{alias}", "")
        if rec is None:
            if current:
                store.drop_alias(name, alias)
            continue
        model_id = str(rec.get("model_id", ""))
        key = f"{name}:{model_id}"
        served = {e.key: e for e in store.entries()}
        if key not in served:
            if current:  # the approved version is not served here: serve nothing under it
                store.drop_alias(name, alias)
            continue
        entry = served[key]
        if current == key and alias in entry.approvals:
            continue
        store.approve(name, alias, model_id, _approval(rec))
        tracking.record(
            MODEL_ALIAS_RECONCILED,
            {"model_name": name, "alias": alias, "model_version": str(rec["model_version"]),
             "model_id": model_id, "approval_seq": int(rec["seq"])},
            actor,
        )  # fmt: skip


def promote_version(
    config: BankConfig,
    name: str,
    version: str,
    alias: str,
    approver: ActorLike,
    *,
    tracking: Any = None,
    audit: AuditLog | None = None,
    details: dict[str, Any] | None = None,
) -> tuple[Any, bool]:
    """Promote ``name`` version ``version`` to ``alias`` (audited, MLflow, scoring store).

    Returns ``(Approval, served)`` where ``served`` says whether the scoring service serves the
    version (its store has the model's part).
    """
    from bank_node.audit_service import bank_audit_log
    from bank_node.jobs.tracking_glue import bank_tracking
    from bank_node.scoring.model_store import ModelStore
    from bank_node.tracking import promote

    audit = audit or bank_audit_log(config)
    tracking = tracking or bank_tracking(config, audit)
    # refuse first anything MLflow holds that was not approved, so the "previous version"
    # recorded is the approved one
    store = ModelStore(config.data_dir)
    reconcile(tracking, store, audit, actor=tracking.actor, names=(name,))
    approval = promote(tracking, name, version, alias, approver, details=details)
    rec = approved_state(audit, name).get(alias)
    if rec is not None and f"{name}:{rec.get('model_id', '')}" in {e.key for e in store.entries()}:
        store.approve(name, alias, str(rec["model_id"]), _approval(rec))
    drifts = reconcile(tracking, store, audit, actor=tracking.actor, names=(name,))
    if drifts:  # pragma: no cover - the promotion's own entry backs the alias it set
        raise FedCreditError("the promotion could not be reconciled with MLflow")
    served = any(
        e.name == name and e.version == approval.version and alias in e.approvals
        for e in store.entries()
    )
    return approval, served


def approve_served(
    store: Any,
    audit: AuditLog,
    entry: Any,
    alias: str,
    approver: ActorLike,
    *,
    details: dict[str, Any] | None = None,
) -> None:
    """Approve a part served outside the MLflow registry (``fedcredit score register
    --approve``): audited like a promotion (``model_promoted``, actor = the approver), then
    recorded in the store."""
    from models.audit.entry import utc_timestamp
    from models.errors import PermissionDenied

    who = Actor.of(approver)
    if who.role != APPROVER_ROLE:
        raise PermissionDenied("an approval needs a principal with the approver role")
    previous = store.aliases().get(f"{entry.name}@{alias}", "").partition(":")[2]
    logged = audit.append(
        ev.MODEL_PROMOTED,
        who,
        {
            "model_name": entry.name,
            "model_version": entry.version or entry.model_id,
            "model_id": entry.model_id,
            "alias": alias,
            "approver": who.party,
            "approver_cert_fingerprint": who.cert_fingerprint,
            "previous_version": previous,
            **(details or {}),
        },
    )
    store.approve(
        entry.name,
        alias,
        entry.model_id,
        {
            "by": who.party,
            "role": who.role,
            "cert_fingerprint": who.cert_fingerprint,
            "at": logged.ts if logged is not None else utc_timestamp(),
            "version": entry.version,
            "audit_seq": str(logged.seq) if logged is not None else "",
        },
    )


def has_tracking_store(config: BankConfig) -> bool:
    """Whether the bank has an MLflow store to reconcile (a local SQLite store only once a
    job created it, so nothing heavy is imported or created before)."""
    uri = config.tracking_uri
    if uri.startswith("sqlite:///"):
        return Path(uri[len("sqlite:///") :]).is_file()
    return bool(uri) or (config.data_dir / "mlflow" / "mlflow.db").is_file()


class GovernanceWatcher:
    """Reconciles the bank's MLflow aliases every ``interval_s`` seconds (a daemon thread).

    Runs only when the bank has an MLflow store (a configured ``tracking_uri`` or an existing
    ``<data_dir>/mlflow/mlflow.db``), so a node that never trained imports nothing heavy.
    """

    def __init__(self, config: BankConfig, audit: AuditLog, interval_s: float = 10.0) -> None:
        self.config = config
        self.audit = audit
        self.interval_s = interval_s
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="governance", daemon=True)
        self.drifts: list[AliasDrift] = []

    def start(self) -> GovernanceWatcher:
        self._thread.start()
        return self

    def stop(self) -> None:
        self._stop.set()

    def has_store(self) -> bool:
        return has_tracking_store(self.config)

    def check_once(self) -> list[AliasDrift]:
        from bank_node.jobs.tracking_glue import bank_tracking
        from bank_node.scoring.model_store import ModelStore

        if not self.has_store():
            return []
        tracking = bank_tracking(self.config, self.audit)
        drifts = reconcile(tracking, ModelStore(self.config.data_dir), self.audit,
                           actor=tracking.actor)  # fmt: skip
        self.drifts.extend(drifts)
        return drifts

    def _run(self) -> None:
        while not self._stop.wait(self.interval_s):
            try:
                self.check_once()
            except Exception:  # keep serving; the next round retries
                log.exception("model governance check failed")
