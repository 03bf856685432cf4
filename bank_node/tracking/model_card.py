"""The model card logged with each run (``model_card.json``): what the model is, how it was
made, on what (digests and categories, never rows), how well it does, and its limits."""

from __future__ import annotations

from typing import Any

from bank_node.tracking.records import JobRecord, TrainingResult

MODEL_CARD_VERSION = 1


def privacy_params(result: TrainingResult) -> dict[str, str]:
    """MLflow params of the differential privacy applied (``privacy.<scope>.epsilon``)."""
    return {
        f"privacy.{scope}.epsilon": repr(float(rec["epsilon"]))
        for scope, rec in result.privacy.items()
    }


def build_model_card(job: JobRecord, result: TrainingResult) -> dict[str, Any]:
    def side(d: Any, part: Any) -> dict[str, Any]:
        return {
            "party": d.party,
            "cert_fingerprint": d.cert_fingerprint,
            "dataset": d.dataset,
            "dataset_digest": d.digest,
            "n_rows": d.n_rows,
            "date_range": list(d.date_range) if d.date_range else None,
            "categories": list(d.categories),
            "n_columns": len(d.schema),
            "model_part_digest": part.digest,
            "model_part_id": part.model_id or result.model_id,
        }

    card: dict[str, Any] = {
        "model_card_version": MODEL_CARD_VERSION,
        "model_id": result.model_id,
        "job_id": job.job_id,
        "algorithm": job.algorithm,
        "task": "probability of default of a company (binary classification)",
        "intended_use": (
            "Credit decisions of the bank on companies that consented to scoring; the score is "
            "one input for a credit officer, not an automatic decision."
        ),
        "training": {
            "launched_by": job.launched_by,
            "launched_by_fingerprint": job.launched_by_fingerprint,
            "launched_at": job.launched_at,
            "finished_at": job.finished_at,
            "code_version": job.code_version,
            "hyper_parameters": dict(job.params),
            "crypto": {
                "scheme": job.crypto.scheme,
                "key_bits": job.crypto.key_bits,
                **job.crypto.settings,
            },
            "psi": {
                "protocol": job.psi.protocol,
                "bank_size": job.psi.bank_size,
                "platform_size": job.psi.platform_size,
                "intersection_size": job.psi.intersection_size,
            },
        },
        "parties": {
            "bank": side(job.bank, result.bank_part),
            "platform": side(job.platform, result.platform_part),
        },
        "metrics": dict(result.final_metrics),
        "importance_by_party_and_category": {p: dict(c) for p, c in result.importance.items()},
        "privacy": (
            "Vertical federated training: each party's features stayed on its node; the platform "
            "saw only encrypted gradients or statistics and the aligned ids from PSI. Platform "
            "features are reported by category only."
            + (
                f" Training privacy mode: {job.privacy.get('mode')} (protocol version "
                f"{job.privacy.get('protocol_version')}); what each side can infer is in "
                "privacy_measured and docs/secureboost.md."
                if job.privacy
                else ""
            )
        ),
        "privacy_mode": job.privacy.get("mode", "") if job.privacy else "",
        "privacy_measured": dict(job.privacy) if job.privacy else {},
        "limitations": (
            "Valid for companies like those in the training window; performance outside the "
            "date range or for companies without platform records is not measured here."
        ),
    }
    if result.privacy:
        card["differential_privacy"] = {scope: dict(r) for scope, r in result.privacy.items()}
        card["privacy"] += " " + " ".join(
            f"Differential privacy on {scope.replace('_', ' ')}: epsilon = {r['epsilon']:g} "
            f"({r.get('mechanism', '')} noise applied by the {r.get('applied_by', 'platform')}; "
            "it covers that release only, not the model's training or scores)."
            for scope, r in result.privacy.items()
        )
    return card
