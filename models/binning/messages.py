"""Wire messages of federated binning and WOE/IV (protobuf twins: proto/fedcredit/v1/binning.proto).

Row positions index the aligned table both parties hold after PSI. Each request's docstring
states what it reveals to the platform, each response's what it reveals to the bank.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.crypto.wire import CipherArray
from models.federation.messages import WireMessage


@dataclass(frozen=True)
class BinInitRequest(WireMessage):
    """Bin the platform's features on the training rows.

    ``method``: ``quantile`` or ``equal_width`` with ``n_bins`` bins, or ``optimal`` (the
    platform makes ``n_bins`` fine quantile bins that the bank later merges on label counts).
    Reveals to platform: the model id, the number of aligned rows and a digest of their ids,
    the training rows, the binning method and size, the bank's Paillier public key, and
    ``dp_epsilon``: 0 for exact counts (the documented disclosure), else the differential
    privacy the bank asks for (the platform checks it against its range and applies it; see
    :mod:`models.binning.dp`); ``min_category_count`` (0: 1% of the training rows): a
    categorical column's categories with fewer training rows share its ``other`` bin.
    """

    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: np.ndarray
    method: str
    n_bins: int
    public_key: bytes
    dp_epsilon: float = 0.0
    min_category_count: int = 0


@dataclass(frozen=True)
class BinInitResponse(WireMessage):
    """The platform's bin layout.

    Reveals to bank: the number of platform features, each feature's number of bins (value
    bins plus one missing bin; a lower bound of its distinct training values), the feature
    groups, and the names only if the platform allows it; which features are categorical
    (binned by category: their bins are frequent categories, ``other`` and missing, so the
    number of bins is the number of frequent categories plus two; the bank then keeps each
    category bin as it is instead of merging neighbours). Never a cut point or a category.
    """

    n_features: int
    n_bins: list[int]
    feature_names: list[str]
    feature_groups: list[str]
    categorical: list[bool] = field(default_factory=list)


@dataclass(frozen=True)
class BinCountsRequest(WireMessage):
    """The training rows' labels, Paillier-encrypted, in ``train_rows`` order.

    Reveals to platform: ciphertexts under the bank's key (semantically secure): nothing
    about the labels.
    """

    enc_labels: CipherArray


@dataclass(frozen=True)
class BinCountsResponse(WireMessage):
    """Per feature and bin: the row count in the clear and the event count encrypted.

    Event counts are packed several per ciphertext (``slot_bits`` each, ``slots_per_ciphertext``
    per ciphertext, ``n_values`` in all, features in order, bins in order, missing bin last)
    and rerandomised. Reveals to bank: per platform feature and bin, the number of training
    rows and, after decryption, the number of events (defaults) -- aggregates over bins, the
    input of WOE/IV. Sending the totals encrypted would reveal the same after decryption, so
    they travel in the clear. Over a whole job (and across jobs), the bank chooses the
    training rows and knows their labels: with exact counts it can place a chosen company in
    its bin of every platform feature (train on that defaulter and non-defaulters only: the bin
    with one event is the company's; or difference two jobs that differ in one row).

    With ``dp_epsilon > 0`` (the epsilon the platform applied, :mod:`models.binning.dp`) the
    platform adds discrete Laplace noise ``Z_e`` to each encrypted event count (homomorphically,
    with the public ``event_offset`` that keeps every slot non-negative) and ``Z_e + Z_g`` to
    each total, so that the bank reads noisy event and non-event counts: it never sees an
    exact count. Then ``dp_mechanism`` names the mechanism. Without DP: 0, ``""`` and 0.
    """

    totals: np.ndarray
    enc_events: CipherArray
    slot_bits: int
    slots_per_ciphertext: int
    n_values: int
    dp_epsilon: float = 0.0
    dp_mechanism: str = ""
    event_offset: int = 0


@dataclass(frozen=True)
class BinWoeRequest(WireMessage):
    """The WOE transform of the selected platform features.

    ``features``: selected platform feature indices. ``mappings``: for each selected feature,
    the coarse bin of each of its value bins (identity unless ``optimal`` merged them),
    concatenated. ``woe``: for each selected feature, the WOE of each coarse bin and then of
    the missing bin, concatenated. Reveals to platform: which of its features the bank selected
    and their WOE per bin. With the per-bin row counts it holds, the WOE values of a feature
    let the platform solve for each bin's number of defaults: aggregate label statistics per
    bin, and the label itself of a company alone in a bin (a rare value, or the only one with
    the feature missing). Noise on the counts (``dp_epsilon``) does not hide this from the
    platform, which knows the noise it added.
    """

    features: list[int]
    mappings: np.ndarray
    woe: np.ndarray


@dataclass(frozen=True)
class BinWoeResponse(WireMessage):
    """Reveals to bank: the number of coarse bins (missing included) the platform applied."""

    features: list[int]
    n_bins: list[int]
