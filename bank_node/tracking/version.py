"""The code version recorded with every training run."""

from __future__ import annotations

import functools
import subprocess
from importlib import metadata
from pathlib import Path

_REPO = Path(__file__).resolve().parents[2]


@functools.cache
def code_version() -> str:
    """``"fedcredit <package version> (git <describe>)"``, or without the git part."""
    try:
        pkg = metadata.version("fedcredit")
    except metadata.PackageNotFoundError:
        pkg = "unknown"
    try:
        out = subprocess.run(
            ["git", "describe", "--always", "--dirty", "--tags"],
            cwd=_REPO,
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return f"fedcredit {pkg}"
    described = out.stdout.strip()
    if out.returncode != 0 or not described:
        return f"fedcredit {pkg}"
    return f"fedcredit {pkg} (git {described})"
