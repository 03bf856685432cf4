"""Row-wise simultaneous exponentiation ``prod_k c_ik^(e_ik) mod m`` for every row ``i``.

Vertical LR's platform raises each of a row's term ciphertexts to its own small exponent and
multiplies them (:mod:`models.logreg.paillier_terms`). Separate exponentiations cost one
squaring per exponent bit *per term*; Straus' (Shamir's) trick shares the squarings: a table of
the ``2^K - 1`` products of subsets of the row's bases, then one squaring per bit and one
multiplication per non-zero bit column. For two 12-bit exponents modulo a 4096-bit ``n^2``
this is about 1.6x cheaper than two ``powmod`` calls and a multiplication.

Large inputs are split by rows between the calling process and helper processes
(:mod:`models.crypto.parallel`; raw bytes, no pickle). The result is the same ciphertext
product either way (the computation is deterministic).
"""

from __future__ import annotations

from typing import Any

import numpy as np
from gmpy2 import mpz

from models.crypto.parallel import (
    array_to_frame,
    bytes_to_mpz,
    frame_to_array,
    handler,
    ints_to_bytes,
    reserved_helpers,
    resolve_workers,
)
from models.errors import InvalidArgument

#: Most bases per row (the subset table has ``2^K`` entries).
MAX_BASES = 6
#: Largest exponent size accepted (the per-bit digit matrix is built with numpy int64).
MAX_EXP_BITS = 62


def _digits(exps: np.ndarray) -> tuple[list[list[int]], int]:
    """Per row, the bit columns of the exponents from the top bit down, each as a subset mask
    (bit ``k`` set when exponent ``k`` has that bit)."""
    bits = int(exps.max(initial=0)).bit_length()
    if bits == 0:
        return [[] for _ in range(exps.shape[1])], 0
    cols = np.zeros((exps.shape[1], bits), dtype=np.int64)
    for k in range(exps.shape[0]):
        for b in range(bits):
            cols[:, bits - 1 - b] |= ((exps[k] >> b) & 1) << k
    return cols.tolist(), bits


def row_products_serial(
    bases: list[list[mpz]],
    exps: np.ndarray,
    modulus: mpz,
    factors: list[mpz] | None = None,
) -> list[mpz]:
    """``factors[i] * prod_k bases[k][i]^exps[k, i] mod modulus`` for each row ``i`` (no
    helpers; no factor when ``factors`` is ``None``)."""
    m = modulus
    K = len(bases)
    digits, _ = _digits(exps)
    one = mpz(1)
    out: list[mpz] = []
    size = 1 << K
    for i, row in enumerate(digits):
        tab = [one] * size
        for mask in range(1, size):
            low = mask & -mask
            rest = mask ^ low
            b = bases[low.bit_length() - 1][i]
            tab[mask] = b if rest == 0 else tab[rest] * b % m
        acc = one
        started = False
        for d in row:
            if started:
                acc = acc * acc % m
            if d:
                acc = acc * tab[d] % m if started else tab[d]
                started = True
        if factors is not None:
            acc = factors[i] * acc % m
        out.append(acc)
    return out


def row_products(
    bases: list[list[mpz]],
    exps: np.ndarray,
    modulus: mpz,
    width: int,
    *,
    factors: list[mpz] | None = None,
    workers: int | None = None,
) -> list[mpz]:
    """``factors[i] * prod_k bases[k][i]^exps[k, i] mod modulus`` per row ``i``.

    ``bases``: ``K`` lists of the same length ``n`` (values below ``modulus``); ``exps``:
    non-negative integers of shape ``(K, n)``; ``width``: bytes of ``modulus`` (for helpers);
    ``factors``: an optional list of ``n`` values multiplied in (e.g. a term with exponent 1).
    """
    exps = np.asarray(exps)
    K = len(bases)
    if not 1 <= K <= MAX_BASES or exps.ndim != 2 or exps.shape[0] != K:
        raise InvalidArgument("bases and exponents do not match")
    n = exps.shape[1]
    if any(len(b) != n for b in bases) or (factors is not None and len(factors) != n):
        raise InvalidArgument("bases and exponents do not match")
    if exps.dtype.kind not in "iu":
        raise InvalidArgument("exponents must be integers")
    exps = exps.astype(np.int64)
    if n == 0:
        return []
    if int(exps.min()) < 0 or int(exps.max()).bit_length() > MAX_EXP_BITS:
        raise InvalidArgument("exponents must be non-negative and below 2^62")
    bits = max(1, int(exps.max()).bit_length())
    n_workers = resolve_workers(workers, n * K * bits)
    if n_workers <= 1 or n < 16 * n_workers:
        return row_products_serial(bases, exps, modulus, factors)
    bounds = np.linspace(0, n, n_workers + 1).astype(int).tolist()
    with reserved_helpers(n_workers - 1) as team:
        for j, h in enumerate(team, start=1):
            lo, hi = bounds[j], bounds[j + 1]
            desc, data = array_to_frame(exps[:, lo:hi])
            frames = [ints_to_bytes(b[lo:hi], width) for b in bases]
            if factors is not None:
                frames.append(ints_to_bytes(factors[lo:hi], width))
            h.submit(
                "row_products",
                {"modulus": int(modulus), "width": width, "exps": desc, "k": K},
                [data, *frames],
            )
        head = bounds[1]
        out = row_products_serial(
            [b[:head] for b in bases],
            exps[:, :head],
            modulus,
            None if factors is None else factors[:head],
        )
        for h in team:
            _, got = h.result()
            out.extend(bytes_to_mpz(got[0], width))
    return out


@handler("row_products")
def _row_products_handler(
    header: dict[str, Any], frames: list[bytes]
) -> tuple[dict[str, Any], list[bytes]]:
    exps = frame_to_array(header["exps"], frames[0])
    width = header["width"]
    k = header["k"]
    bases = [bytes_to_mpz(f, width) for f in frames[1 : 1 + k]]
    factors = bytes_to_mpz(frames[1 + k], width) if len(frames) > 1 + k else None
    out = row_products_serial(bases, exps, mpz(header["modulus"]), factors)
    return {}, [ints_to_bytes(out, width)]
