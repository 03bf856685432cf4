"""A node's data directory is private to the node's account.

Everything a node writes under its data directory (the catalogue store, audit log and its
SQLite index, consent registry, session specs and step digests, job state, aligned ids and
raw partial results, model parts, MLflow runs and artifacts, keys) holds data about
companies or secrets: files are 0600 and directories 0700. :func:`secure_node_dir` sets the
process umask to 0077 (so that every library writing there, SQLite, DuckDB, numpy and MLflow
included, creates private files) and tightens what an earlier version left readable, once per
data directory (marker ``.private-v1``).
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

MARKER = ".private-v1"
UMASK = 0o077


def secure_node_dir(data_dir: Path) -> None:
    """Make ``data_dir`` and everything under it private to this account (see module doc)."""
    os.umask(UMASK)
    data_dir = Path(data_dir)
    data_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
    _tighten(data_dir)
    if (data_dir / MARKER).exists():
        return
    for root, dirs, files in os.walk(data_dir, followlinks=False):
        for name in dirs + files:
            _tighten(Path(root) / name)
    fd = os.open(data_dir / MARKER, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
    os.close(fd)


def _tighten(path: Path) -> None:
    try:
        st = path.lstat()
    except FileNotFoundError:
        return
    if stat.S_ISLNK(st.st_mode):
        return
    mode = stat.S_IMODE(st.st_mode)
    if mode & 0o077:
        os.chmod(path, mode & ~0o077)


def loose_files(data_dir: Path) -> list[str]:
    """Paths under ``data_dir`` (relative) that group or others may read, write or enter."""
    out = []
    for root, dirs, files in os.walk(data_dir, followlinks=False):
        for name in dirs + files:
            p = Path(root) / name
            st = p.lstat()
            if not stat.S_ISLNK(st.st_mode) and stat.S_IMODE(st.st_mode) & 0o077:
                out.append(str(p.relative_to(data_dir)))
    if stat.S_IMODE(Path(data_dir).stat().st_mode) & 0o077:
        out.append(".")
    return sorted(out)
