"""Wire messages of SecureBoost's membership-hiding training levels (``privacy = "hardened"`` or
``"strict"``; protobuf twins: proto/fedcredit/v1/secureboost_hidden.proto).

Rows are the training rows in the order the bank sent them at init (``SbInitRequest.train_rows``):
every message covers all of them, so nothing says which rows a node holds. Each request's
docstring states what it reveals to the platform, each response's what it reveals to the bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.crypto.wire import CipherArray
from models.federation.messages import WireMessage


@dataclass(frozen=True)
class SbLevelGradientsRequest(WireMessage):
    """A chunk of one level's slot-packed encrypted (g, h): ``n_groups`` ciphertexts per training
    row (row-major), for the rows ``offset .. offset + count - 1`` of the training order.

    Ciphertext ``g`` of a row encrypts ``V * 2**(B * j)`` if the row belongs to the ``(g * k +
    j)``-th node the bank builds at this level (``V`` its packed (g, h), ``B`` the slot width,
    ``k`` the slots per ciphertext), else 0.

    Reveals to platform: which of its features the tree may use (column subsampling, random),
    and fresh Paillier ciphertexts for every training row at every level (semantically secure:
    not which node a row is in, not whether it is in a built node at all). ``n_slots`` and
    ``n_groups`` depend only on the depth and the key size (the bank pads them), not on how many
    nodes are built. Over a whole job: no row set, hence no label or bank-path inference from
    membership (measured: ``experiments/privacy/secureboost_labels.py``, ``..._paths.py``).
    """

    tree: int
    depth: int
    chunk: int
    n_chunks: int
    offset: int
    n_slots: int
    n_groups: int
    features: list[int]
    enc_gh: CipherArray


@dataclass(frozen=True)
class SbLevelGradientsResponse(WireMessage):
    """Acknowledgement. Reveals to bank: how many rows of the level the platform holds."""

    tree: int
    depth: int
    received: int


@dataclass(frozen=True)
class SbLevelHistogramRequest(WireMessage):
    """Sum the level's ciphertexts per (feature, bin) over every training row.

    Reveals to platform: nothing it did not know (that the level's upload is complete).
    """

    tree: int
    depth: int


@dataclass(frozen=True)
class SbLevelHistogramResponse(WireMessage):
    """Noisy encrypted histograms of every node slot, compressed and rerandomised.

    Values are ordered (feature of the tree, bin ``0 .. K_f`` with the missing bin last,
    group); each value is ``n_slots`` consecutive slots (one per node of the group);
    ``per_ciphertext`` values share a ciphertext (``value_count`` values in all).

    Reveals to bank: for each node it built, per (platform feature, bin), the sums of g and h
    *plus the platform's noise* (Gaussian, ``noise_g`` and ``noise_h`` of the privacy mode,
    drawn afresh for every value and slot): not a row count, and not which bins are empty. Over
    a whole job the bank's best count estimates stay off by the noise (about ``3 / mean h``
    rows per cell; measured: ``experiments/privacy/secureboost_bincount.py``); it recovers no
    count exactly.
    """

    tree: int
    depth: int
    n_slots: int
    n_groups: int
    per_ciphertext: int
    value_count: int
    enc_hist: CipherArray


@dataclass(frozen=True)
class SbLevelSplitRequest(WireMessage):
    """Record the bank's chosen platform splits of one level and return their decisions.

    Reveals to platform: that the best split of node ``node_ids[i]`` (a heap position in the
    tree, not its rows) is on its feature ``features[i]`` at bin ``bins[i]`` with the missing
    direction. Not the node's rows, not the gain. Over a whole job the platform learns which of
    its cuts the model uses, and where: where its own data predicts default (measured as
    ``label-from-split-choice``), nothing about a company beyond its own records. A categorical
    split (``cat_sizes[i] > 0``) names the set of its bins that go left (the next
    ``cat_sizes[i]`` entries of ``cat_bins``) instead of a bin.
    """

    tree: int
    depth: int
    node_ids: list[int]
    split_ids: list[int]
    features: list[int]
    bins: list[int]
    missing_left: list[bool]
    cat_sizes: list[int] = field(default_factory=list)
    cat_bins: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SbLevelSplitResponse(WireMessage):
    """Go-left bits of every training row at each split, row-major over (split, row),
    bit-packed.

    Reveals to bank: for each training row, which side of each chosen platform split it falls
    on (the bank keeps those of the node's rows; it needs them to grow the tree). Never a
    feature value or a threshold. Over a whole job: the side of every used cut for every
    training row (more rows than the standard mode's node rows; the ``bin-pinning`` baseline).
    """

    tree: int
    split_ids: list[int]
    n_rows: int
    left: np.ndarray
