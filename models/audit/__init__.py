"""Tamper-evident audit log: hash-chained, Ed25519-signed JSON lines (pure, no transport).

Usage::

    from models.audit import AuditLog, Actor, verify, load_or_create_signing_key

    key = load_or_create_signing_key(data_dir / "audit" / "audit_ed25519.pem")
    log = AuditLog(data_dir / "audit" / "audit.jsonl", key, actor=Actor("bank-a", "bank", fp))
    log.append("score_request", caller, {"uscc": ..., "model_name": "credit", ...})
    report = verify(data_dir / "audit" / "audit.jsonl")   # or verify(path, pinned_public_key)
    assert report.ok, report.summary()

See ``docs/governance.md`` for the format and the access model.
"""

from models.audit.entry import Actor, ActorLike, LogEntry, entry_authentic
from models.audit.keys import (
    generate_signing_key,
    key_fingerprint,
    load_or_create_signing_key,
    load_public_key,
    load_signing_key,
    public_key_path,
)
from models.audit.log import AuditLog, read_entries
from models.audit.query import entry_parties, matches_model, query, visible_entries
from models.audit.verify import PROBLEMS, VerifyReport, verify

__all__ = [
    "PROBLEMS",
    "Actor",
    "ActorLike",
    "AuditLog",
    "LogEntry",
    "VerifyReport",
    "entry_authentic",
    "entry_parties",
    "generate_signing_key",
    "key_fingerprint",
    "load_or_create_signing_key",
    "load_public_key",
    "load_signing_key",
    "matches_model",
    "public_key_path",
    "query",
    "read_entries",
    "verify",
    "visible_entries",
]
