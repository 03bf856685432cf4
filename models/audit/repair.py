"""Repair the one fault a crash can leave in an audit log: a torn last line.

An append writes its line and then the signed head; power lost in the middle of the line
leaves an incomplete last line, and every later append refuses with DataLoss (the log would
otherwise chain onto garbage). :func:`repair` verifies every complete entry before that line
(hash chain, signatures, key rotations and the signed head, :func:`models.audit.verify.verify`
on the complete part) and only then cuts the torn bytes off. The bytes are kept beside the log
(``<log>.torn-<seq>``, 0600) for review. The caller then appends an ``audit_repaired`` entry
recording the repair (:func:`repair_details`), so the repair itself is part of the chain.

Any other problem (a modified, deleted or reordered entry, a bad signature) is not repaired:
that is tampering or corruption for a person to investigate, and the function refuses.
"""

from __future__ import annotations

import fcntl
import hashlib
import os
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from models.audit.keys import PathLike, head_path, public_key_path
from models.audit.verify import verify
from models.errors import DataLoss


@dataclass(frozen=True)
class RepairReport:
    """``repaired``: whether bytes were cut; ``n_entries``/``last_seq``/``last_hash``: the
    verified log that remains; ``torn_bytes``/``torn_sha256``/``saved_to``: what was cut."""

    repaired: bool
    n_entries: int
    last_seq: int
    last_hash: str
    torn_bytes: int = 0
    torn_sha256: str = ""
    saved_to: str = ""


def repair_details(report: RepairReport) -> dict[str, Any]:
    """Details of the ``audit_repaired`` entry that records a repair."""
    return {
        "truncated_bytes": report.torn_bytes,
        "torn_sha256": report.torn_sha256,
        "last_good_seq": report.last_seq,
        "last_good_hash": report.last_hash,
        "saved_to": Path(report.saved_to).name,
    }


def repair(path: PathLike, public_key: Any = None) -> RepairReport:
    """Cut a torn last line off the log at ``path`` after verifying everything before it.

    Raises :class:`DataLoss` when the complete part does not verify (nothing is changed).
    Holds the log's exclusive lock, so no append runs meanwhile.
    """
    path = Path(path)
    fd = os.open(path, os.O_RDWR)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        size = os.fstat(fd).st_size
        data = os.pread(fd, size, 0) if size else b""
        keep = data.rfind(b"\n") + 1
        torn = data[keep:]
        with tempfile.TemporaryDirectory(dir=path.parent, prefix=".repair-") as tmp:
            probe = Path(tmp) / path.name
            probe.write_bytes(data[:keep])
            for src in (head_path(path), public_key_path(path)):
                if src.exists():
                    shutil.copyfile(src, Path(tmp) / src.name)
            report = verify(probe, public_key if public_key is not None else public_key_path(path))
        if not report.ok:
            raise DataLoss(
                f"the audit log does not verify before its last line ({report.problem} at "
                f"entry {report.first_bad_seq}): not repaired, investigate"
            )
        if not torn:
            return RepairReport(False, report.n_entries, report.head_seq, report.head_hash)
        saved = path.with_name(f"{path.name}.torn-{report.head_seq + 1}")
        sfd = os.open(saved, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        try:
            os.write(sfd, torn)
            os.fsync(sfd)
        finally:
            os.close(sfd)
        os.ftruncate(fd, keep)
        os.fsync(fd)
        return RepairReport(
            True,
            report.n_entries,
            report.head_seq,
            report.head_hash,
            torn_bytes=len(torn),
            torn_sha256=hashlib.sha256(torn).hexdigest(),
            saved_to=str(saved),
        )
    finally:
        os.close(fd)
