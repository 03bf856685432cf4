"""Signed packing of a row's (g, h) into one Paillier plaintext, and of several bin sums into
one ciphertext.

A row's plaintext is ``V = hq * 2**S + gq`` with ``gq = round(g * 2**f)`` signed and
``hq = round(h * 2**f) >= 0``. Sums of such values stay of that form, and
``gq_sum = V mod 2**S`` read as a signed ``S``-bit number, ``hq_sum = (V - gq_sum) >> S``, as long
as ``|gq_sum| < 2**(S-1)``. No offset is added to ``g``, so decoding needs no per-bin row count
(the bank never learns how many rows fall in a platform bin). A negative ``V`` is the plaintext
``n - |V|``; the key holder decrypts to centred values.

Compression: ``slots_per_ciphertext`` such sums ``V_0 .. V_{k-1}`` (each ``|V_j| < 2**(B-1)``)
are combined as ``sum_j V_j * 2**(B*j)`` by shift-and-add on ciphertexts, and split back with
balanced base-``2**B`` digits after decryption.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from models.crypto.packing import KEY_MARGIN_BITS
from models.errors import InvalidArgument, OverflowDetected


@dataclass(frozen=True)
class GHLayout:
    """Bit layout for sums of up to ``max_rows`` rows with row weights up to ``max_weight``.

    Attributes
    ----------
    frac_bits:
        Fixed-point scale ``f``.
    g_bits:
        ``S``: width of the signed g part.
    slot_bits:
        ``B``: width of one packed (g, h) sum in a compressed ciphertext (signed digit).
    slots_per_ciphertext:
        ``k``: bin sums per compressed ciphertext.
    """

    frac_bits: int
    g_bits: int
    slot_bits: int
    slots_per_ciphertext: int

    @classmethod
    def for_rows(cls, max_rows: int, frac_bits: int, max_weight: float, key_bits: int) -> GHLayout:
        if max_rows < 1 or frac_bits < 1:
            raise InvalidArgument("max_rows and frac_bits must be positive")
        g_max = math.ceil(max_rows * max_weight) << frac_bits  # |g| <= weight
        h_max = (math.ceil(max_rows * max_weight) << frac_bits) // 4 + max_rows  # h <= weight / 4
        g_bits = g_max.bit_length() + 1
        v_max = (h_max << g_bits) + g_max
        slot_bits = v_max.bit_length() + 1
        k = (key_bits - KEY_MARGIN_BITS) // slot_bits
        if k < 1:
            raise InvalidArgument("the key is too short for one packed gradient sum")
        return cls(frac_bits, g_bits, slot_bits, k)

    def pack(self, gq: np.ndarray, hq: np.ndarray) -> list[int]:
        """One plaintext per row from fixed-point ``gq`` (signed) and ``hq`` (>= 0)."""
        if np.any(hq < 0):
            raise InvalidArgument("hessians must be non-negative")
        s = self.g_bits
        return [(h << s) + g for g, h in zip(gq.tolist(), hq.tolist(), strict=True)]

    def unpack(
        self, values: Sequence[int], *, signed_h: bool = False
    ) -> tuple[np.ndarray, np.ndarray]:
        """Split packed sums into int64 ``(gq_sum, hq_sum)`` arrays.

        A negative hessian sum means an overflow, unless ``signed_h`` (sums with the
        platform's noise added, which may push a small hessian sum below zero).
        """
        s = self.g_bits
        mask = (1 << s) - 1
        half = 1 << (s - 1)
        gs: list[int] = []
        hs: list[int] = []
        for v in values:
            g = v & mask
            if g >= half:
                g -= 1 << s
            h = (v - g) >> s
            if h < 0 and not signed_h:
                raise OverflowDetected("a packed hessian sum is negative")
            gs.append(g)
            hs.append(h)
        return np.asarray(gs, dtype=np.int64), np.asarray(hs, dtype=np.int64)

    def decompress(self, plaintexts: Sequence[int], count: int) -> list[int]:
        """Balanced base-``2**B`` digits of decrypted (centred) compressed plaintexts."""
        k = self.slots_per_ciphertext
        if count < 0 or count > len(plaintexts) * k or count <= (len(plaintexts) - 1) * k:
            raise InvalidArgument("value count does not match the compressed ciphertexts")
        b = self.slot_bits
        mask = (1 << b) - 1
        half = 1 << (b - 1)
        full = 1 << b
        out: list[int] = []
        for w in plaintexts:
            w = int(w)
            for _ in range(k):
                d = w & mask
                if d >= half:
                    d -= full
                out.append(d)
                w = (w - d) >> b
            if w != 0:
                raise OverflowDetected("a compressed histogram overflowed its slots")
        return out[:count]
