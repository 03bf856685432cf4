"""Lineage of a registered model version, drawn from both nodes.

Sources: the bank's MLflow store (registered version, run params, metrics, inputs and the
``fedcredit/job.json`` artifact), the bank's audit log, and the platform's audit entries about
the job and the model (fetched by the caller over ``AuditService.ListEntries``; pass the
platform's audit public key to check their signatures).

``fedcredit audit lineage NAME[@VERSION] [--json]`` prints :func:`render_lineage` of
:func:`assemble_lineage`.
"""

from __future__ import annotations

import dataclasses
import json
import tempfile
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from bank_node.tracking.registry import (
    TAG_APPROVED_AT,
    TAG_APPROVED_BY,
    TAG_MODEL_ID,
    TAG_PLATFORM_DIGEST,
    TAG_PLATFORM_MODEL_ID,
    get_version,
    parse_model_spec,
)
from bank_node.tracking.run import JOB_ARTIFACT
from bank_node.tracking.store import Tracking
from models.audit import LogEntry, matches_model
from models.audit import events as ev
from models.audit.keychain import KeyChain
from models.errors import InvalidArgument

_SERVED_OUTCOMES = (None, ev.OUTCOME_OK)
#: Detail keys of the platform's own entries that attest its side of a job.
ATTESTED_KEYS = (
    "dataset_digest",
    "categories",
    "n_rows",
    "dataset",
    "platform_cert_fingerprint",
    "platform_part_digest",
)


@dataclass
class Lineage:
    """Everything a regulator asks about one model version (see :func:`assemble_lineage`)."""

    model: dict[str, Any]
    job: dict[str, Any]
    parties: dict[str, Any]
    data: dict[str, Any]
    psi: dict[str, Any]
    crypto: dict[str, Any]
    params: dict[str, Any]
    metrics: dict[str, Any]
    approvals: list[dict[str, Any]]
    scores: dict[str, Any]
    audit_trail: list[dict[str, Any]] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)
    cross_check: dict[str, Any] = field(default_factory=dict)
    """Filled by a regulator who compared the platform trail with the platform's own log."""
    privacy: dict[str, Any] = field(default_factory=dict)
    """The training protocol's privacy mode and its measured leakage (SecureBoost)."""

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, doc: dict[str, Any]) -> Lineage:
        """Rebuild a lineage from :meth:`to_dict` output (e.g. received over gRPC)."""
        names = {f.name for f in dataclasses.fields(cls)}
        if not isinstance(doc, dict) or not {"model", "job", "parties"} <= set(doc):
            raise InvalidArgument("the lineage document is malformed")
        return cls(**{k: v for k, v in doc.items() if k in names})


def _load_job_record(tracking: Tracking, run_id: str) -> dict[str, Any]:
    try:
        with tempfile.TemporaryDirectory(prefix="fedcredit-lineage-") as tmp:
            local = tracking.client.download_artifacts(run_id, JOB_ARTIFACT, tmp)
            data = json.loads(Path(local).read_text())
    except Exception:  # an absent or unreadable record is reported, not fatal
        return {}
    return data if isinstance(data, dict) else {}


def _metrics(tracking: Tracking, run: Any) -> dict[str, Any]:
    final: dict[str, float] = {}
    per_step: dict[str, dict[str, Any]] = {}
    for key, value in sorted(run.data.metrics.items()):
        if key.startswith("final."):
            final[key.removeprefix("final.")] = value
            continue
        history = tracking.client.get_metric_history(run.info.run_id, key)
        steps = sorted(history, key=lambda m: m.step)
        per_step[key] = {
            "n_steps": len(steps),
            "last": steps[-1].value if steps else value,
            "best": (min if "loss" in key else max)(m.value for m in steps) if steps else value,
        }
    return {"final": final, "per_step": per_step}


def _side(job_side: dict[str, Any]) -> dict[str, Any]:
    return {
        "dataset": job_side.get("dataset", ""),
        "digest": job_side.get("digest", ""),
        "n_rows": job_side.get("n_rows"),
        "date_range": job_side.get("date_range"),
        "categories": job_side.get("categories", []),
        "columns": [c[0] for c in job_side.get("schema", [])],
    }


def _trail(node: str, entries: Sequence[LogEntry]) -> list[dict[str, Any]]:
    return [
        {
            "node": node,
            "seq": e.seq,
            "ts": e.ts,
            "event": e.event,
            "actor": e.actor.party,
            "actor_cert_fingerprint": e.actor.cert_fingerprint,
            "job_id": str(e.details.get("job_id", "")),
            "hash": e.hash,
        }
        for e in entries
    ]


def related_job_ids(job_id: str) -> tuple[str, ...]:
    """The platform session ids of one training job: the job, its PSI and its describe.

    The job runner (``bank_node/jobs/runner.py``) opens ``<job>-psi`` for PSI,
    ``<job>-describe`` for the platform's dataset description, then ``<job>`` for training.
    """
    if not job_id:
        return ()
    return (job_id, f"{job_id}-psi", f"{job_id}-describe")


def is_related_job(candidate: object, job_id: str) -> bool:
    """``candidate`` is one of the job's sessions: :func:`related_job_ids`, or a later attempt
    (``<job>-psi-a<k>`` for a PSI repeated after a crash, ``<job>-r<k>`` for a retrained
    linear model)."""
    if not job_id or not isinstance(candidate, str):
        return False
    if candidate in related_job_ids(job_id):
        return True
    for prefix in (f"{job_id}-psi-a", f"{job_id}-r"):
        if candidate.startswith(prefix) and candidate[len(prefix) :].isdigit():
            return True
    return False


def _concerns(entry: LogEntry, job_id: str, model_keys: Sequence[str]) -> bool:
    if job_id and is_related_job(entry.details.get("job_id"), job_id):
        return True
    return any(k and matches_model(entry, k) for k in model_keys)


def assemble_lineage(
    tracking: Tracking,
    spec: str,
    bank_entries: Sequence[LogEntry] = (),
    platform_entries: Sequence[LogEntry] = (),
    *,
    platform_keys: KeyChain | None = None,
    platform_public_key: Ed25519PublicKey | None = None,
    bank_party: str = "",
) -> Lineage:
    """The lineage of ``NAME[@VERSION|@ALIAS]`` (default: the champion, else the latest).

    Parameters
    ----------
    tracking
        The bank's MLflow store.
    spec
        Model name with an optional ``@version`` or ``@alias``.
    bank_entries, platform_entries
        The two nodes' audit entries (all of them, or those about this job and model).
    platform_keys
        The platform's audit keys (root key and rotations); when given, platform entries with
        a bad signature are ignored and reported in ``warnings``.
    platform_public_key
        The platform's root key alone (for a log without rotations), if ``platform_keys`` is
        not given.
    bank_party
        Only count score requests this bank's node logged (default: any).
    """
    name, version_spec = parse_model_spec(spec)
    mv = get_version(tracking, name, version_spec)
    version = str(mv.version)
    tags = dict(mv.tags or {})
    run = tracking.client.get_run(mv.run_id)
    run_tags = dict(run.data.tags)
    record = _load_job_record(tracking, mv.run_id)
    job = record.get("job", {})
    warnings: list[str] = []
    if not job:
        warnings.append("the run has no fedcredit/job.json record; fields come from run tags")

    model_id = tags.get(TAG_MODEL_ID) or run_tags.get("fedcredit.model_id", "")
    platform_model_id = tags.get(TAG_PLATFORM_MODEL_ID) or model_id
    job_id = job.get("job_id") or run_tags.get("fedcredit.job_id", "")
    model_keys = (f"{name}@{version}", model_id, platform_model_id)

    if platform_keys is None and platform_public_key is not None:
        platform_keys = KeyChain(platform_public_key)
    if platform_keys is not None:
        good = [e for e in platform_entries if platform_keys.authentic(e)]
        if len(good) != len(platform_entries):
            warnings.append(
                f"{len(platform_entries) - len(good)} platform audit entries failed their "
                "signature check and were ignored"
            )
        platform_entries = good

    bank_rel = [e for e in bank_entries if _concerns(e, job_id, (f"{name}@{version}",))]
    plat_rel = [e for e in platform_entries if _concerns(e, job_id, model_keys[1:])]

    # scores served (bank: by name@version; platform: by the platform part's model id)
    def is_served(e: LogEntry) -> bool:
        return e.event == ev.SCORE_REQUEST and e.details.get("outcome") in _SERVED_OUTCOMES

    def by_bank(e: LogEntry) -> bool:
        party = e.actor.party
        return not bank_party or party == bank_party or party.startswith(bank_party + "/")

    bank_scores = [e for e in bank_rel if is_served(e) and by_bank(e)]
    bank_denied = [
        e
        for e in bank_rel
        if e.event == ev.SCORE_REQUEST and e.details.get("outcome") == ev.OUTCOME_DENIED
    ]
    platform_scores = [e for e in plat_rel if is_served(e)]

    # approvals: the audit log's history, else the registry's latest tags
    approvals = [
        {
            "alias": e.details.get("alias", ""),
            "approver": e.details.get("approver", ""),
            "at": e.ts,
            "previous_version": e.details.get("previous_version", ""),
            "source": "bank audit log",
        }
        for e in bank_rel
        if e.event == ev.MODEL_PROMOTED
    ]
    if not approvals and tags.get(TAG_APPROVED_BY):
        approvals.append(
            {
                "alias": ",".join(mv.aliases or ()),
                "approver": tags[TAG_APPROVED_BY],
                "at": tags.get(TAG_APPROVED_AT, ""),
                "previous_version": "",
                "source": "model registry tags",
            }
        )

    # the platform's own account of the job (its data digest and categories, the bank's cert)
    attested: dict[str, Any] = {}
    bank_name = job.get("bank", {}).get("party") or run_tags.get("fedcredit.bank.party", "")
    bank_cert_seen = ""
    for e in plat_rel:
        for key in ATTESTED_KEYS:
            if key in e.details and key not in attested:
                attested[key] = e.details[key]
        if (
            not bank_cert_seen
            and is_related_job(e.details.get("job_id"), job_id)
            and e.actor.party == bank_name
        ):
            bank_cert_seen = e.actor.cert_fingerprint
    bank_side = job.get("bank", {})
    plat_side = job.get("platform", {})
    platform_cert_attested = str(attested.pop("platform_cert_fingerprint", "") or "")
    part_attested = str(attested.pop("platform_part_digest", "") or "")
    if part_attested and part_attested != tags.get(TAG_PLATFORM_DIGEST, part_attested):
        warnings.append("the platform's saved model part differs from the registered one")
    platform_data = _side(plat_side)
    platform_data["attested_by_platform"] = attested
    if not plat_rel:
        warnings.append("no platform audit entries about this job or model were supplied")
    elif attested.get("dataset_digest") and attested["dataset_digest"] != plat_side.get("digest"):
        warnings.append("the platform's audited dataset digest differs from the one in MLflow")
    bank_cert = bank_side.get("cert_fingerprint") or run_tags.get(
        "fedcredit.bank.cert_fingerprint", ""
    )
    if bank_cert_seen and bank_cert and bank_cert_seen != bank_cert:
        warnings.append("the bank certificate the platform saw differs from the one recorded")
    platform_cert = plat_side.get("cert_fingerprint") or run_tags.get(
        "fedcredit.platform.cert_fingerprint", ""
    )
    if platform_cert_attested and platform_cert and platform_cert_attested != platform_cert:
        warnings.append("the platform's own certificate differs from the one the bank recorded")

    params = dict(run.data.params)
    psi_info = job.get("psi") or {
        "protocol": params.get("psi.protocol", ""),
        "bank_size": params.get("psi.bank_size"),
        "platform_size": params.get("psi.platform_size"),
        "intersection_size": params.get("psi.intersection_size"),
    }
    crypto = job.get("crypto") or {
        "scheme": params.get("crypto.scheme", ""),
        "key_bits": params.get("crypto.key_bits"),
    }
    parts = record.get("model_parts", {})
    privacy = dict(job.get("privacy") or {})
    if not privacy and params.get("privacy.mode"):
        privacy = {"mode": params["privacy.mode"]}
    return Lineage(
        model={
            "name": name,
            "version": version,
            "aliases": list(mv.aliases or ()),
            "model_id": model_id,
            "run_id": mv.run_id,
            "experiment_id": run.info.experiment_id,
            "registered_at_ms": mv.creation_timestamp,
            "source": mv.source,
            "bank_part_digest": tags.get("fedcredit.bank_part.digest")
            or parts.get("bank", {}).get("digest", ""),
            "platform_part_model_id": platform_model_id,
            "platform_part_digest": tags.get(TAG_PLATFORM_DIGEST, ""),
            "platform_part_digest_attested_by_platform": part_attested,
        },
        job={
            "job_id": job_id,
            "algorithm": job.get("algorithm") or params.get("algorithm", ""),
            "launched_by": job.get("launched_by") or run_tags.get("fedcredit.launched_by", ""),
            "launched_by_cert_fingerprint": job.get("launched_by_fingerprint")
            or run_tags.get("fedcredit.launched_by_fingerprint", ""),
            "launched_at": job.get("launched_at") or run_tags.get("fedcredit.launched_at", ""),
            "finished_at": job.get("finished_at", ""),
            "code_version": job.get("code_version") or run_tags.get("fedcredit.code_version", ""),
            "run_status": run.info.status,
        },
        parties={
            "bank": {
                "party": bank_side.get("party") or run_tags.get("fedcredit.bank.party", ""),
                "cert_fingerprint": bank_cert,
                "cert_fingerprint_seen_by_platform": bank_cert_seen,
            },
            "platform": {
                "party": plat_side.get("party") or run_tags.get("fedcredit.platform.party", ""),
                "cert_fingerprint": platform_cert,
                "cert_fingerprint_attested_by_platform": platform_cert_attested,
            },
        },
        data={"bank": _side(bank_side), "platform": platform_data},
        psi=dict(psi_info),
        crypto=dict(crypto),
        params=params,
        metrics=_metrics(tracking, run),
        approvals=approvals,
        scores={
            "served": len(bank_scores),
            "denied": len(bank_denied),
            "platform_parts_served": len(platform_scores),
        },
        audit_trail=_trail("bank", [e for e in bank_rel if e.event != ev.SCORE_REQUEST])
        + _trail("platform", [e for e in plat_rel if e.event != ev.SCORE_REQUEST]),
        warnings=warnings,
        privacy=privacy,
    )


def _fmt(value: Any) -> str:
    if value is None or value == "" or value == [] or value == {}:
        return "-"
    if isinstance(value, list):
        return ", ".join(_fmt(v) for v in value)
    if isinstance(value, float):
        return f"{value:.4f}"
    if isinstance(value, dict):
        return ", ".join(f"{k}={_fmt(v)}" for k, v in value.items())
    return str(value)


def render_lineage(lineage: Lineage, as_json: bool = False) -> str:
    """The lineage as indented JSON, or as a readable report."""
    if as_json:
        return json.dumps(lineage.to_dict(), indent=2, sort_keys=True, default=str)
    m, j, p = lineage.model, lineage.job, lineage.parties
    out: list[str] = []

    def section(title: str, rows: Sequence[tuple[str, Any]]) -> None:
        out.append(title)
        width = max((len(k) for k, _ in rows), default=0)
        out.extend(f"  {k.ljust(width)}  {_fmt(v)}" for k, v in rows)
        out.append("")

    aliases = f" ({', '.join(m['aliases'])})" if m["aliases"] else ""
    out.append(f"Model {m['name']} version {m['version']}{aliases}")
    out.append("")
    section(
        "Model",
        [
            ("model id", m["model_id"]),
            ("MLflow run", m["run_id"]),
            ("bank part digest", m["bank_part_digest"]),
            (
                "platform part",
                f"{m['platform_part_model_id']} (digest {m['platform_part_digest']})",
            ),
            (
                "platform part attested by platform",
                m.get("platform_part_digest_attested_by_platform", ""),
            ),
        ],
    )
    section(
        "Job",
        [
            ("job id", j["job_id"]),
            ("algorithm", j["algorithm"]),
            (
                "launched by",
                f"{j['launched_by']} (cert {j['launched_by_cert_fingerprint'] or '-'})",
            ),
            ("launched at", j["launched_at"]),
            ("finished at", j["finished_at"]),
            ("code version", j["code_version"]),
            ("run status", j["run_status"]),
        ],
    )
    section(
        "Parties",
        [
            ("bank", f"{p['bank']['party']} (cert {p['bank']['cert_fingerprint'] or '-'})"),
            ("bank cert seen by platform", p["bank"]["cert_fingerprint_seen_by_platform"]),
            (
                "platform",
                f"{p['platform']['party']} (cert {p['platform']['cert_fingerprint'] or '-'})",
            ),
            (
                "platform cert attested by platform",
                p["platform"].get("cert_fingerprint_attested_by_platform", ""),
            ),
        ],
    )
    for side in ("bank", "platform"):
        d = lineage.data[side]
        rows = [
            ("dataset", d["dataset"]),
            ("digest", d["digest"]),
            ("rows", d["n_rows"]),
            ("date range", d["date_range"]),
            ("categories", d["categories"]),
            ("columns", len(d["columns"])),
        ]
        if side == "platform":
            rows.append(("attested by platform", d["attested_by_platform"]))
        section(f"Data ({side})", rows)
    section("PSI", list(lineage.psi.items()))
    section("Crypto", list(lineage.crypto.items()))
    if lineage.privacy:
        p_ = lineage.privacy
        section(
            "Privacy (training)",
            [
                ("mode", p_.get("mode", "")),
                ("protocol version", p_.get("protocol_version", "")),
                ("measured on", p_.get("measured_on", "")),
                *sorted(dict(p_.get("measured", {})).items()),
            ],
        )
    section("Parameters", sorted(lineage.params.items()))
    section("Metrics (final)", sorted(lineage.metrics["final"].items()))
    section(
        "Metrics (per tree/epoch: last, best, steps)",
        [
            (k, f"{v['last']:.4f}, {v['best']:.4f}, {v['n_steps']}")
            for k, v in sorted(lineage.metrics["per_step"].items())
        ],
    )
    section(
        "Approvals",
        [
            (
                a["alias"],
                f"{a['approver']} at {a['at']}"
                + (
                    f" (replacing version {a['previous_version']})" if a["previous_version"] else ""
                ),
            )
            for a in lineage.approvals
        ]
        or [("none", "")],
    )
    section(
        "Scores",
        [
            ("served", lineage.scores["served"]),
            ("denied", lineage.scores["denied"]),
            ("platform parts served", lineage.scores["platform_parts_served"]),
        ],
    )
    section(
        "Audit trail",
        [
            (
                f"{t['node']}#{t['seq']}",
                f"{t['ts']} {t['event']}"
                + (f" [{t['job_id']}]" if t.get("job_id") else "")
                + f" by {t['actor']}",
            )
            for t in lineage.audit_trail
        ]
        or [("none", "")],
    )
    if lineage.cross_check:
        section("Regulator cross-check", list(lineage.cross_check.items()))
    if lineage.warnings:
        section("Warnings", [(f"{i + 1}.", w) for i, w in enumerate(lineage.warnings)])
    return "\n".join(out).rstrip() + "\n"
