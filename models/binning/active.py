"""The bank's side of federated binning: WOE/IV of every feature and IV-based selection.

Bank features are binned and counted locally. Platform features: the platform bins them
(private cut points); the bank sends its training labels Paillier-encrypted, the platform
returns the encrypted per-bin event sums and plain per-bin totals, and the bank decrypts and
computes WOE and IV with exactly the function it uses for its own features (and for the
centralized reference). With ``method="optimal"`` both parties first make fine quantile bins
and the bank merges them into monotonic coarse bins from the counts
(:func:`~models.binning.merge.monotonic_merge`).

With ``dp_epsilon`` the platform adds discrete Laplace noise to the counts before the bank sees
them (:mod:`models.binning.dp`); the bank clamps them (never negative, events <= totals) and
keeps what the platform applied in :attr:`FederatedBinning.dp_record_`.

Usage::

    fb = FederatedBinning(method="quantile", n_bins=10)
    fb.fit(bank_table, peer, rows=train_rows)                # opens a "binning" session
    chosen = fb.select(threshold=0.02)                       # or top_k=...
    fb.report().to_csv(...); fb.plot_iv(path)
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np

from models.binning.binner import FeatureBinner
from models.binning.dp import MECHANISM, DpRecord, postprocess_counts
from models.binning.iv import FeatureIv
from models.binning.merge import monotonic_merge
from models.binning.messages import (
    BinCountsRequest,
    BinCountsResponse,
    BinInitRequest,
    BinInitResponse,
    BinWoeRequest,
    BinWoeResponse,
)
from models.binning.transform import WoeTransform, by_index, split_concatenated
from models.binning.woe import DEFAULT_SMOOTHING, WoeIv, woe_iv
from models.crypto.histogram import decompress_plaintexts
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.dataset import PartyTable
from models.errors import CryptoError, FailedPrecondition, InvalidArgument
from models.federation.peer import PassivePeer
from models.logreg.encoding import min_count_for
from models.logreg.model_io import check_model_id, ids_digest
from models.logreg.sessions import model_session_spec

METHODS = ("quantile", "equal_width", "optimal")


class BinningStub:
    """Typed client of the platform's binning steps."""

    def __init__(self, peer: PassivePeer, prefix: str = "bin") -> None:
        self.peer = peer
        self.prefix = prefix

    def init(self, request: BinInitRequest) -> BinInitResponse:
        return self.peer.call(f"{self.prefix}/init", request, BinInitResponse)

    def counts(self, request: BinCountsRequest) -> BinCountsResponse:
        return self.peer.call(f"{self.prefix}/counts", request, BinCountsResponse)

    def woe(self, request: BinWoeRequest) -> BinWoeResponse:
        return self.peer.call(f"{self.prefix}/woe", request, BinWoeResponse)


def coarse_stats(
    fine_events: np.ndarray,
    fine_totals: np.ndarray,
    method: str,
    max_bins: int,
    min_bin_size: float,
    smoothing: float,
) -> tuple[np.ndarray, WoeIv]:
    """(mapping of value bins, WOE/IV of coarse bins + missing) from fine counts."""
    ev, tot = fine_events[:-1], fine_totals[:-1]
    if method == "optimal" and ev.size:
        mapping = monotonic_merge(ev, tot, max_bins, min_bin_size, smoothing)
    else:
        mapping = np.arange(ev.size, dtype=np.int64)
    n_coarse = int(mapping.max()) + 1 if mapping.size else 0
    ce = np.bincount(mapping, weights=ev, minlength=n_coarse)
    ct = np.bincount(mapping, weights=tot, minlength=n_coarse)
    ce = np.append(ce, fine_events[-1])
    ct = np.append(ct, fine_totals[-1])
    return mapping, woe_iv(ce, ct, smoothing)


class FederatedBinning:
    """Binning, WOE and IV of bank and platform features; IV selection and report.

    Parameters
    ----------
    method:
        ``quantile``, ``equal_width`` or ``optimal`` (monotonic merge of ``n_bins`` fine
        quantile bins into at most ``max_bins``).
    n_bins, max_bins, min_bin_fraction:
        Bins per feature; for ``optimal`` the coarse limit and the smallest coarse bin as a
        fraction of the training rows.
    smoothing:
        Added to each bin's event and non-event counts (see :mod:`models.binning.woe`).
    key_bits:
        Paillier key size for the encrypted labels.
    dp_epsilon:
        ``None`` (default): exact counts, the documented disclosure. A positive number: the
        differential privacy (epsilon over the whole count release, split equally over the
        platform's features) the bank asks the platform to apply to the per-bin counts of
        its features; the platform refuses a value outside its range.
    min_category_count:
        Categorical columns (both parties') are binned by category: each category with at
        least this many training rows (0: 1% of them) is a bin, the others share an ``other``
        bin; category bins are kept as they are (never merged as neighbours).
    """

    def __init__(
        self,
        method: str = "quantile",
        n_bins: int = 10,
        max_bins: int = 6,
        min_bin_fraction: float = 0.05,
        smoothing: float = DEFAULT_SMOOTHING,
        key_bits: int = 2048,
        dp_epsilon: float | None = None,
        min_category_count: int = 0,
    ) -> None:
        check_dp_epsilon(dp_epsilon)
        if method not in METHODS:
            raise InvalidArgument("binning method must be quantile, equal_width or optimal")
        if not 0 <= min_bin_fraction < 0.5:
            raise InvalidArgument("min_bin_fraction must be in [0, 0.5)")
        self.method = method
        self.n_bins = n_bins
        self.max_bins = max_bins
        self.min_bin_fraction = min_bin_fraction
        self.smoothing = smoothing
        self.key_bits = key_bits
        self.dp_epsilon = dp_epsilon
        self.min_category_count = int(min_category_count)

    # ------------------------------------------------------------------ fitting
    def fit(
        self,
        bank_table: PartyTable,
        peer: PassivePeer,
        *,
        rows: np.ndarray | None = None,
        platform_dataset: str = "",
        job_id: str | None = None,
        model_id: str | None = None,
        keypair: PaillierKeypair | None = None,
        session_params: Mapping[str, str] | None = None,
    ) -> FederatedBinning:
        """Open a ``binning`` session, compute every feature's WOE/IV, close the session."""
        model_id = model_id or f"bin-{secrets.token_hex(8)}"
        spec = model_session_spec(
            job_id=job_id or model_id,
            algorithm="binning",
            dataset=platform_dataset,
            session_params=session_params,
            model_id=model_id,
            purpose="binning",
        )
        peer.open_session(spec)
        try:
            self.run(BinningStub(peer), bank_table, rows=rows, model_id=model_id, keypair=keypair)
        finally:
            peer.close_session("binning finished")
        return self

    def run(
        self,
        stub: BinningStub,
        bank_table: PartyTable,
        *,
        rows: np.ndarray | None = None,
        model_id: str,
        keypair: PaillierKeypair | None = None,
    ) -> FederatedBinning:
        """The protocol over an open session (the scorecard job reuses it)."""
        check_model_id(model_id)
        check_dp_epsilon(self.dp_epsilon)
        if bank_table.y is None:
            raise InvalidArgument("the bank's table has no labels")
        y = np.asarray(bank_table.y, dtype=np.float64)
        train = bank_table.row_positions(rows)
        if train.size == 0 or np.unique(y[train]).size < 2:
            raise InvalidArgument("training rows must hold both classes")
        min_size = self.min_bin_fraction * train.size
        kp = keypair or PaillierKeypair.generate(self.key_bits)
        # bank features, locally
        unsupervised = "quantile" if self.method == "optimal" else self.method
        bank_cats = by_index(bank_table.feature_names, bank_table.categories)
        bank_binner = FeatureBinner(unsupervised, self.n_bins).fit(
            bank_table.X[train], bank_cats, min_count_for(self.min_category_count, train.size)
        )
        bank_codes = bank_binner.transform(bank_table.X[train], bank_cats)
        features: list[FeatureIv] = []
        nb = bank_binner.n_total_bins
        for j in range(bank_table.n_features):
            ev = np.bincount(bank_codes[:, j], weights=y[train], minlength=int(nb[j]))
            tot = np.bincount(bank_codes[:, j], minlength=int(nb[j])).astype(np.float64)
            categorical = bank_binner.is_categorical(j)
            mapping, st = coarse_stats(
                np.rint(ev),
                tot,
                "quantile" if categorical else self.method,
                self.max_bins,
                min_size,
                self.smoothing,
            )
            fine_labels = bank_binner.bin_labels(j)
            features.append(
                FeatureIv(
                    "bank",
                    j,
                    bank_table.feature_names[j],
                    bank_table.feature_groups[j],
                    mapping,
                    st,
                    fine_labels if categorical else _coarse_labels(fine_labels, mapping),
                )
            )
        # platform features, through the protocol
        init = stub.init(
            BinInitRequest(
                model_id=model_id,
                n_rows=bank_table.n_rows,
                ids_digest=ids_digest(bank_table.ids),
                train_rows=train,
                method=self.method,
                n_bins=self.n_bins,
                public_key=kp.public_key.to_bytes(),
                dp_epsilon=float(self.dp_epsilon or 0.0),
                min_category_count=self.min_category_count,
            )
        )
        labels = [int(v) for v in y[train].astype(np.int64)]
        counts = stub.counts(BinCountsRequest(enc_labels=kp.encrypt(labels).to_wire()))
        dp = _check_dp_answer(self.dp_epsilon, counts, init.n_features)
        raw_events, raw_totals = _decrypt_counts(kp, counts, list(init.n_bins), train.size, dp)
        if dp is None:
            fine_events, fine_totals = raw_events, raw_totals
        else:
            clamped = [
                postprocess_counts(e, t - e) for e, t in zip(raw_events, raw_totals, strict=True)
            ]
            fine_events = [c[0] for c in clamped]
            fine_totals = [c[1] for c in clamped]
        names = list(init.feature_names) or [f"platform_{j}" for j in range(init.n_features)]
        unordered = list(init.categorical) + [False] * init.n_features
        for j in range(init.n_features):
            mapping, st = coarse_stats(
                fine_events[j],
                fine_totals[j],
                "quantile" if unordered[j] else self.method,
                self.max_bins,
                min_size,
                self.smoothing,
            )
            n_coarse = int(mapping.max()) + 1 if mapping.size else 0
            features.append(
                FeatureIv(
                    "platform",
                    j,
                    names[j],
                    init.feature_groups[j] if j < len(init.feature_groups) else "",
                    mapping,
                    st,
                    [f"bin {k}" for k in range(n_coarse)] + ["missing"],
                )
            )
        self.model_id_ = model_id
        self.bank_binner_ = bank_binner
        self.features_ = features
        self.n_train_ = int(train.size)
        self.dp_record_: dict[str, Any] | None = None if dp is None else dp.to_dict()
        self.platform_raw_events_ = raw_events
        self.platform_raw_totals_ = raw_totals
        self.stub_ = stub
        self.selected_: list[FeatureIv] = []
        return self

    # ------------------------------------------------------------------ results
    def _check_fitted(self) -> None:
        if not hasattr(self, "features_"):
            raise FailedPrecondition("binning is not fitted")

    def iv(self, party: str | None = None) -> dict[str, float]:
        """Feature name -> IV (both parties, or one)."""
        self._check_fitted()
        return {f.name: f.iv for f in self.features_ if party in (None, f.party)}

    def select(self, threshold: float | None = None, top_k: int | None = None) -> list[FeatureIv]:
        """Features with IV >= ``threshold`` and/or the ``top_k`` highest IVs (both parties)."""
        self._check_fitted()
        ranked = sorted(self.features_, key=lambda f: (-f.iv, f.party, f.index))
        if threshold is not None:
            ranked = [f for f in ranked if f.iv >= threshold]
        if top_k is not None:
            if top_k < 1:
                raise InvalidArgument("top_k must be positive")
            ranked = ranked[:top_k]
        self.selected_ = sorted(ranked, key=lambda f: (f.party != "bank", f.index))
        return list(self.selected_)

    def selected(self, party: str) -> list[FeatureIv]:
        return [f for f in getattr(self, "selected_", []) if f.party == party]

    def bank_transform(self, features: list[FeatureIv] | None = None) -> WoeTransform:
        """The WOE transform of the (selected) bank features."""
        self._check_fitted()
        feats = self.selected("bank") if features is None else features
        return WoeTransform(
            self.bank_binner_,
            [f.index for f in feats],
            [f.mapping for f in feats],
            [f.stats.woe for f in feats],
        )

    def send_platform_woe(self, stub: BinningStub | None = None) -> BinWoeResponse:
        """Send the WOE tables of the selected platform features to the platform.

        Reveals to platform: see :class:`~models.binning.messages.BinWoeRequest`.
        """
        self._check_fitted()
        feats = self.selected("platform")
        stub = stub or self.stub_
        mappings = np.concatenate([f.mapping for f in feats]) if feats else np.zeros(0, np.int64)
        woe = np.concatenate([f.stats.woe for f in feats]) if feats else np.zeros(0)
        resp = stub.woe(
            BinWoeRequest(
                features=[f.index for f in feats],
                mappings=mappings.astype(np.int64),
                woe=woe.astype(np.float64),
            )
        )
        if list(resp.n_bins) != [f.n_bins for f in feats]:
            raise FailedPrecondition("the platform applied a different WOE layout")
        return resp

    def report(self) -> Any:
        """The IV table (pandas DataFrame), highest IV first."""
        from models.binning.report import iv_table

        self._check_fitted()
        return iv_table(self.features_, getattr(self, "selected_", []))

    def plot_iv(self, path: Path, top: int = 30) -> Path:
        """Horizontal bar chart of the IVs (PNG)."""
        from models.binning.report import plot_iv

        self._check_fitted()
        return plot_iv(self.features_, Path(path), top=top)


def _coarse_labels(fine_labels: list[str], mapping: np.ndarray) -> list[str]:
    """Interval labels of coarse bins from fine ones (``[lo, hi)``), missing last."""
    if mapping.size == 0:
        return ["missing"]
    out = []
    for k in range(int(mapping.max()) + 1):
        idx = np.flatnonzero(mapping == k)
        lo = fine_labels[int(idx[0])].split(",")[0]
        hi = fine_labels[int(idx[-1])].split(",")[1]
        out.append(f"{lo},{hi}")
    return [*out, "missing"]


def check_dp_epsilon(dp_epsilon: float | None) -> None:
    """``None`` or a positive finite number (the platform checks its own range)."""
    if dp_epsilon is None:
        return
    if isinstance(dp_epsilon, bool) or not isinstance(dp_epsilon, int | float):
        raise InvalidArgument("dp_epsilon must be a positive number or None")
    if not math.isfinite(float(dp_epsilon)) or not float(dp_epsilon) > 0:
        raise InvalidArgument("dp_epsilon must be a positive number or None")


def _check_dp_answer(
    dp_epsilon: float | None, counts: BinCountsResponse, n_features: int
) -> DpRecord | None:
    """The DP the platform says it applied must be the one the bank asked for."""
    asked = float(dp_epsilon or 0.0)
    if float(counts.dp_epsilon) != asked:
        raise FailedPrecondition("the platform applied a different dp_epsilon than requested")
    if asked == 0.0:
        if counts.dp_mechanism or counts.event_offset:
            raise FailedPrecondition("the platform's exact counts carry a noise layout")
        return None
    if counts.dp_mechanism != MECHANISM:
        raise FailedPrecondition("the platform applied an unknown noise mechanism")
    return DpRecord(epsilon=asked, n_features=int(n_features))


def _decrypt_counts(
    kp: PaillierKeypair,
    counts: BinCountsResponse,
    n_bins: list[int],
    n_train: int,
    dp: DpRecord | None = None,
) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Per feature: event counts and totals as released (exact, or noisy with ``dp``)."""
    total = int(sum(n_bins))
    if counts.n_values != total or np.asarray(counts.totals).shape != (total,):
        raise FailedPrecondition("the platform's counts do not match its bin layout")
    if counts.slot_bits < 2 or counts.slots_per_ciphertext < 1:
        raise CryptoError("count packing layout is invalid")
    if counts.slot_bits * counts.slots_per_ciphertext > kp.public_key.key_bits:
        raise CryptoError("count packing layout does not fit the key")
    offset = int(counts.event_offset)
    if not 0 <= offset < 1 << max(counts.slot_bits - 1, 0):
        raise CryptoError("count packing offset does not fit its slots")
    enc = EncryptedVector.from_wire(counts.enc_events, kp.public_key)
    plain = kp.decrypt_unsigned(enc)
    events = np.asarray(
        [
            v - offset
            for v in decompress_plaintexts(
                plain, counts.slot_bits, counts.slots_per_ciphertext, total
            )
        ],
        dtype=np.float64,
    )
    totals = np.asarray(counts.totals, dtype=np.float64)
    if dp is not None:  # noisy: no exact identity to check; the caller clamps
        return split_concatenated(events, n_bins), split_concatenated(totals, n_bins)
    if np.any(events > totals) or np.any(totals < 0):
        raise FailedPrecondition("decrypted event counts exceed the bin totals")
    ev = split_concatenated(events, n_bins)
    tot = split_concatenated(totals, n_bins)
    if any(int(t.sum()) != n_train for t in tot):
        raise FailedPrecondition("per-bin totals do not add up to the training rows")
    return ev, tot
