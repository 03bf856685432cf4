"""SecureBoost (``models/secureboost``): EINI margins, concurrent requests batched.

For each company the bank computes its cell values (the leaf values its own features select,
``models/secureboost/eini.py``) and what it adds itself; the platform returns sealed sums and
the bank reads only the margin. Several companies share a ciphertext (up to the packing's
group), so concurrent officer requests for the same model and date are batched
(:class:`~bank_node.scoring.families.coalesce.Coalescer`, shared with the linear families): a
request that finds no platform call of this model in flight sends everything queued so far
(up to :data:`MAX_GROUPS_PER_CALL` groups), the others wait for their answer; while one call
is in flight a second one (up to :data:`MAX_IN_FLIGHT`) leaves only with whole packing groups,
so pipelining never pays a ciphertext (an encryption, a product, a seal, a fresh encryption
of zero, a read-out) for a group of one. A lone request is sent at once (no waiting for
company).

Reasons: :class:`~bank_node.scoring.assembler.TreeExplainer` (bank features by a
bank-conditional attribution, the platform as one factor).
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bank_node.scoring.assembler import TreeExplainer
from bank_node.scoring.families.coalesce import Coalescer
from bank_node.scoring.families.common import Scored, ScoreJob, check_reply, header_for, refusal
from bank_node.scoring.keys import ScoringKeys
from models.errors import FailedPrecondition, InternalError
from models.federation.peer import ScoringPeer
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.predict import SecurePredictor
from models.secureboost.scoring import SbScoreRequest, SbScoreResponse

#: Platform calls of one model in flight at once (the second one with whole groups only).
MAX_IN_FLIGHT = 2
#: Most companies per platform call, in packing groups.
MAX_GROUPS_PER_CALL = 2
#: Longest a call waits for the requests the recent concurrency says are on their way
#: (:class:`~bank_node.scoring.families.coalesce.Coalescer`; a lone request never waits).
LINGER_S = 0.005


@dataclass(frozen=True, eq=False)
class _Cells:
    job: ScoreJob
    local: float
    cells: np.ndarray
    predictor: SecurePredictor
    platform: ScoringPeer


@dataclass(frozen=True)
class _Margin:
    raw: float
    consent_id: str
    as_of: str


class SecureBoostScoring:
    family = "secureboost"

    def __init__(self, model: SecureBoostClassifier) -> None:
        self.model = model
        self.model_id: str = model.model_id_
        self.platform_digest: str = model.platform_digest_
        self.dataset: str = model.platform_dataset_
        self.bank_features: list[str] = list(model.bank_feature_names_)
        self.describe: dict[str, str] = {}
        self.explainer = TreeExplainer(model.trees_, model.base_score_, self.bank_features)
        self._predictor: SecurePredictor | None = None
        self._lock = threading.Lock()
        self.coalescer: Coalescer[_Cells, _Margin] = Coalescer(
            self._send, limit=MAX_GROUPS_PER_CALL, max_in_flight=MAX_IN_FLIGHT, linger_s=LINGER_S
        )
        self._key_sent = False

    @classmethod
    def load(cls, path: Path) -> SecureBoostScoring:
        return cls(SecureBoostClassifier.load_model(path))

    def predictor(self, keys: ScoringKeys) -> SecurePredictor:
        with self._lock:
            if self._predictor is None or self._predictor.key is not keys.ckks():
                self._predictor = self.model.secure_predictor(keys.ckks())
            return self._predictor

    def score(self, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys) -> Scored:
        pred = self.predictor(keys)
        x = np.asarray(job.x_bank, dtype=np.float64)[None, :]
        local, cells = pred.cells.values(x, pred.quant_bits)
        # companies per call: whole packing groups (the same for every request of the model)
        group = pred.packing.group if pred.packing else 1
        self.coalescer.limit = MAX_GROUPS_PER_CALL * group
        self.coalescer.full = group
        margin = self.coalescer.submit(
            job.as_of, _Cells(job, float(local[0]), cells[0], pred, platform)
        )
        assembled = self.explainer.assemble(job.x_bank, margin.raw)
        return Scored(assembled, margin.consent_id, margin.as_of)

    def _send(self, batch: list[_Cells]) -> list[_Margin | BaseException]:
        pred, platform = batch[0].predictor, batch[0].platform
        jobs = [p.job for p in batch]
        enc = pred.encrypt_cells(np.stack([p.cells for p in batch]))
        header = header_for(self, jobs)
        # the public context (~0.4 MB) goes once; a platform that lost it asks again
        predict = pred.request(self.model_id, [], enc, with_key=not self._key_sent)
        resp = platform.score(SbScoreRequest(header, predict), SbScoreResponse)
        if resp.predict.need_key:
            predict = predict.replace(public_context=pred.public_context())
            resp = platform.score(SbScoreRequest(header, predict), SbScoreResponse)
        if resp.predict.need_key:
            raise FailedPrecondition("the platform did not accept the bank's key")
        self._key_sent = True
        check_reply(resp.reply, len(batch))
        if resp.predict.n_rows != len(batch):
            raise InternalError("the platform answered for another number of companies")
        sums = pred.sums(resp.predict.enc_margins, len(batch))
        out: list[_Margin | BaseException] = []
        for i, p in enumerate(batch):
            err = refusal(resp.reply, i)
            raw = pred.base_score + p.local + float(sums[i])
            out.append(
                err
                if err is not None
                else _Margin(raw, resp.reply.consent_ids[i], resp.reply.as_of)
            )
        return out
