"""Federated prediction of a SecureBoost model: the bank learns each company's margin only.

:class:`SecurePredictor` is the bank's side of EINI prediction (``models/secureboost/eini.py``):
it encrypts, per company, the cell values its own features select (CKKS, coefficient
encoding, several companies per ciphertext), the platform multiplies by its own selections and
seals the sums (``models/secureboost/eini_platform.py``), and the bank reads one margin per
company. The platform learns which companies are scored and nothing about their paths; the
bank learns the margins (within :meth:`SecurePredictor.tolerance` of plaintext prediction)
and nothing about the platform's decisions beyond what a margin implies.

:func:`raw_scores` is the plaintext reference (both parties' decisions in one place): tests and
the privacy experiments compare against it.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from models.crypto.ckks_coeff import create_context
from models.crypto.ckks_readout import ReadoutKey
from models.crypto.wire import CipherArray
from models.errors import CryptoError, FailedPrecondition, InvalidArgument
from models.secureboost.eini import FLOOD_BITS, GUARD_BITS, BankCells, CellLayout, Packing
from models.secureboost.messages import SbSecurePredictRequest, SbSecurePredictResponse
from models.secureboost.tree import BANK, Node, Tree, value_decision

#: Largest flood + noise an honest read-out carries (flood 2^14, noise a few hundred units).
NOISE_LIMIT = 2**FLOOD_BITS + 2**13


def new_prediction_key() -> ReadoutKey:
    """A fresh CKKS key pair for prediction (the bank keeps the secret half)."""
    return ReadoutKey(create_context())


@dataclass
class Encrypted:
    """One batch ready to send: what the bank adds itself and the encrypted cell values."""

    local: np.ndarray
    enc_cells: CipherArray
    n_rows: int


class SecurePredictor:
    """The bank's side of EINI prediction for one model.

    Parameters
    ----------
    trees, base_score:
        The model.
    key:
        The bank's CKKS key (:func:`new_prediction_key`).
    """

    def __init__(self, trees: Sequence[Tree], base_score: float, key: ReadoutKey) -> None:
        self.trees = list(trees)
        self.base_score = float(base_score)
        self.key = key
        split_ids = [s for t in self.trees for s in t.platform_split_ids()]
        self.layout = CellLayout.from_split_ids(split_ids)
        self.has_platform = bool(split_ids)
        self.cells = BankCells(self.trees, self.layout)
        self.quant_bits = self.cells.quant_bits() if self.layout.n_cells else 0
        self.packing = (
            Packing.for_cells(self.layout.n_cells, key.degree) if self.layout.n_cells else None
        )
        self.layout_digest = self.layout.digest()
        self.read_limit = self.cells.read_bound + 1.0

    @property
    def fingerprint(self) -> str:
        return self.key.fingerprint

    def public_context(self) -> bytes:
        return self.key.ctx.public_bytes()

    def tolerance(self) -> float:
        """Bound on ``|margin - plaintext margin|``: the quantisation of the leaf values read
        through the platform, and float additions in another order than plaintext prediction.
        The margin itself is deterministic (no noise survives, see ``eini.py``)."""
        magnitude = abs(self.base_score) + sum(
            max((abs(leaf.value) for leaf in t.leaves()), default=0.0) for t in self.trees
        )
        floats = (len(self.trees) + 2) * 2.0**-52 * magnitude
        if self.packing is None:
            return floats
        return floats + len(self.layout.trees) * 2.0 ** -(self.quant_bits + 1)

    def local_scores(self, X_bank: np.ndarray) -> np.ndarray:
        """Raw scores of a model without platform splits (nothing to ask the platform)."""
        if self.has_platform:
            raise FailedPrecondition("the model has platform splits")
        return self.base_score + self.cells.values(np.asarray(X_bank, dtype=np.float64), 0)[0]

    def encrypt(self, X_bank: np.ndarray) -> Encrypted:
        """Cell values of each row, encrypted several rows per ciphertext."""
        X = np.asarray(X_bank, dtype=np.float64)
        if X.ndim != 2:
            raise InvalidArgument("bank rows must be a matrix")
        local, cells = self.cells.values(X, self.quant_bits)
        return Encrypted(local, self.encrypt_cells(cells), X.shape[0])

    def encrypt_cells(self, cells: np.ndarray) -> CipherArray:
        """Encrypt ``(rows, n_cells)`` integer cell values (from ``cells.values``)."""
        if self.packing is None or cells.shape[0] == 0:
            return self.key.wire([])
        return self.key.wire(self.key.encrypt(self.packing.bank_polys(cells)))

    def sums(self, enc_margins: CipherArray, n_rows: int) -> np.ndarray:
        """The selected-leaf sums of ``n_rows`` rows: each read-out rounded to a multiple of
        ``2^GUARD_BITS`` (flood and noise gone), then ``/ 2^(quant_bits + GUARD_BITS)``."""
        if self.packing is None or n_rows == 0:
            return np.zeros(n_rows)
        p = self.packing
        blobs = self.key.blobs(enc_margins)
        if len(blobs) != p.n_groups(n_rows):
            raise InvalidArgument("the platform answered for another number of companies")
        half = 1 << (GUARD_BITS - 1)
        out: list[float] = []
        for g, blob in enumerate(blobs):
            rows = min(p.group, n_rows - g * p.group)
            for raw in self.key.read(blob, p.positions(rows)):
                centred = self.key.centred(raw)
                units = (centred + half) >> GUARD_BITS  # round to nearest
                value = units / 2.0**self.quant_bits
                # flood and noise never come near the guard's half: a residue there, or a
                # value beyond the model's range, is a result that was not computed honestly
                if abs(centred - (units << GUARD_BITS)) > NOISE_LIMIT or not (
                    abs(value) <= self.read_limit
                ):
                    raise CryptoError("a CKKS result decrypts out of range: tampered or foreign")
                out.append(value)
        return np.asarray(out, dtype=np.float64)

    def decode(self, enc: Encrypted, enc_margins: CipherArray) -> np.ndarray:
        """Raw scores (log-odds): base score + the bank's own part + the decrypted sums."""
        return self.base_score + enc.local + self.sums(enc_margins, enc.n_rows)

    def request(
        self, model_id: str, ids: Sequence[str], enc_cells: CipherArray, with_key: bool
    ) -> SbSecurePredictRequest:
        return SbSecurePredictRequest(
            model_id=model_id,
            ids=[str(i) for i in ids],
            layout_digest=self.layout_digest,
            key_fingerprint=self.fingerprint,
            enc_cells=enc_cells,
            public_context=self.public_context() if with_key else b"",
        )

    def predict(
        self,
        call: Callable[[int, SbSecurePredictRequest], SbSecurePredictResponse],
        model_id: str,
        platform_digest: str,
        ids: np.ndarray,
        X_bank: np.ndarray,
        batch_size: int = 256,
    ) -> np.ndarray:
        """Raw scores of every row, ``batch_size`` companies per platform call.

        ``call(batch, request)`` runs one step (e.g. ``SecureBoostStub.secure_predict``).
        """
        ids = np.asarray(ids).astype(str)
        X = np.asarray(X_bank, dtype=np.float64)
        if ids.size != X.shape[0]:
            raise InvalidArgument("one id per bank row is required")
        if batch_size < 1:
            raise InvalidArgument("batch size must be positive")
        if not self.has_platform:
            return self.local_scores(X)
        out = np.zeros(ids.size)
        for step, start in enumerate(range(0, ids.size, batch_size)):
            chunk = slice(start, start + batch_size)
            enc = self.encrypt(X[chunk])
            # the first request carries the public context; a platform that lost it meanwhile
            # (a restart) gets it once more
            resp = call(step, self.request(model_id, ids[chunk].tolist(), enc.enc_cells, step == 0))
            if resp.need_key and step > 0:
                resp = call(-step, self.request(model_id, ids[chunk].tolist(), enc.enc_cells, True))
            if resp.need_key:
                raise FailedPrecondition("the platform did not accept the bank's key")
            if platform_digest and resp.platform_digest != platform_digest:
                raise FailedPrecondition("the platform holds another version of this model")
            if resp.n_rows != enc.n_rows:
                raise InvalidArgument("the platform answered for another number of companies")
            out[chunk] = self.decode(enc, resp.enc_margins)
        return out


def raw_scores(
    trees: list[Tree],
    base_score: float,
    X_bank: np.ndarray,
    split_ids: list[int],
    decisions: np.ndarray,
) -> np.ndarray:
    """Plaintext reference: raw scores from the bank's values and the platform's decisions
    (``decisions[i]`` is the go-left row of ``split_ids[i]``)."""
    n = X_bank.shape[0]
    index = {sid: i for i, sid in enumerate(split_ids)}

    def decide(node: Node, idx: np.ndarray) -> np.ndarray:
        if node.owner == BANK:
            return value_decision(
                X_bank[idx, node.feature], node.threshold, node.missing_left, node.categories
            )
        return decisions[index[node.split_id], idx]

    raw = np.full(n, float(base_score))
    for tree in trees:
        raw += tree.leaf_values(tree.route(n, decide))
    return raw
