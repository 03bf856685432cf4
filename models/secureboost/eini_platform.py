"""The platform's side of EINI prediction: its split table, its decisions, sealed products.

One decision rule serves every prediction the platform makes for a saved model (batch
prediction in a session, validation rows, online scoring): :meth:`PlatformSplits.decisions`,
``x <= threshold`` (``threshold`` None: every value) and a missing value the split's default
way, exactly :func:`models.secureboost.tree.value_decision`. A categorical split is a
set-membership decision: the value's category (under the current table's categories) is one
of the split's recorded left categories; a missing value or a category the split does not list
(another one, or one unseen in training) goes right.
"""

from __future__ import annotations

import functools
import threading
from collections import OrderedDict
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from models.crypto.ckks import CkksContext
from models.crypto.ckks_readout import ReadoutEvaluator
from models.crypto.wire import CipherArray
from models.errors import CryptoError, DataLoss, FailedPrecondition, InvalidArgument
from models.secureboost.eini import FLOOD_BITS, CellLayout, Packing
from models.secureboost.tree import category_decision


@dataclass(frozen=True)
class PlatformSplits:
    """A SecureBoost platform part's split table as arrays (split ids ascending)."""

    split_ids: np.ndarray  # int64
    features: tuple[str, ...]  # feature name per split
    thresholds: np.ndarray  # float64, +inf where every non-missing value goes left
    missing_left: np.ndarray  # bool
    categories: tuple[frozenset[str] | None, ...] = ()  # left categories of set splits

    @classmethod
    def from_part(cls, body: dict[str, Any]) -> PlatformSplits:
        try:
            items = sorted((int(k), v) for k, v in body["splits"].items())
            thresholds = [
                np.inf if v["threshold"] is None else float(v["threshold"]) for _, v in items
            ]
            return cls(
                split_ids=np.asarray([k for k, _ in items], dtype=np.int64),
                features=tuple(str(v["feature_name"]) for _, v in items),
                thresholds=np.asarray(thresholds, dtype=np.float64),
                missing_left=np.asarray([bool(v["missing_left"]) for _, v in items], dtype=bool),
                categories=tuple(
                    frozenset(str(c) for c in v["categories"]) if "categories" in v else None
                    for _, v in items
                ),
            )
        except (KeyError, TypeError, ValueError, AttributeError) as exc:
            raise DataLoss("the platform model part is malformed") from exc

    @property
    def source_features(self) -> tuple[str, ...]:
        """The distinct features the splits read, in first-use order."""
        return tuple(dict.fromkeys(self.features))

    def columns(self, names: Sequence[str]) -> np.ndarray:
        """Column of each split's feature in a table whose columns are ``names``."""
        col = {n: j for j, n in enumerate(names)}
        try:
            return np.asarray([col[f] for f in self.features], dtype=np.int64)
        except KeyError:
            raise FailedPrecondition("a model feature is missing from the platform data") from None

    def decisions(
        self,
        X: np.ndarray,
        names: Sequence[str],
        categories: Mapping[str, Sequence[str]] | None = None,
    ) -> np.ndarray:
        """``(rows, splits)`` go-left decisions for raw rows whose columns are ``names``.

        ``categories``: the table's categories of its categorical columns (feature name ->
        categories, the column holding codes), needed when a split is categorical.
        """
        X = np.asarray(X, dtype=np.float64)
        xs = X[:, self.columns(names)] if self.split_ids.size else np.zeros((X.shape[0], 0))
        with np.errstate(invalid="ignore"):
            out = np.where(np.isnan(xs), self.missing_left[None, :], xs <= self.thresholds)
        for j, left in enumerate(self.categories):
            if left is None:
                continue
            cats = (categories or {}).get(self.features[j])
            if cats is None:
                raise FailedPrecondition(
                    "a categorical model feature is not categorical in the platform data"
                )
            codes = tuple(float(k) for k, c in enumerate(cats) if c in left)
            out[:, j] = category_decision(xs[:, j], codes, bool(self.missing_left[j]))
        return out

    def layout(self) -> CellLayout:
        """The cell layout of the model (computed once)."""
        return self._prepared[0]

    def layout_digest(self) -> str:
        return self._prepared[1]

    def select(self, go_left: np.ndarray) -> np.ndarray:
        """``(rows, cells)`` 0/1 selections from ``(rows, splits)`` decisions."""
        _, _, index, wanted, cols = self._prepared
        dec = np.asarray(go_left, dtype=bool)
        ext = np.concatenate([dec[:, cols], np.ones((dec.shape[0], 1), dtype=bool)], axis=1)
        return np.all(ext[:, index] == wanted[None, :, :], axis=2)

    @functools.cached_property
    def _prepared(self) -> tuple[CellLayout, str, np.ndarray, np.ndarray, list[int]]:
        layout = CellLayout.from_split_ids(self.split_ids.tolist())
        index, wanted, needed = layout.constraint_matrix()
        pos = {int(s): i for i, s in enumerate(self.split_ids.tolist())}
        return layout, layout.digest(), index, wanted, [pos[s] for s in needed]


class BankKeys:
    """The banks' CKKS public contexts, by (party, fingerprint), each with its evaluator.

    Parsing a context (~0.4 MB) costs tens of milliseconds, so the platform keeps the last
    few and asks for a context only when it lacks it (``need_key`` in the answer). Each
    evaluator keeps a pool of fresh encryptions of zero, refilled in the background.
    """

    def __init__(self, max_keys: int = 8, pool: int = 0) -> None:
        self.max_keys = max_keys
        self.pool = pool
        self._keys: OrderedDict[tuple[str, str], ReadoutEvaluator] = OrderedDict()
        self._parsing: dict[tuple[str, str], threading.Lock] = {}
        self._lock = threading.Lock()

    def get(self, party: str, fingerprint: str, context: bytes = b"") -> ReadoutEvaluator | None:
        """The evaluator for this bank key; parses ``context`` if given (None: unknown key)."""
        key = (party, fingerprint)
        with self._lock:
            ev = self._keys.get(key)
            if ev is not None:
                self._keys.move_to_end(key)
                return ev
        if not context:
            return None
        with self._lock:
            parse_lock = self._parsing.setdefault(key, threading.Lock())
        # concurrent first requests under a new key wait for one parse (and one pool) instead
        # of each parsing the context and starting a pool that nobody then uses
        evicted: list[ReadoutEvaluator] = []
        with parse_lock:
            try:
                with self._lock:
                    hit = self._keys.get(key)
                if hit is not None:
                    return hit
                ctx = CkksContext.from_bytes(context)  # validates parameters and security
                if ctx.fingerprint != fingerprint:
                    raise CryptoError("the public context does not match its fingerprint")
                ev = ReadoutEvaluator(ctx)
                if self.pool:
                    ev.keep_pooled(self.pool)
                with self._lock:
                    self._keys[key] = ev
                    while len(self._keys) > self.max_keys:
                        evicted.append(self._keys.popitem(last=False)[1])
            finally:
                with self._lock:
                    self._parsing.pop(key, None)
        for old in evicted:
            old.keep_pooled(0)
        return ev

    def close(self) -> None:
        """Stop every background pool and forget the keys."""
        with self._lock:
            evs = list(self._keys.values())
            self._keys.clear()
        for ev in evs:
            ev.keep_pooled(0)


def sealed_margins(
    ev: ReadoutEvaluator, layout: CellLayout, selection: np.ndarray, enc_cells: CipherArray
) -> CipherArray:
    """Multiply the bank's cell ciphertexts by the platform's selections, seal each group.

    ``selection`` is ``(rows, cells)`` 0/1. Refuses ciphertexts under another key, of the
    wrong count or shape, before computing anything.
    """
    n_rows = int(selection.shape[0])
    blobs = ev.blobs(enc_cells)
    if n_rows == 0 or layout.n_cells == 0:  # no company, or a model without platform cells
        if blobs:
            raise InvalidArgument("ciphertexts were sent for no company")
        return ev.wire([])
    packing = Packing.for_cells(layout.n_cells, ev.degree)
    if len(blobs) != packing.n_groups(n_rows) * packing.chunks:
        raise InvalidArgument("the number of encrypted cell vectors does not match the companies")
    cts = [ev.load(b) for b in blobs]  # all parsed and checked before any work
    polys = packing.platform_polys(selection)
    out = []
    for g in range(packing.n_groups(n_rows)):
        idx = [i for i in range(g * packing.chunks, (g + 1) * packing.chunks) if polys[i].any()]
        # a group that selects nothing (every company refused) seals a fresh zero: SEAL
        # refuses a product with an all-zero plaintext (a "transparent" ciphertext)
        ct = ev.dot((cts[i], ev.encode(polys[i])) for i in idx) if idx else ev.zero()
        rows = min(packing.group, n_rows - g * packing.group)
        out.append(ev.seal(ct, packing.positions(rows), FLOOD_BITS))
    return ev.wire(out)


def answer_rows(
    ev: ReadoutEvaluator,
    splits: PlatformSplits,
    X: np.ndarray,
    names: Sequence[str],
    usable: np.ndarray,
    layout_digest: str,
    enc_cells: CipherArray,
    categories: Mapping[str, Sequence[str]] | None = None,
) -> CipherArray:
    """Decisions, selections and sealed margins for raw rows (unusable rows select nothing)."""
    if layout_digest != splits.layout_digest():
        raise FailedPrecondition("the bank's model does not match the platform's part")
    selection = splits.select(splits.decisions(X, names, categories))
    layout = splits.layout()
    selection[~np.asarray(usable, dtype=bool)] = False
    return sealed_margins(ev, layout, selection, enc_cells)
