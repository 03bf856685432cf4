"""The platform's steps of membership-hiding training (``privacy = "hardened"`` or
``"strict"``), mixed into :class:`~models.secureboost.passive.SecureBoostPassive`.

Per level the platform receives one fresh ciphertext per (training row, node group), sums them
per (feature, bin) over *all* training rows, adds its noise to every slot, compresses and
rerandomises; for a chosen split it answers the go-left bit of every training row. It never
receives a row set, so it cannot tell which rows share a node. It enforces its side of the
privacy policy: the tree schedule (which trees and depths may use its features), the noise
(drawn here, so the bank cannot turn it off), and the refusal of the standard steps (see
``SecureBoostPassive``). Every request is validated completely before any state changes.
"""

from __future__ import annotations

import itertools
import secrets
from typing import TYPE_CHECKING, Any

import numpy as np

from models import compute
from models.crypto.histogram import compress_ciphertexts
from models.crypto.paillier import EncryptedVector, PaillierPublicKey
from models.errors import FailedPrecondition, InvalidArgument
from models.federation.party import handles
from models.secureboost.hidden_messages import (
    SbLevelGradientsRequest,
    SbLevelGradientsResponse,
    SbLevelHistogramRequest,
    SbLevelHistogramResponse,
    SbLevelSplitRequest,
    SbLevelSplitResponse,
)
from models.secureboost.platform_splits import record_decision, split_record
from models.secureboost.privacy import NOISE_CLIP_SIGMAS, PrivacyPolicy
from models.secureboost.tree import make_split_id, unpack_bin_sets

if TYPE_CHECKING:
    from models.dataset import PartyTable
    from models.secureboost.binning import QuantileBinner

#: Most ciphertexts per row per level (groups of built nodes) a platform accepts.
MAX_GROUPS = 1024


def noise_plaintext(
    rng: secrets.SystemRandom,
    policy: PrivacyPolicy,
    *,
    n_digits: int,
    slot_bits: int,
    g_bits: int,
    frac_bits: int,
) -> int:
    """One noise value per slot, ``(nh << S) + ng`` at slot ``j`` shifted by ``B * j``, with
    ``ng ~ N(0, noise_g)`` and ``nh ~ N(0, noise_h)`` in fixed point, each clipped at
    :data:`~models.secureboost.privacy.NOISE_CLIP_SIGMAS` standard deviations. Drawn from the
    operating system's CSPRNG."""
    scale = float(2**frac_bits)
    total = 0
    for j in range(n_digits):
        parts = []
        for sigma in (policy.noise_g, policy.noise_h):
            if sigma <= 0:
                parts.append(0)
                continue
            z = max(-NOISE_CLIP_SIGMAS, min(NOISE_CLIP_SIGMAS, rng.gauss(0.0, 1.0)))
            parts.append(round(z * sigma * scale))
        ng, nh = parts
        total += ((nh << g_bits) + ng) << (slot_bits * j)
    return total


class HiddenLevelsMixin:
    """Handlers of the ``SbLevel*`` steps; state lives on the ``SecureBoostPassive`` instance."""

    if TYPE_CHECKING:  # provided by SecureBoostPassive
        public_key: PaillierPublicKey | None
        policy: PrivacyPolicy
        slot_bits: int
        slots_per_ciphertext: int
        g_bits: int
        frac_bits: int
        binner: QuantileBinner | None
        codes: np.ndarray
        compact: np.ndarray
        train_order: np.ndarray
        committed: int
        tree: int
        tree_features: np.ndarray
        pending: dict[int, dict[str, Any]]
        _workers: int | None

        def _require_ready(self) -> None: ...
        def _reset_tree(self, tree: int) -> None: ...
        def _rerandomize(self, enc: EncryptedVector) -> EncryptedVector: ...
        def _start_precompute(self, count: int) -> None: ...
        def _stop_precompute(self) -> None: ...
        def _load(self) -> PartyTable: ...

    # ------------------------------------------------------------------ state
    def _reset_level(self) -> None:
        self._lv_key: tuple[int, int] | None = None  # (tree, depth) of the current level
        self._lv_meta = (0, 0, 0)  # n_chunks, n_slots, n_groups
        self._lv_chunks: dict[int, tuple[int, EncryptedVector]] = {}  # chunk -> (offset, enc)
        self._lv_enc: list[EncryptedVector] | None = None  # assembled, one vector per group
        self._lv_hist_done = False

    def _require_hidden(self) -> None:
        self._require_ready()
        if not self.policy.hide_membership:
            raise FailedPrecondition("this step belongs to the hardened and strict privacy modes")

    # ------------------------------------------------------------------ steps
    @handles
    def level_gradients(self, request: SbLevelGradientsRequest) -> SbLevelGradientsResponse:
        """Receive a chunk of one level's slot-packed ciphertexts (every training row).

        Reveals to bank: how many rows of the level the platform holds.
        """
        self._require_hidden()
        assert self.public_key is not None and self.binner is not None
        t, d = int(request.tree), int(request.depth)
        if t != self.committed:
            raise FailedPrecondition("gradients are for a tree other than the next one")
        if not self.policy.level_uses_platform(t, d):
            raise FailedPrecondition(
                "the privacy mode does not let this tree level use platform features"
            )
        n_train = self.train_order.size
        k = self.slots_per_ciphertext
        n_chunks, n_slots, n_groups = (
            int(request.n_chunks),
            int(request.n_slots),
            int(request.n_groups),
        )
        new_level = self._lv_key != (t, d)
        feats = np.sort(np.asarray(request.features, dtype=np.int64))
        if new_level:
            if request.chunk != 0:
                raise FailedPrecondition("a level starts with its first chunk")
            if t != self.tree and d != 0:
                raise FailedPrecondition("a tree starts at depth 0")
            if t == self.tree and (
                self._lv_key is None or d != self._lv_key[1] + 1 or not self._lv_hist_done
            ):
                raise FailedPrecondition("levels must follow each other in order")
            if not 1 <= n_slots <= k or not 1 <= n_groups <= MAX_GROUPS:
                raise InvalidArgument("the level's slot layout is invalid")
            if n_groups > 1 and n_slots != k:
                raise InvalidArgument("the level's slot layout is invalid")
            if not 1 <= n_chunks <= n_train:
                raise InvalidArgument("chunk count is out of range")
            if t == self.tree:
                if not np.array_equal(feats, self.tree_features):
                    raise InvalidArgument("the tree's features changed between levels")
            elif feats.size == 0 or (
                feats.min() < 0
                or feats.max() >= self.codes.shape[1]
                or np.unique(feats).size != feats.size
            ):
                raise InvalidArgument("feature indices are invalid")
        else:
            if (n_chunks, n_slots, n_groups) != self._lv_meta or not np.array_equal(
                feats, self.tree_features
            ):
                raise InvalidArgument("a chunk disagrees with its level")
            if not 0 <= request.chunk < n_chunks or int(request.chunk) in self._lv_chunks:
                raise InvalidArgument("chunk index is out of range or repeated")
        enc = EncryptedVector.from_wire(request.enc_gh, self.public_key)
        rows, rest = divmod(len(enc), n_groups)
        offset = int(request.offset)
        if rest or rows < 1 or offset < 0 or offset + rows > n_train:
            raise InvalidArgument("the chunk's rows are out of range")
        spans = sorted(
            [(o, len(e) // n_groups) for o, e in ([] if new_level else self._lv_chunks.values())]
            + [(offset, rows)]
        )
        if any(a[0] + a[1] > b[0] for a, b in itertools.pairwise(spans)):
            raise InvalidArgument("chunks overlap")
        complete = len(spans) == n_chunks
        if complete and (spans[0][0] != 0 or sum(r for _, r in spans) != n_train):
            raise InvalidArgument("the chunks do not cover the training rows")
        # valid: change state
        if new_level:
            if t != self.tree:
                self._reset_tree(t)
                self.tree = t
                self.tree_features = feats
            self._reset_level()
            self._lv_key = (t, d)
            self._lv_meta = (n_chunks, n_slots, n_groups)
        self._lv_chunks[int(request.chunk)] = (offset, enc)
        if complete:
            values = [
                v for _, e in sorted(self._lv_chunks.values(), key=lambda x: x[0]) for v in e.values
            ]
            self._lv_enc = [
                EncryptedVector(self.public_key, values[g::n_groups]) for g in range(n_groups)
            ]
        return SbLevelGradientsResponse(tree=t, depth=d, received=sum(r for _, r in spans))

    @handles
    def level_histograms(self, request: SbLevelHistogramRequest) -> SbLevelHistogramResponse:
        """Sum every training row's ciphertext per (feature, bin), add noise, compress.

        Reveals to bank: see :class:`SbLevelHistogramResponse`.
        """
        self._require_hidden()
        assert self.public_key is not None and self.binner is not None
        t, d = int(request.tree), int(request.depth)
        if self._lv_key != (t, d) or self._lv_enc is None:
            raise FailedPrecondition("the level's ciphertexts have not all arrived")
        pk = self.public_key
        _, n_slots, n_groups = self._lv_meta
        feats = self.tree_features
        nbins = self.binner.n_value_bins[feats] + 1  # compact layout: missing bin last
        codes = np.ascontiguousarray(self.compact[np.ix_(self.train_order, feats)])
        everyone = np.arange(self.train_order.size)
        per_group = [
            compute.backend().histograms(enc, codes, everyone, nbins, workers=self._workers)
            for enc in self._lv_enc
        ]
        values = [
            per_group[g][j].values[b]
            for j in range(feats.size)
            for b in range(int(nbins[j]))
            for g in range(n_groups)
        ]
        k = self.slots_per_ciphertext
        q = max(1, k // n_slots)
        packed = compress_ciphertexts(pk, EncryptedVector(pk, values), self.slot_bits * n_slots, q)
        self._stop_precompute()
        packed = self._rerandomize(packed)
        if self.policy.noisy:
            rng = secrets.SystemRandom()
            n, n2 = pk.n, pk.n2
            noisy = []
            for c in packed.values:
                noise = noise_plaintext(
                    rng,
                    self.policy,
                    n_digits=q * n_slots,
                    slot_bits=self.slot_bits,
                    g_bits=self.g_bits,
                    frac_bits=self.frac_bits,
                )
                noisy.append(c * (1 + (noise % n) * n) % n2)
            packed = EncryptedVector(pk, noisy)
        self._lv_enc = None  # a retry is answered from the step cache
        self._lv_hist_done = True
        self._start_precompute(2 * len(packed))
        return SbLevelHistogramResponse(
            tree=t,
            depth=d,
            n_slots=n_slots,
            n_groups=n_groups,
            per_ciphertext=q,
            value_count=len(values),
            enc_hist=packed.to_wire(),
        )

    @handles
    def level_split(self, request: SbLevelSplitRequest) -> SbLevelSplitResponse:
        """Record the chosen splits and answer them for every training row.

        Reveals to bank: see :class:`SbLevelSplitResponse`.
        """
        self._require_hidden()
        assert self.binner is not None
        t, d = int(request.tree), int(request.depth)
        if self._lv_key != (t, d) or not self._lv_hist_done:
            raise FailedPrecondition("splits must follow their level's histograms")
        n = len(request.node_ids)
        fields = (request.split_ids, request.features, request.bins, request.missing_left)
        if n == 0 or any(len(x) != n for x in fields):
            raise InvalidArgument("split fields differ in length")
        if len(set(request.node_ids)) != n:
            raise InvalidArgument("a node is split twice")
        allowed = set(self.tree_features.tolist())
        sets = unpack_bin_sets(list(request.cat_sizes), list(request.cat_bins), n)
        table = self._load()
        first, last = (1 << d) - 1, (1 << (d + 1)) - 2
        records = []
        for i in range(n):
            node_id, sid = int(request.node_ids[i]), int(request.split_ids[i])
            f, b = int(request.features[i]), int(request.bins[i])
            if not first <= node_id <= last or sid != make_split_id(t, node_id):
                raise InvalidArgument("split id does not match its tree and node")
            if f not in allowed:
                raise InvalidArgument("split feature or bin is invalid")
            rec = split_record(self.binner, table, f, b, bool(request.missing_left[i]), sets[i])
            records.append((sid, rec))
        out = np.zeros((n, self.train_order.size), dtype=bool)
        for i, (sid, rec) in enumerate(records):
            self.pending[sid] = rec
            f = int(rec["feature"])
            out[i] = record_decision(rec, self.codes[self.train_order, f], self.binner.missing_code)
        return SbLevelSplitResponse(
            tree=t,
            split_ids=[int(s) for s in request.split_ids],
            n_rows=int(self.train_order.size),
            left=np.packbits(out.ravel()),
        )
