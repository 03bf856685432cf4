"""The agreed row order of a PSI job, persisted by the platform under the job's state dir.

A later training job whose params name the PSI job (``alignment=<psi job id>``) reloads it
with ``load_alignment(data_dir / "jobs" / psi_job_id)`` and aligns the platform's table with
``PartyTable.align_to``. Files: ``alignment.npy`` (a ``str`` array, ``allow_pickle=False``)
and ``alignment.json`` (count and SHA-256 digest, checked on load).
"""

from __future__ import annotations

import hashlib
import json
import os
from pathlib import Path

import numpy as np

from models.errors import DataLoss, NotFound

ALIGNMENT_NPY = "alignment.npy"
ALIGNMENT_JSON = "alignment.json"
FORMAT = "fedcredit-alignment/1"


def alignment_digest(ids: np.ndarray) -> str:
    """SHA-256 over the ids in order (each UTF-8 encoded and length-prefixed)."""
    h = hashlib.sha256(FORMAT.encode())
    for value in np.asarray(ids).astype(str).tolist():
        raw = value.encode("utf-8")
        h.update(len(raw).to_bytes(4, "big"))
        h.update(raw)
    return h.hexdigest()


def _atomic_write(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".tmp")
    with open(tmp, "wb") as f:
        f.write(data)
        f.flush()
        os.fsync(f.fileno())
    os.replace(tmp, path)


def save_alignment(state_dir: Path, ids: np.ndarray) -> None:
    """Write the aligned ids of a job to ``state_dir`` (atomically, npy + digest)."""
    state_dir = Path(state_dir)
    state_dir.mkdir(parents=True, exist_ok=True)
    arr = np.asarray(ids).astype(str)
    if arr.ndim != 1:
        arr = arr.reshape(-1)
    npy_tmp = state_dir / (ALIGNMENT_NPY + ".tmp")
    with open(npy_tmp, "wb") as f:
        np.save(f, arr, allow_pickle=False)
        f.flush()
        os.fsync(f.fileno())
    os.replace(npy_tmp, state_dir / ALIGNMENT_NPY)
    meta = {"format": FORMAT, "n": int(arr.shape[0]), "sha256": alignment_digest(arr)}
    _atomic_write(state_dir / ALIGNMENT_JSON, json.dumps(meta, sort_keys=True).encode())


def has_alignment(state_dir: Path) -> bool:
    return (Path(state_dir) / ALIGNMENT_JSON).exists()


def load_alignment(state_dir: Path) -> np.ndarray:
    """Read the aligned ids of a job and check them against the stored digest.

    Raises
    ------
    NotFound
        If the job has no stored alignment (not a finished PSI job).
    DataLoss
        If the files are unreadable or do not match their digest.
    """
    state_dir = Path(state_dir)
    npy, meta_path = state_dir / ALIGNMENT_NPY, state_dir / ALIGNMENT_JSON
    if not npy.exists() or not meta_path.exists():
        raise NotFound("no stored PSI alignment for this job")
    try:
        meta = json.loads(meta_path.read_text())
        arr = np.load(npy, allow_pickle=False)
    except (OSError, ValueError):
        raise DataLoss("the stored PSI alignment cannot be read") from None
    if arr.ndim != 1 or arr.dtype.kind != "U":
        raise DataLoss("the stored PSI alignment has the wrong shape or type")
    if (
        meta.get("format") != FORMAT
        or meta.get("n") != int(arr.shape[0])
        or meta.get("sha256") != alignment_digest(arr)
    ):
        raise DataLoss("the stored PSI alignment does not match its digest")
    return arr
