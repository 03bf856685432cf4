"""Fixed-point encoding of real numbers as exact Python integers: ``round(x * 2**frac_bits)``."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from models.errors import InvalidArgument, OverflowDetected

_INT64_SAFE = 2**62


def encode_fixed(
    x: np.ndarray | Sequence[float], frac_bits: int, max_abs: int | None = None
) -> list[int]:
    """Encode reals as integers ``round(x * 2**frac_bits)`` (round half to even).

    Parameters
    ----------
    x:
        Real values (any shape; flattened in C order).
    frac_bits:
        Number of fractional bits (>= 0).
    max_abs:
        Optional bound on the magnitude of the encoded integers; a value beyond it raises
        :class:`OverflowDetected`. Non-finite inputs always raise it.

    Returns
    -------
    list[int]
        Exact Python integers (scaling by a power of two is exact in binary floating point).
    """
    if frac_bits < 0:
        raise InvalidArgument("frac_bits must be non-negative")
    arr = np.asarray(x, dtype=np.float64).reshape(-1)
    if not np.all(np.isfinite(arr)):
        raise OverflowDetected("a value to encode is not finite")
    scaled = np.rint(np.ldexp(arr, frac_bits))
    if not np.all(np.isfinite(scaled)):
        raise OverflowDetected("a value to encode is too large for fixed point")
    if scaled.size and float(np.max(np.abs(scaled))) < _INT64_SAFE:
        out = scaled.astype(np.int64).tolist()
    else:
        out = [int(v) for v in scaled.tolist()]
    if max_abs is not None and out:
        lo, hi = min(out), max(out)
        if hi > max_abs or -lo > max_abs:
            raise OverflowDetected("a fixed-point value exceeds its bound")
    return out


def decode_fixed(ints: Sequence[int] | np.ndarray, frac_bits: int) -> np.ndarray:
    """Inverse of :func:`encode_fixed`: ``ints / 2**frac_bits`` as float64 (correctly rounded)."""
    if frac_bits < 0:
        raise InvalidArgument("frac_bits must be non-negative")
    vals = [int(v) for v in ints] if not isinstance(ints, list) else ints
    if not vals:
        return np.zeros(0, dtype=np.float64)
    if max(vals) < _INT64_SAFE and -min(vals) < _INT64_SAFE and max(map(abs, vals)) < 2**53:
        return np.ldexp(np.asarray(vals, dtype=np.int64).astype(np.float64), -frac_bits)
    scale = 1 << frac_bits
    return np.asarray([int(v) / scale for v in vals], dtype=np.float64)
