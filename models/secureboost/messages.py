"""Wire messages of the SecureBoost protocol (protobuf twins: proto/fedcredit/v1/secureboost.proto).

Row positions index the aligned table both parties hold after PSI (same order on both sides).
Each request's docstring states what it reveals to the platform, each response's what it
reveals to the bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.crypto.wire import CipherArray
from models.federation.messages import WireMessage


@dataclass(frozen=True)
class SbInitRequest(WireMessage):
    """Start (or resume) training: the platform bins its features on the training rows.

    Reveals to platform: the model id, the number of aligned rows and a digest of their ids
    (which it already holds), which positions are training rows (the train/validation split),
    the number of bins, the bank's Paillier public key, the packing layout (bits per packed
    (g, h) sum and slots per ciphertext, the fixed-point scale and the width of the gradient
    part, which depend only on the number of rows and the sampling settings), how many trees
    the bank has completed (for a resume) and the privacy mode (``standard``, ``hardened`` or
    ``strict``: which steps the session may use, see :mod:`models.secureboost.privacy`). No
    label, gradient or bank feature. ``valid_rows``: the validation rows, which join the
    model's population (scored after training without consent; the platform learns which rows
    are validation rows, as it otherwise does from the route step).
    """

    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: np.ndarray
    n_bins: int
    public_key: bytes
    slot_bits: int
    slots_per_ciphertext: int
    completed_trees: int
    privacy: str = "standard"
    frac_bits: int = 0
    g_bits: int = 0
    valid_rows: np.ndarray | None = None


@dataclass(frozen=True)
class SbInitResponse(WireMessage):
    """The platform's feature layout.

    Reveals to bank: the number of platform features, each feature's number of value bins
    (a lower bound of its number of distinct training values, at most ``n_bins``), each
    feature's group (catalogue category), the feature names only if the platform allows it,
    how many trees the platform has committed, and which features are categorical (one bin
    per category; the bank then counts their categories, never learns one).
    """

    n_features: int
    n_value_bins: list[int]
    feature_groups: list[str]
    feature_names: list[str]
    completed_trees: int
    categorical: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class SbGradientsRequest(WireMessage):
    """Encrypted, packed (g, h) of a chunk of the rows used by tree ``tree``.

    Reveals to platform: which rows the tree uses (row subsampling, random; a GOSS sample
    holds the rows with the largest gradients, the worst predicted ones), which of its features
    the tree may use (column subsampling, random), and Paillier ciphertexts (semantically
    secure: nothing about g or h). Standard mode only (privacy modes: docs/secureboost.md).
    """

    tree: int
    chunk: int
    n_chunks: int
    rows: np.ndarray
    features: list[int]
    enc_gh: CipherArray


@dataclass(frozen=True)
class SbGradientsResponse(WireMessage):
    """Acknowledgement. Reveals to bank: how many ciphertexts the platform holds for the tree."""

    tree: int
    received: int


@dataclass(frozen=True)
class SbHistogramRequest(WireMessage):
    """Build encrypted histograms for some nodes of one level.

    Reveals to platform: the row set of each node to build (the smaller child of each split
    pair), hence (parent minus child) the side every row took at the bank's splits; not the
    bank feature or threshold behind a partition, not a gradient. Over a whole job the platform
    can group the training rows by these sets and label them well (measured in
    ``experiments/privacy/secureboost_labels.py``): standard mode only; the hardened and strict
    modes never send a row set (:mod:`models.secureboost.hidden_messages`).
    """

    tree: int
    depth: int
    node_ids: list[int]
    node_sizes: list[int]
    rows: np.ndarray


@dataclass(frozen=True)
class SbHistogramResponse(WireMessage):
    """Compressed, rerandomised encrypted histograms of the platform's features.

    Reveals to bank: after decryption, the exact sums of g and h per (platform feature, bin)
    for each node; which bins are empty in the node (``present``, shape (nodes, features,
    slots)); and for each feature the index of the bin with the most rows in the node, which
    the platform skips and the bank reconstructs from the node's totals (``-1``: nothing
    skipped). Only present, non-skipped bins are sent. Over a whole job the bank, knowing every
    row's g and h, recovers bin row counts from these sums (exactly in the first tree, whose
    hessian is constant, and in small nodes) and pins some rows to bins
    (``experiments/privacy/secureboost_bincount.py``): standard mode only; the hardened and
    strict modes return noisy sums without empty-bin marks.
    """

    tree: int
    depth: int
    node_ids: list[int]
    skipped_bins: np.ndarray
    present: np.ndarray
    value_count: int
    enc_hist: CipherArray


@dataclass(frozen=True)
class SbSplitRequest(WireMessage):
    """Apply the bank's chosen platform splits and return the row partitions.

    Reveals to platform: for each node, that the best split is on its feature ``features[i]``
    at bin ``bins[i]`` with the missing direction, and the node's rows. Not the gain, not why.
    A categorical split (``cat_sizes[i] > 0``, ``bins[i] = -1``) names instead the set of the
    feature's bins that go left: the next ``cat_sizes[i]`` entries of ``cat_bins``.
    """

    tree: int
    depth: int
    node_ids: list[int]
    split_ids: list[int]
    features: list[int]
    bins: list[int]
    missing_left: list[bool]
    node_sizes: list[int]
    rows: np.ndarray
    cat_sizes: list[int] = field(default_factory=list)
    cat_bins: list[int] = field(default_factory=list)


@dataclass(frozen=True)
class SbSplitResponse(WireMessage):
    """The partitions. Reveals to bank: which rows of each node go left (bit-packed, node
    after node); never the feature values or the threshold."""

    tree: int
    node_ids: list[int]
    left: np.ndarray


@dataclass(frozen=True)
class SbRouteRequest(WireMessage):
    """Decisions at platform splits for rows of the aligned table (validation rows and rows a
    tree did not sample).

    Reveals to platform: which rows are asked about (it answers every listed split for every
    row, so it learns nothing about the rows' paths or scores).
    """

    split_ids: list[int]
    rows: np.ndarray


@dataclass(frozen=True)
class SbRouteResponse(WireMessage):
    """Go-left bits, row-major over (split, row), bit-packed.

    Reveals to bank: for each asked row, which side of each platform split it falls on
    (needed to complete the path; the threshold stays private).
    """

    split_ids: list[int]
    n_rows: int
    decisions: np.ndarray


@dataclass(frozen=True)
class SbTreeDoneRequest(WireMessage):
    """Tree ``tree`` is complete: the platform persists its lookup table up to this tree.

    Reveals to platform: the split ids the finished tree uses (those it recorded itself).
    """

    tree: int
    split_ids: list[int]


@dataclass(frozen=True)
class SbTreeDoneResponse(WireMessage):
    """Reveals to bank: how many trees the platform has committed."""

    tree: int
    committed_trees: int


@dataclass(frozen=True)
class SbFinalizeRequest(WireMessage):
    """Save the platform's part of the model: the lookup table of the first ``n_trees`` trees.

    Reveals to platform: the model id, the number of trees kept (early stopping), a digest of
    the bank's trees (links the two parts; a hash reveals no tree content). The model's
    population (training rows and the validation rows sent with ``SbInitRequest``) is saved
    beside the part.
    """

    model_id: str
    n_trees: int
    trees_digest: str


@dataclass(frozen=True)
class SbFinalizeResponse(WireMessage):
    """Reveals to bank: the platform part's content digest and its number of splits.
    Also the platform's Ed25519 signature over that digest and its model-signing public key
    (hex; empty from a platform that runs without a node key), so the bank can hold the
    platform to the part it saved (``models/part_signing.py``).
    """

    model_id: str
    platform_digest: str
    n_splits: int
    platform_signature: str = ""
    platform_key: str = ""


@dataclass(frozen=True)
class SbSecurePredictRequest(WireMessage):
    """EINI prediction of a saved model: the bank's encrypted cell values of some companies.

    For each company the bank encrypts, per cell (a distinct set of platform-split directions
    of a tree), the value of the one leaf of that cell its own features lead to, or 0; the
    platform multiplies by its own 0/1 selection and sums (``models/secureboost/eini.py``).

    Reveals to platform: the model id, the companies' ids, a digest of the cell layout (which
    the platform derives from its own split table) and CKKS ciphertexts under the bank's key
    (IND-CPA: nothing about the bank's features, its paths or the leaf values); the bank's
    public CKKS context when the platform does not hold it yet. Over a whole job: which
    companies were scored, nothing else.
    """

    model_id: str
    ids: list[str]
    layout_digest: str
    key_fingerprint: str
    enc_cells: CipherArray
    public_context: bytes = b""


@dataclass(frozen=True)
class SbSecurePredictResponse(WireMessage):
    """Sealed margins: one ciphertext per group of companies.

    Reveals to bank: after decryption, at each company's read-out coefficient, the sum of the
    selected leaf values (the margin less what the bank adds itself) plus a flood of at most
    ``2^18`` units of ``2^-scale`` and the noise functional the bank already knows (see
    :mod:`models.crypto.ckks_readout`); every other coefficient is uniform modulo the prime.
    Nothing about which leaf was selected beyond what that sum implies. ``need_key``: the
    platform does not hold the bank's public context (no ciphertexts; the bank resends it).
    """

    model_id: str
    platform_digest: str
    n_rows: int
    need_key: bool
    enc_margins: CipherArray
