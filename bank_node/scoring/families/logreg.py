"""Vertical logistic regression (``models/logreg``): bank terms + decrypted platform partial.

:class:`LinearPartials` (shared with scorecards) fetches the platform's encrypted partials;
concurrent requests of one model share a platform call, as for trees, which spares the
per-call cost on both nodes (transport, authorisation, codec, the platform's part lookup),
and the platform packs the partials of up to ``ScoringKeys.pack_slots()`` companies of a call
into one ciphertext (:mod:`models.logreg.packing`), which spares encryptions at the platform
and decryptions at the bank.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from gmpy2 import mpz

from bank_node.scoring.assembler import linear_assemble
from bank_node.scoring.families.coalesce import Coalescer
from bank_node.scoring.families.common import (
    BankModel,
    Scored,
    ScoreJob,
    check_reply,
    header_for,
    refusal,
)
from bank_node.scoring.keys import ScoringKeys
from models.errors import InternalError
from models.federation.peer import ScoringPeer
from models.logreg.active import FederatedLogisticRegression
from models.logreg.packing import group_sizes
from models.logreg.scoring import LinearScoreRequest, LinearScoreResponse

#: Most companies per platform call (the platform takes up to 64).
MAX_COMPANIES_PER_CALL = 16
#: Platform calls of one model in flight at once (each carries every request queued).
MAX_IN_FLIGHT = 1
#: Longest a call waits for the requests the recent concurrency says are on their way
#: (:class:`~bank_node.scoring.families.coalesce.Coalescer`; a lone request never waits).
LINGER_S = 0.005


@dataclass(frozen=True)
class _Ask:
    job: ScoreJob
    platform: ScoringPeer
    keys: ScoringKeys


class _Packed:
    """One packed ciphertext of a call, shared by the requests whose companies it holds:
    decrypted once, by the first of them that needs it; each reads only its own slot."""

    def __init__(self, ciphertext: mpz, count: int) -> None:
        self.ciphertext = ciphertext
        self.count = count
        self._lock = threading.Lock()
        self._values: list[float] | None = None

    def value(self, keys: ScoringKeys, slot: int) -> float:
        with self._lock:
            if self._values is None:
                self._values = keys.decrypt_packed(self.ciphertext, self.count).tolist()
            return self._values[slot]


@dataclass(frozen=True)
class _Answer:
    ciphertext: mpz | _Packed  # the company's own ciphertext, or the packed one holding it
    slot: int  # its slot in a packed ciphertext (0 otherwise)
    names: list[str]
    consent_id: str
    as_of: str

    def value(self, keys: ScoringKeys) -> float:
        if isinstance(self.ciphertext, _Packed):
            return self.ciphertext.value(keys, self.slot)
        return float(keys.decrypt_ciphertexts([self.ciphertext])[0])


class LinearPartials:
    """The platform partials of one linear model (logistic regression, scorecard).

    Concurrent officer requests of the model share one platform call
    (:class:`~bank_node.scoring.families.coalesce.Coalescer`: same platform peer, keys,
    scoring date and number of reasons); the platform gives each company its own verdict and
    encrypts its partial packed with those of up to ``keys.pack_slots() - 1`` other companies
    of the call (``pack=False``: one ciphertext per company). The bank node decrypts a packed
    ciphertext once (the first request that needs it, in its thread, after the call's slot is
    free again) and hands each officer's request only its own company's value: the node is one
    trust domain holding the key, and no officer sees another's slot.
    """

    def __init__(self, model: BankModel, *, pack: bool = True) -> None:
        self.model = model
        self.pack = pack
        self.coalescer: Coalescer[_Ask, _Answer] = Coalescer(
            self._send,
            limit=MAX_COMPANIES_PER_CALL,
            max_in_flight=MAX_IN_FLIGHT,
            linger_s=LINGER_S,
        )

    def partial(
        self, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys
    ) -> tuple[float, list[str], str, str]:
        """(decrypted platform partial, its adverse categories, consent id, as_of)."""
        key = (id(platform), id(keys), job.as_of, job.max_reasons)
        answer = self.coalescer.submit(key, _Ask(job, platform, keys))
        return answer.value(keys), answer.names, answer.consent_id, answer.as_of

    def _send(self, asks: list[_Ask]) -> list[_Answer | BaseException]:
        jobs = [a.job for a in asks]
        platform, keys, n = asks[0].platform, asks[0].keys, len(asks)
        request = LinearScoreRequest(
            header=header_for(self.model, jobs),
            public_key=keys.public_bytes(),
            max_reasons=jobs[0].max_reasons,
            pack_slots=keys.pack_slots() if self.pack and n > 1 else 0,
        )
        reply = platform.score(request, LinearScoreResponse)
        check_reply(reply.reply, n)
        names = reply.adverse_categories
        if names and len(names) != n:
            raise InternalError("the platform answered for another number of companies")
        slots = reply.packed_slots
        held: list[tuple[mpz | _Packed, int]]
        if slots == 0:  # one ciphertext per company (also a platform that predates packing)
            held = [(c, 0) for c in keys.ciphertexts(reply.enc_values, n)]
        elif 0 < slots <= request.pack_slots:
            sizes = group_sizes(n, slots)
            packed = [
                _Packed(c, k)
                for c, k in zip(keys.ciphertexts(reply.enc_values, len(sizes)), sizes, strict=True)
            ]
            held = [(packed[i // slots], i % slots) for i in range(n)]
        else:
            raise InternalError("the platform packed its answer in a way the bank did not ask")
        out: list[_Answer | BaseException] = []
        for i in range(n):
            err = refusal(reply.reply, i)
            out.append(
                err
                if err is not None
                else _Answer(
                    held[i][0],
                    held[i][1],
                    list(names[i].names) if names else [],
                    reply.reply.consent_ids[i],
                    reply.reply.as_of,
                )
            )
        return out


class LogRegScoring:
    family = "logreg"

    def __init__(self, model: FederatedLogisticRegression) -> None:
        self.model_id: str = model.model_id_
        self.platform_digest: str = model.platform_digest_
        self.dataset: str = model.platform_dataset_
        self.bank_features: list[str] = list(model.feature_names_in_)
        self.describe: dict[str, str] = {}
        self.model = model
        self.coef = np.asarray(model.coef_, dtype=np.float64)
        self.intercept = float(model.intercept_)
        self.partials = LinearPartials(self)

    @classmethod
    def load(cls, path: Path) -> LogRegScoring:
        return cls(FederatedLogisticRegression.load(path))

    def score(self, job: ScoreJob, platform: ScoringPeer, keys: ScoringKeys) -> Scored:
        partial, names, consent_id, as_of = self.partials.partial(job, platform, keys)
        z = self.model.bank_design(np.asarray(job.x_bank, dtype=np.float64)[None, :])[0]
        # a categorical feature's columns count as one contribution, that of the feature
        terms = np.zeros(len(self.bank_features))
        np.add.at(terms, np.asarray(self.model.encoder_.sources_, dtype=np.int64), z * self.coef)
        assembled = linear_assemble(
            terms, np.ones(terms.size), self.intercept, self.bank_features, partial, names
        )
        return Scored(assembled, consent_id, as_of)
