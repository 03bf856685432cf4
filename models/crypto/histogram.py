"""Encrypted histograms (homomorphic bin sums) and ciphertext compression.

The passive party holds ciphertexts ``enc`` of per-row packed (g, h) and its own bin indices;
:func:`encrypted_histograms` sums the ciphertexts of a node's rows per feature and bin.
:func:`compress_ciphertexts` then shifts and adds several bin sums into one ciphertext so fewer
ciphertexts travel and need decrypting; :func:`decompress_plaintexts` undoes it after decryption.
"""

from __future__ import annotations

from collections.abc import Sequence
from operator import itemgetter
from typing import Any

import gmpy2
import numpy as np
from gmpy2 import mpz

from models.crypto.packing import KEY_MARGIN_BITS
from models.crypto.paillier import EncryptedVector, PaillierPublicKey
from models.crypto.parallel import (
    array_to_frame,
    bytes_to_mpz,
    frame_to_array,
    handler,
    ints_to_bytes,
    loaded_vector,
    reserved_helpers,
    resolve_workers,
)
from models.errors import InvalidArgument


def _check_inputs(
    enc: EncryptedVector,
    bins: np.ndarray,
    rows: np.ndarray,
    n_bins: np.ndarray | Sequence[int] | int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    bins = np.asarray(bins)
    if bins.ndim != 2 or bins.shape[0] != len(enc):
        raise InvalidArgument("bins must have shape (n_rows, n_features) matching the ciphertexts")
    if bins.dtype.kind not in "iu":
        raise InvalidArgument("bins must be integers")
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    if rows.size and (rows.min() < 0 or rows.max() >= len(enc)):
        raise InvalidArgument("row positions are out of range")
    n_features = bins.shape[1]
    try:
        nb = np.broadcast_to(np.asarray(n_bins, dtype=np.int64), (n_features,)).copy()
    except ValueError as exc:
        raise InvalidArgument("n_bins must give one count per feature") from exc
    if np.any(nb < 1):
        raise InvalidArgument("every feature needs at least one bin")
    return bins, rows, nb


def check_histogram_inputs(
    enc: EncryptedVector,
    bins: np.ndarray,
    rows: np.ndarray,
    n_bins: np.ndarray | Sequence[int] | int,
    skip_bins: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, list[int], list[int]]:
    """Validated ``(bins, rows, n_bins, skip)`` for :func:`encrypted_histograms` (shared
    with the compute backends); raises :class:`InvalidArgument` on any inconsistency."""
    bins, rows, nb = _check_inputs(enc, bins, rows, n_bins)
    n_features = bins.shape[1]
    skip = (
        np.full(n_features, -1, dtype=np.int64)
        if skip_bins is None
        else np.asarray(skip_bins, dtype=np.int64).reshape(-1)
    )
    if skip.shape != (n_features,):
        raise InvalidArgument("skip_bins must give one bin per feature")
    node_bins = bins[rows]
    if node_bins.size and bool(np.any(node_bins >= nb[None, :]) or node_bins.min() < 0):
        raise InvalidArgument("a bin index is out of range")
    if bool(np.any(skip >= nb) or np.any(skip < -1)):
        raise InvalidArgument("a skipped bin is out of range")
    return bins, rows, [int(v) for v in nb.tolist()], [int(v) for v in skip.tolist()]


def histogram_serial(
    values: list[mpz],
    n2: mpz,
    node_bins: np.ndarray,
    rows: np.ndarray,
    n_bins: Sequence[int],
    skip: Sequence[int],
) -> list[list[mpz]]:
    """Bin products for each feature column of ``node_bins`` (the bins of ``rows`` only)."""
    out: list[list[mpz]] = []
    one = mpz(1)
    rows = np.asarray(rows, dtype=np.int64)
    for f in range(node_bins.shape[1]):
        nbf = int(n_bins[f])
        hist = [one] * nbf
        out.append(hist)
        if rows.size == 0:
            continue
        b = node_bins[:, f]
        order = np.argsort(b, kind="stable")
        counts = np.bincount(b, minlength=nbf)
        bounds = np.concatenate([[0], np.cumsum(counts)]).tolist()
        sorted_rows = rows[order].tolist()
        gathered = (
            itemgetter(*sorted_rows)(values) if len(sorted_rows) > 1 else (values[sorted_rows[0]],)
        )
        sk = int(skip[f])
        for k in range(nbf):
            lo, hi = bounds[k], bounds[k + 1]
            if k == sk or lo == hi:
                continue
            it = iter(gathered[lo:hi])
            acc = next(it)
            for c in it:
                acc = acc * c % n2
            hist[k] = acc
    return out


@handler("hist")
def _hist_handler(
    header: dict[str, Any], frames: list[bytes]
) -> tuple[dict[str, Any], list[bytes]]:
    loaded = loaded_vector(header["token"])
    if loaded is None:
        return {"missing": True}, []
    n2, values = loaded
    node_bins = frame_to_array(header["bins"], frames[0])
    rows = frame_to_array(header["rows"], frames[1])
    hists = histogram_serial(values, n2, node_bins, rows, header["n_bins"], header["skip"])
    flat = [c for h in hists for c in h]
    return {"missing": False}, [ints_to_bytes(flat, header["width"])]


def _histogram_parallel(
    enc: EncryptedVector,
    bins: np.ndarray,
    rows: np.ndarray,
    nb: list[int],
    skip: list[int],
    workers: int,
) -> list[list[mpz]]:
    """Split the node's rows: this process takes one share, each helper another; bin sums of
    the shares are multiplied together at the end (a few hundred multiplications)."""
    pk = enc.public_key
    n2, width = pk.n2, pk.width
    shares = np.array_split(rows, workers)
    token = enc.token()
    with reserved_helpers(workers - 1) as team:
        for h, share in zip(team, shares[1:], strict=True):
            h.ensure_loaded(token, n2, width, enc.values)
            bdesc, bdata = array_to_frame(bins[share])
            rdesc, rdata = array_to_frame(share)
            h.submit(
                "hist",
                {
                    "token": token,
                    "width": width,
                    "n_bins": nb,
                    "skip": skip,
                    "bins": bdesc,
                    "rows": rdesc,
                },
                [bdata, rdata],
            )
        total = histogram_serial(enc.values, n2, bins[shares[0]], shares[0], nb, skip)
        for h, share in zip(team, shares[1:], strict=True):
            reply, frames = h.result()
            if reply.get("missing"):  # helper lost the vector (restart or eviction): resend
                h.loaded.pop(token, None)
                h.ensure_loaded(token, n2, width, enc.values)
                part = histogram_serial(enc.values, n2, bins[share], share, nb, skip)
            else:
                flat = bytes_to_mpz(frames[0], width)
                part, pos = [], 0
                for k in nb:
                    part.append(flat[pos : pos + k])
                    pos += k
            for hist, other in zip(total, part, strict=True):
                for k, c in enumerate(other):
                    if c != 1:
                        hist[k] = hist[k] * c % n2
    return total


def encrypted_histograms(
    enc: EncryptedVector,
    bins: np.ndarray,
    rows: np.ndarray,
    n_bins: np.ndarray | Sequence[int] | int,
    *,
    skip_bins: np.ndarray | None = None,
    workers: int | None = None,
) -> list[EncryptedVector]:
    """Per feature, the encrypted sum of ``enc[rows]`` in each bin.

    Parameters
    ----------
    enc:
        One ciphertext per row of the full table.
    bins:
        ``(n_rows_total, n_features)`` bin index of each row and feature.
    rows:
        Positions of the node's rows.
    n_bins:
        Number of bins per feature (or one int for all).
    skip_bins:
        Optional bin per feature (``-1`` for none) that the caller derives by subtraction from
        the node total; it is left as the deterministic ``E(0)`` and costs nothing.
    workers:
        Processes to use; ``None`` picks 2 for large inputs and 1 otherwise.

    Returns
    -------
    list[EncryptedVector]
        ``n_features`` vectors of length ``n_bins[f]``. Empty bins are the deterministic
        ``E(0)``: rerandomise (or compress then rerandomise) before sending.
    """
    bins, rows, nb_list, skip_list = check_histogram_inputs(enc, bins, rows, n_bins, skip_bins)
    n_workers = resolve_workers(workers, rows.size * bins.shape[1])
    if n_workers > 1 and rows.size >= 2 * n_workers:
        hists = _histogram_parallel(enc, bins, rows, nb_list, skip_list, n_workers)
    else:
        hists = histogram_serial(
            enc.values, enc.public_key.n2, bins[rows], rows, nb_list, skip_list
        )
    return [EncryptedVector(enc.public_key, h) for h in hists]


def compress_ciphertexts(
    public_key: PaillierPublicKey,
    enc: EncryptedVector,
    slot_bits: int,
    slots_per_ciphertext: int,
) -> EncryptedVector:
    """Shift and add groups of ``slots_per_ciphertext`` ciphertexts into one.

    The result ``i`` encrypts ``sum_j m[i*k + j] * 2**(j*slot_bits)``; every plaintext must
    be below ``2**slot_bits`` (the caller's packing guarantees it). Horner's rule: one
    exponentiation by ``2**slot_bits`` and one multiplication per slot.
    """
    if slot_bits < 1 or slots_per_ciphertext < 1:
        raise InvalidArgument("slot sizes are invalid")
    if slot_bits * slots_per_ciphertext > public_key.key_bits - KEY_MARGIN_BITS:
        raise InvalidArgument("compressed slots do not fit in the plaintext space")
    public_key._check_same(enc)
    n2 = public_key.n2
    shift = mpz(1) << slot_bits
    vals = enc.values
    k = slots_per_ciphertext
    out: list[mpz] = []
    pw = gmpy2.powmod
    for start in range(0, len(vals), k):
        group = vals[start : start + k]
        acc = group[-1]
        for c in reversed(group[:-1]):
            acc = pw(acc, shift, n2) * c % n2
        out.append(acc)
    return EncryptedVector(public_key, out)


def decompress_plaintexts(
    ints: Sequence[int], slot_bits: int, slots_per_ciphertext: int, count: int
) -> list[int]:
    """Key-holder side: split decrypted compressed plaintexts back into ``count`` values."""
    if count > len(ints) * slots_per_ciphertext or count < 0:
        raise InvalidArgument("count does not match the compressed plaintexts")
    mask = (1 << slot_bits) - 1
    out: list[int] = []
    for v in ints:
        v = int(v)
        for _ in range(slots_per_ciphertext):
            out.append(v & mask)
            v >>= slot_bits
    return out[:count]
