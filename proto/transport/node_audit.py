"""Opening a node's audit log from its data directory (no gRPC: the operator's commands that
work on a node's files, e.g. consent grants and served tables, start fast)."""

from __future__ import annotations

from pathlib import Path

from models.audit.entry import Actor
from models.audit.keys import load_or_create_signing_key
from models.audit.log import AuditLog


def open_node_audit_log(data_dir: Path, party: str, role: str, *, fsync: bool = False) -> AuditLog:
    """The node's audit log under ``<data_dir>/audit`` with its Ed25519 signing key (opened by
    path, so that a key rotation by another process is followed). Opening it also registers
    the node's model-signing key for ``data_dir`` (``models/part_signing.py``) and makes the
    data directory private (``proto/transport/node_files.py``): every process working on a
    node's data directory opens its audit log first."""
    from models.part_signing import register_node_key
    from proto.transport.node_files import secure_node_dir

    secure_node_dir(data_dir)  # 0600 files, 0700 directories
    register_node_key(data_dir)  # the node's model parts are signed with its key
    audit_dir = data_dir / "audit"
    key_path = audit_dir / "audit_signing_key.pem"
    if not key_path.exists() and not key_path.with_name(key_path.name + ".next").exists():
        load_or_create_signing_key(key_path)
    return AuditLog(audit_dir / "audit.jsonl", key_path, actor=Actor(party, role, ""), fsync=fsync)
