"""The bank's membership-hiding backend (``privacy = "hardened"`` or ``"strict"``).

Per level that may split on platform features the bank encrypts, for *every* training row, its
packed (g, h) shifted into the slot of the node it belongs to among the nodes built at this
level (zero for a row of a node that is not built: a larger sibling, a leaf, or a row the
tree did not sample). The platform sums the ciphertexts per (feature, bin) over all rows, so
each sum carries every built node's histogram in its own slot, adds noise, compresses and
rerandomises; the bank decrypts and reads its nodes' slots. A chosen platform split is applied
by the platform to every training row; the bank keeps the bits of the node's rows (and of the
rows a tree did not sample, which it routes without another step).

The platform therefore never sees a node's rows: every level costs one encryption per training
row (and per group of ``k`` built nodes, ``k`` the slots per ciphertext), and the platform's
additions run over all rows instead of the smaller children only. Validation rows are not
routed per tree (the estimator scores them after training, by its own prediction).
"""

from __future__ import annotations

import time

import numpy as np

from models import compute
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.errors import InvalidArgument
from models.secureboost.binning import QuantileBinner
from models.secureboost.federated import FederatedBackend, unpack_decisions
from models.secureboost.ghpack import GHLayout
from models.secureboost.grower import Hist, NodeRows, SplitOrder
from models.secureboost.hidden_messages import (
    SbLevelGradientsRequest,
    SbLevelHistogramRequest,
    SbLevelHistogramResponse,
    SbLevelSplitRequest,
)
from models.secureboost.messages import SbInitResponse
from models.secureboost.privacy import PrivacyPolicy
from models.secureboost.stub import SecureBoostStub
from models.secureboost.tree import BANK, Node, Tree, bin_decision, pack_bin_sets


def level_slots(depth: int, n_built: int, k: int) -> tuple[int, int]:
    """``(n_slots, n_groups)`` for ``n_built`` nodes built at ``depth`` with ``k`` slots per
    ciphertext: padded to the most nodes a level can build (1 at the root, ``2**(depth-1)``
    below: one per split pair) while that fits one ciphertext, so the platform cannot count the
    nodes; beyond that, groups of ``k`` (which reveals ``ceil(n_built / k)``)."""
    if n_built < 1 or k < 1:
        raise InvalidArgument("a level builds at least one node")
    cap = 1 if depth == 0 else 1 << (depth - 1)
    if cap <= k:
        return cap, 1
    return k, -(-n_built // k)


def per_ciphertext(n_slots: int, k: int) -> int:
    """Values (``n_slots`` slots each) the platform compresses into one ciphertext."""
    return max(1, k // n_slots)


class HiddenBackend(FederatedBackend):
    """Histograms and partitions without revealing node membership (see module docstring).

    Parameters are those of :class:`~models.secureboost.federated.FederatedBackend`, plus the
    training rows in the order sent at init and the privacy policy (for noisy sums).
    """

    def __init__(
        self,
        stub: SecureBoostStub,
        keypair: PaillierKeypair,
        layout: GHLayout,
        bank_bins: np.ndarray,
        bank_binner: QuantileBinner,
        platform: SbInitResponse,
        train_rows: np.ndarray,
        policy: PrivacyPolicy,
        *,
        chunk_size: int = 8192,
        workers: int | None = None,
        precompute: bool = True,
    ) -> None:
        super().__init__(
            stub,
            keypair,
            layout,
            bank_bins,
            bank_binner,
            platform,
            chunk_size=chunk_size,
            workers=workers,
            precompute=precompute,
        )
        self.policy = policy
        self.train_rows = np.asarray(train_rows, dtype=np.int64)
        self.pos = np.full(bank_bins.shape[0], -1, dtype=np.int64)
        self.pos[self.train_rows] = np.arange(self.train_rows.size)
        self._bits: dict[int, np.ndarray] = {}  # split id -> go-left of every training row

    # ------------------------------------------------------------------ tree
    def begin_tree(
        self, t: int, gq: np.ndarray, hq: np.ndarray, rows: np.ndarray, features: np.ndarray
    ) -> None:
        """Nothing travels yet: every level uploads its own ciphertexts."""
        self._stop_precompute()
        self._gq, self._hq = gq, hq
        self._plat = np.flatnonzero(np.asarray(features[self.n_bank_features :], dtype=bool))
        self._bits = {}

    def histograms(
        self, t: int, depth: int, nodes: list[NodeRows], features: np.ndarray | None = None
    ) -> list[Hist]:
        bank, bank_only = self._bank_histograms(nodes, features)
        if bank_only is not None:
            return bank_only
        k = self.layout.slots_per_ciphertext
        n_slots, n_groups = level_slots(depth, len(nodes), k)
        self._upload_level(t, depth, nodes, n_slots, n_groups)
        t0 = time.perf_counter()
        if self.precompute:  # the next level needs as many fresh ciphertexts
            self._start_precompute(self.train_rows.size * n_groups - len(self._zeros))
        with self._platform_call():
            resp = self.stub.level_histograms(SbLevelHistogramRequest(tree=t, depth=depth))
        self.stats["platform_hist_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        plat = self._decode_level(resp, depth, len(nodes), n_slots, n_groups)
        self.stats["decrypt_s"] += time.perf_counter() - t0
        return [
            (np.vstack([bg, pg]), np.vstack([bh, ph]))
            for (bg, bh), (pg, ph) in zip(bank, plat, strict=True)
        ]

    def _upload_level(
        self, t: int, depth: int, nodes: list[NodeRows], n_slots: int, n_groups: int
    ) -> None:
        """One ciphertext per (training row, group): the row's packed (g, h) in its node's slot."""
        self._stop_precompute()
        n = self.train_rows.size
        slot = np.full(n, -1, dtype=np.int64)
        for j, node in enumerate(nodes):
            idx = self.pos[node.rows]
            if np.any(idx < 0):
                raise InvalidArgument("a node holds rows outside the training set")
            slot[idx] = j
        member = np.flatnonzero(slot >= 0)
        packed = self.layout.pack(
            self._gq[self.train_rows[member]], self._hq[self.train_rows[member]]
        )
        bits = self.layout.slot_bits
        plain = [0] * (n * n_groups)
        for i, v, s in zip(member.tolist(), packed, slot[member].tolist(), strict=True):
            group, j = divmod(s, n_slots)
            plain[i * n_groups + group] = v << (bits * j)
        rows_per_chunk = max(1, self.chunk_size // n_groups)
        n_chunks = max(1, -(-n // rows_per_chunk))
        feats = [int(f) for f in self._plat]
        for c in range(n_chunks):
            lo, hi = c * rows_per_chunk, min(n, (c + 1) * rows_per_chunk)
            t0 = time.perf_counter()
            enc = self._encrypt(plain[lo * n_groups : hi * n_groups])
            self.stats["encrypt_s"] += time.perf_counter() - t0
            self.stats["encrypted"] += (hi - lo) * n_groups
            t0 = time.perf_counter()
            self.stub.level_gradients(
                SbLevelGradientsRequest(
                    tree=t,
                    depth=depth,
                    chunk=c,
                    n_chunks=n_chunks,
                    offset=lo,
                    n_slots=n_slots,
                    n_groups=n_groups,
                    features=feats,
                    enc_gh=enc.to_wire(),
                )
            )
            self.stats["upload_s"] += time.perf_counter() - t0

    def _decode_level(
        self,
        resp: SbLevelHistogramResponse,
        depth: int,
        n_nodes: int,
        n_slots: int,
        n_groups: int,
    ) -> list[Hist]:
        k = self.layout.slots_per_ciphertext
        feats = self._plat
        nbins = self.platform_bins[feats] + 1  # value bins + the missing bin
        n_values = int(nbins.sum()) * n_groups
        q = per_ciphertext(n_slots, k)
        if (
            resp.depth != depth
            or resp.n_slots != n_slots
            or resp.n_groups != n_groups
            or resp.per_ciphertext != q
            or resp.value_count != n_values
        ):
            raise InvalidArgument("the level histogram has an unexpected layout")
        enc = EncryptedVector.from_wire(resp.enc_hist, self.keypair.public_key)
        if len(enc) != -(-n_values // q):
            raise InvalidArgument("the level histogram has the wrong number of ciphertexts")
        plain = compute.backend().decrypt(self.keypair, enc, workers=self.workers)
        self.stats["decrypted"] += len(plain)
        digits = np.asarray(self.layout.decompress(plain, len(plain) * k), dtype=object).reshape(
            len(plain), k
        )[:, : q * n_slots]
        values = digits.reshape(-1, n_slots)[:n_values]
        gv, hv = self.layout.unpack(values.ravel().tolist(), signed_h=self.policy.noisy)
        gv = gv.reshape(n_values, n_slots)
        hv = hv.reshape(n_values, n_slots)
        nb = self.n_slots - 1
        out: list[Hist] = []
        starts = np.concatenate([[0], np.cumsum(nbins)[:-1]])
        for j in range(n_nodes):
            group, slot = divmod(j, n_slots)
            G = np.zeros((self.n_platform_features, self.n_slots), dtype=np.int64)
            H = np.zeros_like(G)
            for f, start, width in zip(
                feats.tolist(), starts.tolist(), nbins.tolist(), strict=True
            ):
                entries = (start + np.arange(width)) * n_groups + group
                cols = np.where(np.arange(width) < width - 1, np.arange(width), nb)
                G[f, cols] = gv[entries, slot]
                H[f, cols] = hv[entries, slot]
            out.append((G, H))
        return out

    def _platform_partition(self, t: int, depth: int, splits: list[SplitOrder]) -> list[np.ndarray]:
        """The platform answers each chosen split for every training row (no row set sent);
        the bits are kept to route the rows the tree did not sample."""
        nb = self.n_bank_features
        cat_sizes, cat_bins = pack_bin_sets([s.left_bins for s in splits])
        resp = self.stub.level_split(
            SbLevelSplitRequest(
                tree=t,
                depth=depth,
                node_ids=[s.node_id for s in splits],
                split_ids=[s.split_id for s in splits],
                features=[s.feature - nb for s in splits],
                bins=[s.bin for s in splits],
                missing_left=[s.missing_left for s in splits],
                cat_sizes=cat_sizes if any(cat_sizes) else [],
                cat_bins=cat_bins,
            )
        )
        n = self.train_rows.size
        if list(resp.split_ids) != [s.split_id for s in splits] or resp.n_rows != n:
            raise InvalidArgument("the platform answered for other splits or rows")
        bits = unpack_decisions(resp.left, len(splits), n)
        out = []
        for b, s in enumerate(splits):
            self._bits[s.split_id] = bits[b]
            out.append(bits[b][self.pos[s.rows]])
        return out

    def route(self, t: int, tree: Tree, rows: np.ndarray) -> np.ndarray:
        """Leaves of training rows the tree did not sample, from the bits already received;
        nothing else is routed during training (validation rows are scored after it)."""
        idx_all = self.pos[np.asarray(rows, dtype=np.int64)]
        if np.any(idx_all < 0):
            raise InvalidArgument("hidden-membership training routes training rows only")
        mc = self.bank_binner.missing_code

        def decide(node: Node, idx: np.ndarray) -> np.ndarray:
            if node.owner == BANK:
                return bin_decision(
                    self.bank_bins[rows[idx], node.feature],
                    node.bin,
                    node.missing_left,
                    mc,
                    node.left_bins,
                )
            return self._bits[node.split_id][idx_all[idx]]

        return tree.route(rows.size, decide)
