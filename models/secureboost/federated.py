"""The bank's federated histogram backend: its own features in plaintext, the platform's
through the encrypted protocol. Plugged into the same grower and engine as the reference."""

from __future__ import annotations

import contextlib
import threading
import time
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import numpy as np

from models import compute
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.errors import InternalError, InvalidArgument
from models.secureboost.binning import QuantileBinner
from models.secureboost.ghpack import GHLayout
from models.secureboost.grower import Hist, NodeRows, SplitOrder
from models.secureboost.messages import (
    SbGradientsRequest,
    SbHistogramRequest,
    SbInitResponse,
    SbRouteRequest,
    SbSplitRequest,
    SbTreeDoneRequest,
)
from models.secureboost.plain_hist import plain_histograms
from models.secureboost.stub import SecureBoostStub
from models.secureboost.tree import BANK, PLATFORM, Node, Tree, bin_decision, pack_bin_sets

PRECOMPUTE_BATCH = 256


def _concat_rows(rows: list[np.ndarray]) -> np.ndarray:
    if not rows:
        return np.zeros(0, dtype=np.int32)
    return np.concatenate(rows).astype(np.int32)


class FederatedBackend:
    """Histograms and partitions for the bank's grower.

    Parameters
    ----------
    stub:
        The platform's SecureBoost steps.
    keypair:
        The bank's Paillier keys (the secret key never leaves this object).
    layout:
        Packing of (g, h) and compression of bin sums.
    bank_bins, bank_binner:
        The bank's bin codes (all aligned rows, padded layout) and edges.
    platform:
        The platform's answer to the init step (feature count and bins per feature).
    chunk_size:
        Ciphertexts per gradient upload step.
    workers:
        Processes for encryption/decryption (passed to the crypto layer).
    precompute:
        Prepare the next tree's encryption randomness in a background thread.
    """

    def __init__(
        self,
        stub: SecureBoostStub,
        keypair: PaillierKeypair,
        layout: GHLayout,
        bank_bins: np.ndarray,
        bank_binner: QuantileBinner,
        platform: SbInitResponse,
        *,
        chunk_size: int = 8192,
        workers: int | None = None,
        precompute: bool = True,
    ) -> None:
        self.stub = stub
        self.precompute = precompute
        self.keypair = keypair
        self.layout = layout
        self.bank_bins = bank_bins
        self.bank_binner = bank_binner
        self.n_bank_features = int(bank_bins.shape[1])
        self.n_platform_features = int(platform.n_features)
        self.platform_bins = np.asarray(platform.n_value_bins, dtype=np.int64)
        if self.platform_bins.shape != (self.n_platform_features,) or np.any(
            (self.platform_bins < 1) | (self.platform_bins > bank_binner.n_bins)
        ):
            raise InvalidArgument("the platform's bin counts are invalid")
        self.n_features = self.n_bank_features + self.n_platform_features
        self.n_slots = bank_binner.n_slots
        self.n_value_bins = np.concatenate([bank_binner.n_value_bins, self.platform_bins])
        plat_cat = np.asarray(platform.categorical or [False] * self.n_platform_features, bool)
        if plat_cat.shape != (self.n_platform_features,):
            raise InvalidArgument("the platform's categorical flags are invalid")
        self.categorical = np.concatenate([bank_binner.categorical, plat_cat])
        self.chunk_size = int(chunk_size)
        self.workers = workers
        self.stats: dict[str, float] = defaultdict(float)
        self._gq = np.zeros(0, dtype=np.int64)
        self._hq = np.zeros(0, dtype=np.int64)
        self._plat = np.zeros(0, dtype=np.int64)
        self._pre_thread: threading.Thread | None = None
        self._pre_stop = threading.Event()
        self._pool_lock = threading.Lock()
        self._zeros: list[Any] = []  # precomputed encryptions of zero (each used once)
        self._waiting = threading.Event()  # set while a platform call is in flight

    # ------------------------------------------------------------------ precomputation
    def _start_precompute(self, count: int) -> None:
        """Encrypt zeros for the next tree in the background while the platform builds
        histograms: ``E(0) + m`` is then a fresh encryption of ``m`` for one multiplication.
        The randomness depends on no data, so nothing is revealed or changed."""
        self._stop_precompute()
        if count <= 0:
            return
        self._pre_stop.clear()

        def work() -> None:
            done = 0
            while done < count and not self._pre_stop.is_set():
                if not self._waiting.wait(0.05):  # only while the bank waits on the platform
                    continue
                step = min(PRECOMPUTE_BATCH, count - done)
                t0, c0 = time.perf_counter(), time.thread_time()
                zeros = self.keypair.encrypt(np.zeros(step, dtype=np.int64), workers=1)
                with self._pool_lock:
                    self._zeros.extend(zeros.values)
                self.stats["precompute_s"] += time.perf_counter() - t0
                self.stats["precompute_cpu_s"] += time.thread_time() - c0
                done += step

        self._pre_thread = threading.Thread(target=work, name="sb-precompute", daemon=True)
        self._pre_thread.start()

    def _stop_precompute(self) -> None:
        if self._pre_thread is not None:
            self._pre_stop.set()
            self._pre_thread.join()
            self._pre_thread = None

    def _encrypt(self, packed: list[int]) -> EncryptedVector:
        """Encrypt packed plaintexts, using precomputed encryptions of zero first."""
        pk = self.keypair.public_key
        with self._pool_lock:
            take = min(len(packed), len(self._zeros))
            zeros = self._zeros[:take]
            del self._zeros[:take]
        parts = []
        if take:
            parts.append(EncryptedVector(pk, zeros).add_plain(packed[:take]))
        if take < len(packed):
            parts.append(
                compute.backend().encrypt(self.keypair, packed[take:], workers=self.workers)
            )
        return parts[0] if len(parts) == 1 else EncryptedVector.concat(parts)

    @contextlib.contextmanager
    def _platform_call(self) -> Iterator[None]:
        """Mark a call to the platform in flight: the background precomputation runs only then,
        so it never competes with the bank's own work (decryption, split finding)."""
        self._waiting.set()
        try:
            yield
        finally:
            self._waiting.clear()

    def close(self) -> None:
        """Stop background work (call when training ends, normally or not)."""
        self._stop_precompute()
        compute.backend().release_key(self.keypair)

    # ------------------------------------------------------------------ tree
    def begin_tree(
        self, t: int, gq: np.ndarray, hq: np.ndarray, rows: np.ndarray, features: np.ndarray
    ) -> None:
        """Encrypt the tree's packed (g, h) and upload them in chunks."""
        self._stop_precompute()
        self._gq, self._hq = gq, hq
        self._plat = np.flatnonzero(np.asarray(features[self.n_bank_features :], dtype=bool))
        rows = np.asarray(rows, dtype=np.int64)
        size = self.chunk_size
        n_chunks = max(1, -(-rows.size // size))
        pk = self.keypair.public_key
        for c in range(n_chunks):
            part = rows[c * size : (c + 1) * size]
            if self._plat.size:
                t0 = time.perf_counter()
                packed = self.layout.pack(gq[part], hq[part])
                enc = self._encrypt(packed)
                self.stats["encrypt_s"] += time.perf_counter() - t0
                self.stats["encrypted"] += len(packed)
                wire = enc.to_wire()
            else:
                wire = pk.zeros(0).to_wire()
            t0 = time.perf_counter()
            self.stub.gradients(
                SbGradientsRequest(
                    tree=t,
                    chunk=c,
                    n_chunks=n_chunks,
                    rows=part.astype(np.int32),
                    features=[int(f) for f in self._plat],
                    enc_gh=wire,
                )
            )
            self.stats["upload_s"] += time.perf_counter() - t0
        if self._plat.size and self.precompute:
            self._start_precompute(int(rows.size) - len(self._zeros))

    def _bank_histograms(
        self, nodes: list[NodeRows], features: np.ndarray | None
    ) -> tuple[list[Hist], list[Hist] | None]:
        """The bank's own histograms of ``nodes``, and the whole answer (platform rows zero)
        when the platform takes no part in this level."""
        bank = [
            plain_histograms(self.bank_bins, n.rows, self._gq, self._hq, self.n_slots)
            for n in nodes
        ]
        level_off = features is not None and not np.any(features[self.n_bank_features :])
        if not self._plat.size or not nodes or level_off:
            zeros = np.zeros((self.n_platform_features, self.n_slots), dtype=np.int64)
            return bank, [(np.vstack([g, zeros]), np.vstack([h, zeros])) for g, h in bank]
        return bank, None

    def histograms(
        self, t: int, depth: int, nodes: list[NodeRows], features: np.ndarray | None = None
    ) -> list[Hist]:
        bank, bank_only = self._bank_histograms(nodes, features)
        if bank_only is not None:
            return bank_only
        t0 = time.perf_counter()
        with self._platform_call():
            resp = self.stub.histograms(
                SbHistogramRequest(
                    tree=t,
                    depth=depth,
                    node_ids=[n.node_id for n in nodes],
                    node_sizes=[int(n.rows.size) for n in nodes],
                    rows=_concat_rows([n.rows for n in nodes]),
                )
            )
        self.stats["platform_hist_s"] += time.perf_counter() - t0
        t0 = time.perf_counter()
        plat = self._decode(resp.enc_hist, resp.value_count, resp.skipped_bins, resp.present, nodes)
        self.stats["decrypt_s"] += time.perf_counter() - t0
        return [
            (np.vstack([bg, pg]), np.vstack([bh, ph]))
            for (bg, bh), (pg, ph) in zip(bank, plat, strict=True)
        ]

    def _decode(
        self,
        enc_hist: Any,
        value_count: int,
        skipped: np.ndarray,
        present: np.ndarray,
        nodes: list[NodeRows],
    ) -> list[Hist]:
        pk = self.keypair.public_key
        feats = self._plat
        slots = self.platform_bins[feats] + 1  # compact layout: slot K_f is the missing bin
        width = int(slots.max())
        skipped = np.asarray(skipped, dtype=np.int64)
        present = np.asarray(present, dtype=bool)
        if skipped.shape != (len(nodes), feats.size) or present.shape != (
            len(nodes),
            feats.size,
            width,
        ):
            raise InvalidArgument("the histogram layout has the wrong shape")
        if np.any(skipped < -1) or np.any(skipped >= slots[None, :]):
            raise InvalidArgument("a skipped bin is out of range")
        present = present & (np.arange(width)[None, None, :] < slots[None, :, None])
        sent = present.copy()
        n_idx, f_idx = np.nonzero(skipped >= 0)
        sent[n_idx, f_idx, skipped[n_idx, f_idx]] = False
        if value_count != int(sent.sum()):
            raise InvalidArgument("the histogram has an unexpected number of values")
        enc = EncryptedVector.from_wire(enc_hist, pk)
        plain = compute.backend().decrypt(self.keypair, enc, workers=self.workers)
        self.stats["decrypted"] += len(plain)
        gv, hv = self.layout.unpack(self.layout.decompress(plain, value_count))
        nb = self.n_slots - 1
        # compact slot -> padded column, per feature
        target = np.where(
            np.arange(width)[None, :] < (slots - 1)[:, None], np.arange(width)[None, :], nb
        )
        out: list[Hist] = []
        pos = 0
        for i, node in enumerate(nodes):
            G = np.zeros((self.n_platform_features, self.n_slots), dtype=np.int64)
            H = np.zeros_like(G)
            g_tot = int(self._gq[node.rows].sum())
            h_tot = int(self._hq[node.rows].sum())
            for j, f in enumerate(feats.tolist()):
                cols = target[j, np.flatnonzero(sent[i, j])]
                G[f, cols] = gv[pos : pos + cols.size]
                H[f, cols] = hv[pos : pos + cols.size]
                pos += cols.size
                s = int(skipped[i, j])
                if s >= 0:
                    G[f, target[j, s]] = g_tot - int(G[f].sum())
                    H[f, target[j, s]] = h_tot - int(H[f].sum())
            out.append((G, H))
        if pos != value_count:
            raise InternalError("histogram decoding did not consume every value")
        return out

    def partition(self, t: int, depth: int, splits: list[SplitOrder]) -> list[np.ndarray]:
        masks: list[np.ndarray | None] = [None] * len(splits)
        nb = self.n_bank_features
        mc = self.bank_binner.missing_code
        plat: list[tuple[int, SplitOrder]] = []
        for i, s in enumerate(splits):
            if s.feature < nb:
                masks[i] = bin_decision(
                    self.bank_bins[s.rows, s.feature], s.bin, s.missing_left, mc, s.left_bins
                )
            else:
                plat.append((i, s))
        if plat:
            t0 = time.perf_counter()
            with self._platform_call():
                answered = self._platform_partition(t, depth, [s for _, s in plat])
            self.stats["platform_split_s"] += time.perf_counter() - t0
            for (i, _), mask in zip(plat, answered, strict=True):
                masks[i] = mask
        return [m for m in masks if m is not None]

    def _platform_partition(self, t: int, depth: int, splits: list[SplitOrder]) -> list[np.ndarray]:
        """The go-left masks of the platform's chosen splits over each node's rows."""
        nb = self.n_bank_features
        cat_sizes, cat_bins = pack_bin_sets([s.left_bins for s in splits])
        resp = self.stub.split(
            SbSplitRequest(
                tree=t,
                depth=depth,
                node_ids=[s.node_id for s in splits],
                split_ids=[s.split_id for s in splits],
                features=[s.feature - nb for s in splits],
                bins=[s.bin for s in splits],
                missing_left=[s.missing_left for s in splits],
                node_sizes=[int(s.rows.size) for s in splits],
                rows=_concat_rows([s.rows for s in splits]),
                cat_sizes=cat_sizes if any(cat_sizes) else [],
                cat_bins=cat_bins,
            )
        )
        total = sum(int(s.rows.size) for s in splits)
        bits = np.unpackbits(np.asarray(resp.left, dtype=np.uint8))
        if bits.size < total or bits.size > total + 7:
            raise InvalidArgument("the partition has the wrong number of rows")
        bits = bits[:total].astype(bool)
        out, pos = [], 0
        for s in splits:
            out.append(bits[pos : pos + s.rows.size])
            pos += s.rows.size
        return out

    def route(self, t: int, tree: Tree, rows: np.ndarray) -> np.ndarray:
        ids = tree.platform_split_ids()
        decisions = np.zeros((0, rows.size), dtype=bool)
        if ids:
            t0 = time.perf_counter()
            request = SbRouteRequest(split_ids=ids, rows=rows.astype(np.int32))
            with self._platform_call():
                resp = self.stub.route(t, request)
            self.stats["platform_route_s"] += time.perf_counter() - t0
            decisions = unpack_decisions(resp.decisions, len(ids), rows.size)
        index = {sid: i for i, sid in enumerate(ids)}
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
            return decisions[index[node.split_id], idx]

        return tree.route(rows.size, decide)

    def end_tree(self, t: int, tree: Tree) -> None:
        for node in tree.split_nodes():
            if node.owner == BANK:
                set_bank_rule(node, self.bank_binner)
        ids = [n.split_id for n in tree.split_nodes() if n.owner == PLATFORM]
        self.stub.tree_done(SbTreeDoneRequest(tree=t, split_ids=ids))


def unpack_decisions(data: np.ndarray, n_splits: int, n_rows: int) -> np.ndarray:
    """Bit-packed row-major (split, row) go-left decisions -> bool array."""
    total = n_splits * n_rows
    bits = np.unpackbits(np.asarray(data, dtype=np.uint8))
    if bits.size < total or bits.size > total + 7:
        raise InvalidArgument("the decisions have the wrong size")
    return bits[:total].astype(bool).reshape(n_splits, n_rows)


def set_bank_rule(node: Node, binner: QuantileBinner) -> None:
    """A bank split's value rule: its threshold, or the category codes of its left bins."""
    if node.left_bins is not None:
        node.threshold = None
        node.categories = tuple(binner.bin_codes(node.feature, node.left_bins))
    else:
        node.threshold = binner.threshold(node.feature, node.bin)
