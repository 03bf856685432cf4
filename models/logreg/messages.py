"""Wire messages of vertical logistic regression (protobuf twins: proto/fedcredit/v1/logreg.proto).

Row positions index the aligned table both parties hold after PSI (same order on both sides).
Each request's docstring states what it reveals to the platform, each response's what it
reveals to the bank. ``docs/logreg.md`` has the protocol and the full disclosure table.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from models.crypto.wire import CipherArray
from models.federation.messages import WireMessage


@dataclass(frozen=True)
class LrInitRequest(WireMessage):
    """Start training: the platform prepares its design matrix on the training rows.

    Reveals to platform: the model id, the number of aligned rows and a digest of their ids
    (which it already holds), which positions are training rows, the hyper-parameters
    (``params``: mode, penalty, C, learning-rate schedule, batch size, epochs...) and the bank's
    public key (Paillier) or public CKKS context (no secret key). No label, score or bank
    feature.
    """

    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: np.ndarray
    params: dict[str, str]
    public_key: bytes


@dataclass(frozen=True)
class LrInitResponse(WireMessage):
    """The platform's feature layout.

    Reveals to bank: the number of platform features, their groups (catalogue categories) and
    their names only if the platform allows it.
    """

    n_features: int
    feature_names: list[str]
    feature_groups: list[str]


@dataclass(frozen=True)
class LrScoresRequest(WireMessage):
    """Ask for the platform's partial scores ``X_p[rows] @ w_p`` at the current weights.

    ``purpose`` is ``"train"`` (a mini-batch; a gradient step follows) or ``"eval"``
    (validation rows, for early stopping). Reveals to platform: the rows of the batch (a
    random sample drawn by the bank) or the validation rows.
    """

    epoch: int
    batch: int
    rows: np.ndarray
    purpose: str = "train"


@dataclass(frozen=True)
class LrScoresResponse(WireMessage):
    """Partial scores.

    Reveals to bank: the platform's partial linear score ``wx_p`` of each listed row, in the
    clear (the standard two-party HeteroLR disclosure; see docs/logreg.md: the bank needs the
    exact sigmoid of the joint score, and learning ``sigmoid(wx_b + wx_p) - y`` is equivalent
    to learning ``wx_p``).
    """

    epoch: int
    batch: int
    scores: np.ndarray


@dataclass(frozen=True)
class LrGradientRequest(WireMessage):
    """The encrypted residuals ``d = sigmoid(z) - y`` of the current batch, in batch order.

    Reveals to platform: ciphertexts under the bank's key (Paillier: semantically secure;
    CKKS: RLWE, semantically secure). Nothing about labels or residuals.
    """

    epoch: int
    batch: int
    enc_residual: CipherArray


@dataclass(frozen=True)
class LrGradientResponse(WireMessage):
    """The platform's gradient block ``X_p[batch]^T d``, encrypted and masked.

    Paillier: the masked gradient entries packed several per ciphertext and rerandomised.
    CKKS: one ciphertext per pair of platform features, the two entries at coefficients 0 and
    ``N/2``, rerandomised under the bank's public key and flooded on every coefficient.
    Reveals to bank: after decryption, ``g_j + m_j`` for uniform (Paillier, 80 bits of
    statistical hiding) or Gaussian (CKKS, standard deviation 2^36) masks ``m_j`` the platform
    keeps: nothing about the platform gradient. CKKS additionally shows the other coefficients
    of the product, each under its own Gaussian flood.
    """

    epoch: int
    batch: int
    n_values: int
    enc_masked: CipherArray


@dataclass(frozen=True)
class LrUpdateRequest(WireMessage):
    """The decrypted masked gradient; the platform unmasks it and updates its weights.

    ``masked_packed`` (Paillier): the decrypted packed plaintexts, big-endian bytes.
    ``masked_sums`` (CKKS): the decrypted read-out coefficients. Reveals to platform:
    ``g_j + m_j`` whose mask it knows, i.e. its own gradient block ``X_p^T d`` for the batch
    (the standard disclosure: a projection of the batch residuals on its own features).
    """

    epoch: int
    batch: int
    masked_packed: list[bytes] = field(default_factory=list)
    masked_sums: np.ndarray = field(default_factory=lambda: np.zeros(0))
    end_of_epoch: bool = False


@dataclass(frozen=True)
class LrUpdateResponse(WireMessage):
    """Reveals to bank: the largest absolute change of a platform weight in this update (for
    the convergence check), never the weights."""

    epoch: int
    batch: int
    max_abs_delta: float


@dataclass(frozen=True)
class LrFinalizeRequest(WireMessage):
    """Save the platform's part of the model with its weights after ``epoch`` (early stopping
    may keep an earlier epoch than the last).

    Reveals to platform: the model id and which epoch was kept.
    """

    model_id: str
    epoch: int


@dataclass(frozen=True)
class LrFinalizeResponse(WireMessage):
    """Reveals to bank: the digest of the platform's model part (to link the two parts)."""

    model_id: str
    platform_digest: str
    n_features: int


@dataclass(frozen=True)
class LrPredictRequest(WireMessage):
    """Score rows with a saved model: the platform returns its partial scores encrypted.

    Reveals to platform: the model id and part digest, the rows to score and a digest of their
    ids, and the bank's public key or public CKKS context.
    """

    model_id: str
    platform_digest: str
    rows: np.ndarray
    ids_digest: str
    mode: str
    public_key: bytes


@dataclass(frozen=True)
class LrPredictResponse(WireMessage):
    """Partial scores (log-odds contribution ``wx_p`` per row) encrypted under the bank's key.

    Paillier: fixed-point scores, offset to be non-negative and packed ``slots_per_ciphertext``
    per plaintext of ``slot_bits`` bits each (one decryption per packed group); CKKS: one
    vector (both layout fields 0). Reveals to bank: after decryption, ``wx_p`` of each scored
    row (needed to assemble the score; it follows from the final score anyway) and a power of
    two bounding their magnitude (the slot size).
    """

    n_rows: int
    enc_scores: CipherArray
    slot_bits: int = 0
    slots_per_ciphertext: int = 0


@dataclass(frozen=True)
class LrScorecardRequest(WireMessage):
    """Save the platform's part as a scorecard: weights of ``epoch`` (``-1``: current) and,
    for each of its WOE features and bins, the points ``-factor * w_j * WOE_jk``.

    Reveals to platform: the model id, the kept epoch and the scaling factor
    ``PDO / ln 2`` (a public scorecard convention).
    """

    model_id: str
    epoch: int
    factor: float
    round_points: bool = False


@dataclass(frozen=True)
class LrScorecardResponse(WireMessage):
    """Reveals to bank: the part's digest and how many features and bins carry points (the
    points themselves stay on the platform)."""

    model_id: str
    platform_digest: str
    n_features: int
    n_bins: list[int]
