"""Several non-negative integers per Paillier plaintext, with headroom for the sums that follow.

A plaintext holds ``n_slots`` slots of ``slot_bits`` bits; slot 0 is the least significant.
Adding packed plaintexts adds slot by slot as long as no slot reaches ``2**slot_bits`` (carry).
Each slot keeps ``guard_bits`` (default 1) top bits that must stay clear: :meth:`SlotPacker.pack`
refuses inputs that touch them and :meth:`SlotPacker.unpack` raises :class:`OverflowDetected`
when a sum did. Callers size ``slot_bits`` for the largest sum they will form (see
:func:`gh_packer_for`), so a slot can only overflow if that contract is broken, and then the
guard bit, the top-carry check and the optional known bound report it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.errors import InvalidArgument, OverflowDetected

#: Bits kept free below the key size so a packed value is always below ``n``.
KEY_MARGIN_BITS = 2


class SlotPacker:
    """Pack ``n_slots`` values of ``slot_bits`` bits (including guard bits) per plaintext."""

    def __init__(self, slot_bits: int, n_slots: int, key_bits: int, guard_bits: int = 1) -> None:
        if slot_bits <= guard_bits or n_slots < 1 or guard_bits < 1:
            raise InvalidArgument("slot sizes are invalid")
        if n_slots * slot_bits > key_bits - KEY_MARGIN_BITS:
            raise InvalidArgument("packed slots do not fit in the plaintext space")
        self.slot_bits = slot_bits
        self.n_slots = n_slots
        self.key_bits = key_bits
        self.guard_bits = guard_bits
        self.total_bits = slot_bits * n_slots
        self.value_limit = 1 << (slot_bits - guard_bits)  # every slot value stays below this

    def pack(self, columns: np.ndarray) -> list[int]:
        """Pack rows of an ``(n, n_slots)`` integer array; column 0 goes to slot 0."""
        arr = np.asarray(columns)
        if arr.ndim != 2 or arr.shape[1] != self.n_slots:
            raise InvalidArgument("columns must have shape (n, n_slots)")
        if arr.dtype.kind not in "iuO":
            raise InvalidArgument("packed values must be integers")
        limit = self.value_limit
        s = self.slot_bits
        rows = arr.tolist()
        out: list[int] = []
        for row in rows:
            acc = 0
            for v in reversed(row):
                v = int(v)
                if v < 0 or v >= limit:
                    raise OverflowDetected("a value does not fit in its slot")
                acc = (acc << s) | v
            out.append(acc)
        return out

    def unpack(self, ints: Sequence[int], max_slot_value: int | None = None) -> np.ndarray:
        """Inverse of :meth:`pack` (after any sums): ``(n, n_slots)`` object array of ints.

        Raises :class:`OverflowDetected` if a value is negative or carries beyond the top slot,
        if a slot's guard bits are set, or if a slot exceeds ``max_slot_value`` when given.
        """
        s = self.slot_bits
        mask = (1 << s) - 1
        limit = (
            self.value_limit
            if max_slot_value is None
            else min(self.value_limit, max_slot_value + 1)
        )
        top = 1 << self.total_bits
        out = np.empty((len(ints), self.n_slots), dtype=object)
        for i, v in enumerate(ints):
            v = int(v)
            if v < 0 or v >= top:
                raise OverflowDetected("a packed value overflowed its top slot")
            for j in range(self.n_slots):
                x = v & mask
                if x >= limit:
                    raise OverflowDetected("a packed slot overflowed")
                out[i, j] = x
                v >>= s
        return out


@dataclass(frozen=True)
class GHPacker:
    """Gradient ``g`` in [-1, 1] and hessian ``h`` in [0, 1] in one plaintext.

    ``g`` is stored as ``round(g * 2**f) + 2**f`` (>= 0), ``h`` as ``round(h * 2**f)``; both slots
    have room for the sum of ``max_rows`` rows. Sums of ``count`` rows decode exactly to
    ``(sum round(g*2**f)) / 2**f`` and ``(sum round(h*2**f)) / 2**f``.
    """

    packer: SlotPacker
    frac_bits: int
    max_rows: int

    @property
    def total_bits(self) -> int:
        """Bits used by one packed (g, h) plaintext, the slot size for compression."""
        return self.packer.total_bits

    def pack(self, g: np.ndarray, h: np.ndarray) -> list[int]:
        """One plaintext per row."""
        g = np.asarray(g, dtype=np.float64).reshape(-1)
        h = np.asarray(h, dtype=np.float64).reshape(-1)
        if g.shape != h.shape:
            raise InvalidArgument("gradients and hessians have different lengths")
        if not (np.all(np.isfinite(g)) and np.all(np.isfinite(h))):
            raise OverflowDetected("a gradient or hessian is not finite")
        if np.any(np.abs(g) > 1.0) or np.any(h < 0.0) or np.any(h > 1.0):
            raise OverflowDetected("gradients must be in [-1, 1] and hessians in [0, 1]")
        f = self.frac_bits
        one = 1 << f
        gi = np.rint(np.ldexp(g, f)).astype(np.int64) + one
        hi = np.rint(np.ldexp(h, f)).astype(np.int64)
        s = self.packer.slot_bits
        if 2 * s <= 62:
            return list(((hi << s) | gi).tolist())
        return [(b << s) | a for a, b in zip(gi.tolist(), hi.tolist(), strict=True)]

    def unpack_sums(
        self, ints: Sequence[int], counts: Sequence[int] | np.ndarray
    ) -> tuple[np.ndarray, np.ndarray]:
        """Decode sums of packed rows: ``counts[i]`` rows were added into ``ints[i]``.

        Returns float arrays ``(G, H)``. Raises :class:`OverflowDetected` if a count exceeds
        ``max_rows`` or a slot is out of its possible range.
        """
        cnt = [int(c) for c in np.asarray(counts).reshape(-1).tolist()]
        if len(cnt) != len(ints):
            raise InvalidArgument("counts and sums have different lengths")
        if any(c < 0 or c > self.max_rows for c in cnt):
            raise OverflowDetected("more rows were summed than the packing has room for")
        f = self.frac_bits
        one = 1 << f
        slots = self.packer.unpack(ints, max_slot_value=self.max_rows * 2 * one)
        scale = float(one)
        g_out = np.empty(len(cnt), dtype=np.float64)
        h_out = np.empty(len(cnt), dtype=np.float64)
        for i, c in enumerate(cnt):
            gs, hs = int(slots[i, 0]), int(slots[i, 1])
            if gs > 2 * one * c or hs > one * c:
                raise OverflowDetected("a packed sum is out of its possible range")
            g_out[i] = (gs - c * one) / scale
            h_out[i] = hs / scale
        return g_out, h_out


def gh_packer_for(n_rows: int, frac_bits: int, key_bits: int) -> GHPacker:
    """A :class:`GHPacker` with headroom for the sum of up to ``n_rows`` rows."""
    if n_rows < 1 or frac_bits < 1:
        raise InvalidArgument("n_rows and frac_bits must be positive")
    max_slot = n_rows * (2 << frac_bits)  # largest possible sum in either slot
    slot_bits = max_slot.bit_length() + 1  # one guard bit
    return GHPacker(SlotPacker(slot_bits, 2, key_bits), frac_bits, n_rows)
