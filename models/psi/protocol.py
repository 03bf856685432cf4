"""Constants and chunk arithmetic shared by both halves of the PSI protocol."""

from __future__ import annotations

from models.errors import InvalidArgument

VERSION = "fedcredit-psi/1"
GROUP = "ristretto255"
ALGORITHM = "psi"

DEFAULT_CHUNK = 50_000
"""Points per message (50k points = 1.6 MB of payload)."""

MAX_CHUNK = 262_144
"""The platform refuses larger chunks (8 MiB of points per message)."""

MAX_SET = 100_000_000
"""Largest set either party accepts."""


def n_chunks(n: int, chunk_size: int) -> int:
    """Number of chunks covering ``n`` items (0 for an empty set)."""
    return -(-n // chunk_size)


def chunk_bounds(chunk: int, n: int, chunk_size: int) -> tuple[int, int]:
    """``[start, stop)`` of chunk ``chunk`` over ``n`` items.

    Raises
    ------
    InvalidArgument
        If the chunk index is out of range.
    """
    if not 0 <= chunk < n_chunks(n, chunk_size):
        raise InvalidArgument("chunk index is out of range")
    start = chunk * chunk_size
    return start, min(n, start + chunk_size)


def step_id(prefix: str, phase: str, chunk: int | None = None) -> str:
    """Deterministic step id ``<prefix>/<phase>[/<chunk>]``."""
    return f"{prefix}/{phase}" if chunk is None else f"{prefix}/{phase}/{chunk}"
