"""The bank's side of LR-family scoring: the platform's partial scores, encrypted, decrypted.

The platform computes its part of each row's score (partial log-odds for logistic regression,
its points sum for a scorecard) and returns it encrypted under a public key the bank sends
with the request; only the bank can decrypt it. Shared by
:class:`~models.logreg.active.FederatedLogisticRegression` and
:class:`~models.scorecard.active.FederatedScorecard`.
"""

from __future__ import annotations

import secrets
from collections.abc import Mapping

import numpy as np

from models.errors import FailedPrecondition
from models.federation.peer import PassivePeer
from models.logreg.he import ActiveCrypto
from models.logreg.messages import LrPredictRequest
from models.logreg.model_io import ids_digest
from models.logreg.sessions import model_session_spec
from models.logreg.stub import LogRegStub

#: Rows per scoring request (bounds message size: ~512 bytes per row at 2048-bit Paillier).
PREDICT_CHUNK = 8192


def scoring_keys(keys: ActiveCrypto | None, mode: str, key_bits: int) -> ActiveCrypto:
    """``keys`` if they are of ``mode`` and can receive encrypted scores, else fresh ones."""
    if keys is None or keys.mode != mode or not keys.can_receive_scores:
        return ActiveCrypto.generate(mode, key_bits, scoring=True)
    return keys


def fetch_platform_scores(
    peer: PassivePeer,
    keys: ActiveCrypto,
    *,
    algorithm: str,
    dataset: str,
    session_params: Mapping[str, str],
    model_id: str,
    platform_digest: str,
    ids: np.ndarray,
    rows: np.ndarray,
    job_id: str | None = None,
) -> np.ndarray:
    """The platform's partial score of each of ``rows``, in one scoring session.

    Parameters
    ----------
    peer:
        The platform (a ``purpose = "score"`` session is opened and closed).
    keys:
        The bank's keys; their mode is the request's mode and their public key encrypts
        the answers.
    algorithm, dataset, session_params:
        The model's algorithm, the platform's dataset and what its data provider needs.
    model_id, platform_digest:
        The fitted model and the digest of the platform's part the bank holds.
    ids, rows:
        The bank's aligned ids and the positions to score (sent in chunks of
        :data:`PREDICT_CHUNK`).
    job_id:
        The scoring session's id (default: ``<model_id>-score-<random>``).

    Returns
    -------
    numpy.ndarray
        One decrypted partial score per row of ``rows``.
    """
    spec = model_session_spec(
        job_id=job_id or f"{model_id}-score-{secrets.token_hex(4)}",
        algorithm=algorithm,
        dataset=dataset,
        session_params=session_params,
        model_id=model_id,
        purpose="score",
    )
    stub = LogRegStub(peer)
    out = np.zeros(rows.size)
    peer.open_session(spec)
    try:
        for k, start in enumerate(range(0, rows.size, PREDICT_CHUNK)):
            part = rows[start : start + PREDICT_CHUNK]
            resp = stub.predict(
                LrPredictRequest(
                    model_id=model_id,
                    platform_digest=platform_digest,
                    rows=part,
                    ids_digest=ids_digest(ids[part]),
                    mode=keys.mode,
                    public_key=keys.public_bytes(),
                ),
                k,
            )
            if resp.n_rows != part.size:
                raise FailedPrecondition("the platform scored a different number of rows")
            out[start : start + part.size] = keys.decrypt_scores(
                resp.enc_scores, part.size, resp.slot_bits, resp.slots_per_ciphertext
            )
    finally:
        peer.close_session("scoring finished")
    return out
