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
    (which it already holds), which positions are training rows and which are validation rows
    (fixed here for the whole job: they join the model's population, which prediction may
    score without consent; they are never used in training), the hyper-parameters
    (``params``: mode, penalty, C, optimiser, batch size, epochs, number of expansion
    terms...), the number of bank features
    (it sizes the packed layout) and the bank's public key (Paillier) or public CKKS context (no
    secret key). No label, score or bank feature value.
    """

    model_id: str
    n_rows: int
    ids_digest: str
    train_rows: np.ndarray
    params: dict[str, str]
    public_key: bytes
    validation_rows: np.ndarray = field(default_factory=lambda: np.zeros(0, dtype=np.int64))
    n_bank_features: int = 0


@dataclass(frozen=True)
class LrInitResponse(WireMessage):
    """The platform's feature layout, the batch seed and the first batch's score interval.

    Reveals to bank: the number of platform features, their groups (catalogue categories) and
    their names only if the platform allows it; the seed that fixes every epoch's batches
    (drawn by the platform, so the bank cannot choose which rows form a batch); a coarse
    interval ``[lo, hi]`` (ends on a 1/16 grid) containing the platform's partial scores of the
    first batch (at initial weights zero: ``[-1/16, 1/16]``).
    """

    n_features: int
    feature_names: list[str]
    feature_groups: list[str]
    batch_seed: bytes = b""
    lo: float = 0.0
    hi: float = 0.0


@dataclass(frozen=True)
class LrTermsRequest(WireMessage):
    """The bank's encrypted expansion terms of one batch (rows fixed by the batch seed).

    Per row and term ``k`` the residual coefficients ``r_k(a)`` (``sum_k r_k psi_k(u) =
    sigmoid(a + u) - y``) and the bank-feature products ``r_k x_b``, as
    Paillier packed ciphertexts or CKKS coefficient-encoded ciphertexts (see
    ``models/logreg/{paillier,ckks}_terms.py``). Reveals to platform: ciphertexts under the
    bank's key (IND-CPA) and their count (which follows from the batch, the number of terms and
    of bank features). Nothing about labels, residuals or bank features.
    """

    epoch: int
    batch: int
    enc_terms: CipherArray


@dataclass(frozen=True)
class LrTermsResponse(WireMessage):
    """The bank's output and the platform's masked output of the batch.

    Reveals to bank: after decryption, its own gradient block ``X_b^T d`` and ``sum d`` (the
    intercept's gradient): aggregates over the batch, computed with the platform's partial
    scores inside the encryption; every other
    coefficient/slot it decrypts is a uniform random residue. The platform's output decrypts to
    a uniformly random residue (the mask is uniform modulo n, or modulo q for CKKS): nothing
    about the platform's gradient.
    """

    epoch: int
    batch: int
    enc_bank: CipherArray
    enc_platform: CipherArray


@dataclass(frozen=True)
class LrUpdateRequest(WireMessage):
    """The decrypted masked read-outs of the platform's output, handed back; the platform
    unmasks them (its gradient block ``X_p^T d``) and steps its own weights.

    Reveals to platform: its own gradient block for the batch (an aggregate over at least the
    minimum batch size of rows, on its own features).
    """

    epoch: int
    batch: int
    masked: list[bytes] = field(default_factory=list)
    end_of_epoch: bool = False


@dataclass(frozen=True)
class LrUpdateResponse(WireMessage):
    """Reveals to bank: the largest absolute change of a platform weight in this update and the
    mean absolute change of the platform's partial scores over the batch's rows (for the
    convergence check), and the coarse interval of the platform's partial scores of the next
    batch (``lo``, ``hi``); never a weight or a per-row score. At the end of an epoch of a job
    with per-epoch validation metrics, also the coarse interval of the platform's partial
    scores of the validation rows at the epoch's weights (``val_lo``, ``val_hi``; zeros
    otherwise)."""

    epoch: int
    batch: int
    max_abs_delta: float
    mean_abs_change: float = 0.0
    lo: float = 0.0
    hi: float = 0.0
    val_lo: float = 0.0
    val_hi: float = 0.0


@dataclass(frozen=True)
class LrValLossRequest(WireMessage):
    """The bank's encrypted validation-loss coefficients of a finished epoch.

    Per validation row and term ``k >= 1`` the coefficient ``c_k(a, y)`` of the expansion of the
    row's log-loss in the platform's basis (``models/logreg/val_loss.py``), as Paillier
    ciphertexts or CKKS coefficient-encoded ciphertexts (``models/logreg/val_loss_terms.py``).
    Reveals to platform: ciphertexts under the bank's key (IND-CPA) and their count (which
    follows from the validation rows and the mode). Nothing about labels or bank scores.
    """

    epoch: int
    enc_terms: CipherArray


@dataclass(frozen=True)
class LrValLossResponse(WireMessage):
    """The summed validation log-loss of the joint model at the end of ``epoch``, encrypted.

    Reveals to bank: after decryption, one scalar per epoch: ``sum_i l_i`` over the fixed
    validation rows (an aggregate over at least 50 rows), up to the expansion's error; every
    other coefficient a CKKS result decrypts to is uniform modulo ``q``. No per-row score.
    """

    epoch: int
    enc_loss: CipherArray


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
    """Reveals to bank: the digest of the platform's model part (to link the two parts).
    Also the platform's Ed25519 signature over that digest and its model-signing public key
    (hex; empty from a platform that runs without a node key), so the bank can hold the
    platform to the part it saved (``models/part_signing.py``).
    """

    model_id: str
    platform_digest: str
    n_features: int
    platform_signature: str = ""
    platform_key: str = ""


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
    points themselves stay on the platform). Also the platform's Ed25519 signature over that
    digest and its model-signing public key
    (hex; empty from a platform that runs without a node key), so the bank can hold the
    platform to the part it saved (``models/part_signing.py``).
    """

    model_id: str
    platform_digest: str
    n_features: int
    n_bins: list[int]
    platform_signature: str = ""
    platform_key: str = ""
