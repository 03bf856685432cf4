"""The platform's half of SecureBoost (``algorithm = "secureboost"``).

The platform bins its own features on the training rows and keeps the bin edges private,
builds encrypted (g, h) histograms of the nodes the bank asks for, applies the splits the bank
chose on its features, and records each split's threshold in its private lookup table. It
persists the table after every completed tree under ``context.state_dir`` so a restarted node
resumes, and saves its part of the final model under its models directory.

It never sees a label, a gradient, a bank feature or a score: it only handles ciphertexts
under the bank's key, row positions and its own data. In the ``hardened`` and ``strict``
privacy modes (:mod:`models.secureboost.privacy`) it does not see node row sets either: the
session runs the steps of :mod:`models.secureboost.hidden_passive` instead of the row-set steps,
which it then refuses, and it adds its own noise to every histogram it returns.
"""

from __future__ import annotations

import hashlib
import threading
from pathlib import Path
from typing import Any

import numpy as np

from models import compute
from models.crypto.histogram import compress_ciphertexts
from models.crypto.packing import KEY_MARGIN_BITS
from models.crypto.paillier import EncryptedVector, PaillierPublicKey
from models.dataset import PartyTable
from models.errors import FailedPrecondition, InvalidArgument, NotFound, PermissionDenied
from models.federation.messages import WireMessage
from models.federation.party import PassiveContext, PassiveParty, handles, register_party
from models.federation.passive_env import TRUE_FLAGS, models_dir, session_table
from models.part_signing import signature_fields
from models.population import SUFFIX as POPULATION_SUFFIX
from models.population import Population
from models.secureboost.binning import QuantileBinner
from models.secureboost.eini_platform import BankKeys, PlatformSplits, answer_rows
from models.secureboost.hidden_passive import HiddenLevelsMixin
from models.secureboost.messages import (
    SbFinalizeRequest,
    SbFinalizeResponse,
    SbGradientsRequest,
    SbGradientsResponse,
    SbHistogramRequest,
    SbHistogramResponse,
    SbInitRequest,
    SbInitResponse,
    SbRouteRequest,
    SbRouteResponse,
    SbSecurePredictRequest,
    SbSecurePredictResponse,
    SbSplitRequest,
    SbSplitResponse,
    SbTreeDoneRequest,
    SbTreeDoneResponse,
)
from models.secureboost.model_io import (
    FORMAT_VERSION,
    PLATFORM_FORMAT,
    check_model_id,
    ids_digest,
    load_part,
    read_json,
    save_part,
    write_json_atomic,
)
from models.secureboost.platform_splits import record_decision, split_record
from models.secureboost.privacy import (
    STANDARD,
    PrivacyPolicy,
    at_least,
    policy_for,
    with_noise_scale,
)
from models.secureboost.tree import make_split_id, unpack_bin_sets

STATE_FILE = "secureboost_state.json"
STATE_VERSION = 1


def platform_part_path(context: PassiveContext, model_id: str) -> Path:
    """``<models_dir>/secureboost/<bank party>/<model_id>.json``: each bank's models apart
    (see :func:`~models.federation.passive_env.models_dir`)."""
    check_model_id(model_id)
    party = context.caller.party
    check_model_id(party)
    return models_dir(context, "secureboost") / party / f"{model_id}.json"


def load_platform_part(path: Path) -> tuple[dict[str, Any], str]:
    """Read and verify a platform model part; returns (body, digest)."""
    return load_part(path, PLATFORM_FORMAT)


def _check_level_nodes(depth: int, node_ids: list[int]) -> None:
    """Node ids of one level: distinct, at that depth of the tree (heap numbering)."""
    if not 0 <= depth < 62:
        raise InvalidArgument("the depth is out of range")
    first, last = (1 << depth) - 1, (1 << (depth + 1)) - 2
    if len(set(node_ids)) != len(node_ids) or any(not first <= int(n) <= last for n in node_ids):
        raise InvalidArgument("node ids are not distinct nodes of the level")


def _split_rows(rows: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    sizes_arr = np.asarray(sizes, dtype=np.int64)
    if np.any(sizes_arr < 0) or int(sizes_arr.sum()) != rows.size:
        raise InvalidArgument("node sizes do not add up to the rows sent")
    return np.split(rows, np.cumsum(sizes_arr)[:-1]) if sizes else []


@register_party
class SecureBoostPassive(HiddenLevelsMixin, PassiveParty):
    """Platform side: binning, encrypted histograms, split lookup table, decisions.

    Node settings read from ``context.extras``: ``secureboost_min_privacy`` (the weakest
    privacy mode it accepts, default ``standard``) and ``secureboost_noise_scale`` (multiplies
    the mode's histogram noise, 0..4, default 1).
    """

    algorithm = "secureboost"

    def __init__(self, context: PassiveContext) -> None:
        super().__init__(context)
        self._table: PartyTable | None = None
        self._ready = False
        self._workers: int | None = context.extras.get("workers")
        # training state
        self.model_id = ""
        self.public_key: PaillierPublicKey | None = None
        self.slot_bits = 0
        self.slots_per_ciphertext = 0
        self.g_bits = 0
        self.frac_bits = 0
        self.policy: PrivacyPolicy = policy_for(STANDARD)
        self.train_order = np.zeros(0, dtype=np.int64)  # training rows in the bank's order
        self.binner: QuantileBinner | None = None
        self.codes = np.zeros((0, 0), dtype=np.uint8)  # padded layout, all aligned rows
        self.compact = np.zeros((0, 0), dtype=np.uint8)  # missing at K_f
        self.train_mask = np.zeros(0, dtype=bool)
        self.committed = 0
        self.splits: dict[int, dict[str, Any]] = {}
        self.tree_splits: dict[int, list[int]] = {}
        self._binning_digest = ""
        self._train_digest = ""
        self._reset_tree(-1)
        # prediction state
        self._parts: dict[str, tuple[dict[str, Any], str]] = {}
        self._splits: dict[str, PlatformSplits] = {}
        self._populations: dict[str, Population] = {}
        self._bank_keys = BankKeys(max_keys=2)
        self.valid_rows = np.zeros(0, dtype=np.int64)
        # background rerandomisation factors
        self._pre_thread: threading.Thread | None = None
        self._pre_stop = threading.Event()
        self._pool_lock = threading.Lock()
        self._rerand: list[Any] = []  # uniform r^n computed ahead, each used once
        self._idle = threading.Event()  # set between requests
        self._idle.set()

    def dispatch(self, request: WireMessage) -> WireMessage:
        """Run a step; background precomputation pauses while a step runs."""
        self._idle.clear()
        try:
            return super().dispatch(request)
        finally:
            self._idle.set()

    def close(self) -> None:
        self._stop_precompute()
        self._bank_keys.close()

    def _stop_precompute(self) -> None:
        if self._pre_thread is not None:
            self._pre_stop.set()
            self._pre_thread.join()
            self._pre_thread = None

    def _start_precompute(self, count: int) -> None:
        """Prepare rerandomisation factors (uniform r^n, independent of any data) in the
        background while the bank decrypts, so the next histogram answer need not wait."""
        self._stop_precompute()
        pk = self.public_key
        if pk is None or count <= 0:
            return
        self._pre_stop.clear()

        def work() -> None:
            done = 0
            while done < count and not self._pre_stop.is_set():
                if not self._idle.wait(0.05):  # only between the bank's requests
                    continue
                step = min(4, count - done)
                fresh = pk.random_nth_residues(step, workers=1)
                with self._pool_lock:
                    self._rerand.extend(fresh)
                done += step

        self._pre_thread = threading.Thread(target=work, name="sb-rerandomizers", daemon=True)
        self._pre_thread.start()

    # ------------------------------------------------------------------ helpers
    def _reset_tree(self, tree: int) -> None:
        self.tree = tree
        self.tree_features = np.zeros(0, dtype=np.int64)
        self.tree_rows = np.zeros(0, dtype=np.int64)
        self.pos_index = np.zeros(0, dtype=np.int64)
        self.enc: EncryptedVector | None = None
        self.tree_bins = np.zeros((0, 0), dtype=np.uint8)
        self._chunks: dict[int, tuple[np.ndarray, EncryptedVector | None]] = {}
        self._n_chunks = 0
        self.pending: dict[int, dict[str, Any]] = {}
        self._reset_level()

    def _load(self) -> PartyTable:
        if self._table is None:
            self._table = session_table(self.context)
        return self._table

    def _allow_names(self, table: PartyTable) -> bool:
        """The platform's policy: node setting ``share_feature_names`` (context extras), else
        the dataset's ``allow_feature_names`` metadata. The bank cannot ask for names."""
        for flag in (
            self.context.extras.get("share_feature_names"),
            self.context.extras.get("allow_feature_names"),
        ):
            if flag:
                return str(flag).lower() in TRUE_FLAGS
        return str(table.meta.get("allow_feature_names", "")).lower() in TRUE_FLAGS

    def _state_path(self) -> Path:
        return Path(self.context.state_dir) / STATE_FILE

    def _persist(self) -> None:
        write_json_atomic(
            self._state_path(),
            {
                "version": STATE_VERSION,
                "model_id": self.model_id,
                "binning_digest": self._binning_digest,
                "train_digest": self._train_digest,
                "committed_trees": self.committed,
                "privacy": self.policy.mode,
                "splits": {str(k): v for k, v in sorted(self.splits.items())},
                "tree_splits": {str(k): v for k, v in sorted(self.tree_splits.items())},
            },
        )

    def _require_ready(self) -> None:
        if not self._ready:
            raise FailedPrecondition("the training session was not initialised")

    def _require_standard(self) -> None:
        self._require_ready()
        if self.policy.hide_membership:
            raise FailedPrecondition(
                "the session's privacy mode forbids this step: it would reveal node rows or "
                "the platform's decisions for rows"
            )

    def _session_policy(self, mode: str) -> PrivacyPolicy:
        """The policy of the mode the bank asks for, if this node accepts it, with the node's
        noise scale."""
        policy = policy_for(mode or STANDARD)
        minimum = str(self.context.extras.get("secureboost_min_privacy") or STANDARD)
        if not at_least(policy.mode, minimum):
            raise PermissionDenied(f"the platform requires privacy = {minimum!r} or stricter")
        scale = self.context.extras.get("secureboost_noise_scale")
        if scale is None or not policy.noisy:
            return policy
        try:
            factor = float(str(scale))
        except ValueError:
            raise InvalidArgument("the platform's noise scale setting is not a number") from None
        return with_noise_scale(policy, factor)

    def _require_tree(self, tree: int) -> EncryptedVector | None:
        self._require_standard()
        if tree != self.tree or len(self._chunks) != self._n_chunks or self._n_chunks == 0:
            raise FailedPrecondition("gradients for this tree have not all arrived")
        return self.enc

    def _split_record(self, split_id: int) -> dict[str, Any]:
        rec = self.pending.get(split_id) or self.splits.get(split_id)
        if rec is None:
            raise NotFound("unknown split id")
        return rec

    # ------------------------------------------------------------------ training steps
    @handles
    def init(self, request: SbInitRequest) -> SbInitResponse:
        """Bin the platform's features on the training rows; load persisted trees on resume.

        Reveals to bank: see :class:`SbInitResponse`.
        """
        check_model_id(request.model_id)
        table = self._load()
        if request.n_rows != table.n_rows or request.ids_digest != ids_digest(table.ids):
            raise FailedPrecondition("the platform's rows are not aligned with the bank's")
        train = np.asarray(request.train_rows, dtype=np.int64).reshape(-1)
        if train.size == 0 or train.min() < 0 or train.max() >= table.n_rows:
            raise InvalidArgument("training rows are out of range")
        if np.unique(train).size != train.size:
            raise InvalidArgument("training rows repeat")
        valid = np.zeros(0, dtype=np.int64)
        if request.valid_rows is not None:
            valid = np.asarray(request.valid_rows, dtype=np.int64).reshape(-1)
        if valid.size and (
            valid.min() < 0
            or valid.max() >= table.n_rows
            or np.unique(valid).size != valid.size
            or np.intersect1d(valid, train).size
        ):
            raise InvalidArgument("validation rows are out of range, repeat or overlap training")
        pk = PaillierPublicKey.from_bytes(request.public_key)
        if (
            request.slot_bits < 8
            or request.slots_per_ciphertext < 1
            or request.slot_bits * request.slots_per_ciphertext > pk.key_bits - KEY_MARGIN_BITS
        ):
            raise InvalidArgument("packing layout does not fit the key")
        policy = self._session_policy(request.privacy)
        if policy.hide_membership and not (
            1 <= request.frac_bits <= 52 and 2 <= request.g_bits < request.slot_bits
        ):
            raise InvalidArgument("the fixed-point layout is invalid")
        binner = QuantileBinner(int(request.n_bins)).fit(table.X[train], table.categorical_mask())
        codes = binner.transform(table.X)
        k = binner.n_value_bins
        compact = codes.copy()
        for f in range(codes.shape[1]):
            col = compact[:, f]
            col[col == binner.missing_code] = k[f]
        binning_digest = hashlib.sha256(binner.digest_bytes()).hexdigest()
        train_digest = hashlib.sha256(np.sort(train).tobytes()).hexdigest()

        committed, splits, tree_splits = 0, {}, {}
        path = self._state_path()
        if path.exists():
            st = read_json(path)
            if st.get("model_id") != request.model_id:
                raise FailedPrecondition("this job id was used for another model")
            if st.get("binning_digest") != binning_digest or st.get("train_digest") != train_digest:
                raise FailedPrecondition("the platform's data changed since the job started")
            if st.get("privacy", STANDARD) != policy.mode:
                raise FailedPrecondition("the job started in another privacy mode")
            committed = int(st["committed_trees"])
            splits = {int(k_): v for k_, v in st["splits"].items()}
            tree_splits = {int(k_): [int(x) for x in v] for k_, v in st["tree_splits"].items()}
        if committed < request.completed_trees:
            raise FailedPrecondition("the platform has fewer committed trees than the bank")
        if committed > request.completed_trees:  # the bank restarted before its checkpoint
            for t in range(request.completed_trees, committed):
                for sid in tree_splits.pop(t, []):
                    splits.pop(sid, None)
            committed = int(request.completed_trees)

        # valid: change state
        self._stop_precompute()
        self._rerand = []  # factors under a previous key are useless
        self.model_id = request.model_id
        self.public_key = pk
        self.slot_bits = int(request.slot_bits)
        self.slots_per_ciphertext = int(request.slots_per_ciphertext)
        self.g_bits, self.frac_bits = int(request.g_bits), int(request.frac_bits)
        self.policy = policy
        self.train_order = train
        self.valid_rows = valid
        self.binner, self.codes, self.compact = binner, codes, compact
        self.train_mask = np.zeros(table.n_rows, dtype=bool)
        self.train_mask[train] = True
        self._binning_digest, self._train_digest = binning_digest, train_digest
        self.committed, self.splits, self.tree_splits = committed, splits, tree_splits
        self._reset_tree(-1)
        self._persist()
        self._ready = True
        allow = self._allow_names(table)
        return SbInitResponse(
            n_features=table.n_features,
            n_value_bins=[int(x) for x in k],
            categorical=[bool(c) for c in binner.categorical],
            feature_groups=list(table.feature_groups),
            feature_names=list(table.feature_names) if allow else [],
            completed_trees=committed,
        )

    @handles
    def gradients(self, request: SbGradientsRequest) -> SbGradientsResponse:
        """Receive a chunk of the tree's encrypted (g, h).

        Reveals to bank: only the count received.
        """
        self._require_standard()
        assert self.public_key is not None
        if request.tree != self.committed:
            raise FailedPrecondition("gradients are for a tree other than the next one")
        # validate completely before changing any state (a refused chunk keeps the tree)
        new_tree = request.chunk == 0 or request.tree != self.tree
        if new_tree:
            feats = np.asarray(request.features, dtype=np.int64).reshape(-1)
            if feats.size and (
                feats.min() < 0
                or feats.max() >= self.codes.shape[1]
                or np.unique(feats).size != feats.size
            ):
                raise InvalidArgument("feature indices are invalid")
            n_chunks = int(request.n_chunks)
            if not 1 <= n_chunks <= max(1, int(np.count_nonzero(self.train_mask))):
                raise InvalidArgument("chunk count is out of range")
            features = np.sort(feats)
        else:
            n_chunks, features = self._n_chunks, self.tree_features
        if not 0 <= request.chunk < n_chunks or request.n_chunks != n_chunks:
            raise InvalidArgument("chunk index is out of range")
        rows = np.asarray(request.rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.codes.shape[0]):
            raise InvalidArgument("row positions are out of range")
        if not np.all(self.train_mask[rows]):
            raise InvalidArgument("gradients were sent for rows outside the training set")
        enc: EncryptedVector | None = None
        if request.enc_gh.count:
            enc = EncryptedVector.from_wire(request.enc_gh, self.public_key)
            if len(enc) != rows.size:
                raise InvalidArgument("ciphertext count does not match the rows")
        elif features.size:
            raise InvalidArgument("ciphertexts are missing")
        chunks = {} if new_tree else dict(self._chunks)
        chunks[int(request.chunk)] = (rows, enc)
        if len(chunks) == n_chunks:
            every = np.concatenate([r for r, _ in chunks.values()])
            if np.unique(every).size != every.size:
                raise InvalidArgument("a row was sent twice")
        # valid: change state
        if new_tree:
            self._reset_tree(int(request.tree))
            self.tree_features = features
            self._n_chunks = n_chunks
        self._chunks = chunks
        received = sum(r.size for r, _ in self._chunks.values())
        if len(self._chunks) == self._n_chunks:
            self._assemble()
        return SbGradientsResponse(tree=int(request.tree), received=int(received))

    def _assemble(self) -> None:
        parts = [self._chunks[i] for i in range(self._n_chunks)]
        rows = np.concatenate([r for r, _ in parts]) if parts else np.zeros(0, np.int64)
        if np.unique(rows).size != rows.size:
            raise InvalidArgument("a row was sent twice")
        self.tree_rows = rows
        self.pos_index = np.full(self.codes.shape[0], -1, dtype=np.int64)
        self.pos_index[rows] = np.arange(rows.size)
        encs = [e for _, e in parts if e is not None]
        if self.tree_features.size:
            self.enc = EncryptedVector.concat(encs)
            self.tree_bins = np.ascontiguousarray(self.compact[np.ix_(rows, self.tree_features)])

    @handles
    def histograms(self, request: SbHistogramRequest) -> SbHistogramResponse:
        """Encrypted histograms of the asked nodes over the tree's features.

        For each node and feature the bin with the most rows is skipped (the bank derives it
        from the node total), bin sums are compressed several per ciphertext and rerandomised.
        Reveals to bank: see :class:`SbHistogramResponse`.
        """
        enc = self._require_tree(int(request.tree))
        assert self.public_key is not None
        _check_level_nodes(int(request.depth), list(request.node_ids))
        rows = np.asarray(request.rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.codes.shape[0]):
            raise InvalidArgument("row positions are out of range")
        node_rows = _split_rows(rows, list(request.node_sizes))
        if len(node_rows) != len(request.node_ids):
            raise InvalidArgument("one size per node is required")
        if np.unique(rows).size != rows.size:
            raise InvalidArgument("nodes of one level must not share rows")
        feats = self.tree_features
        n_feat = feats.size
        assert self.binner is not None
        nbins = self.binner.n_value_bins[feats] + 1
        width = int(nbins.max()) if n_feat else 1
        skipped = np.full((len(node_rows), n_feat), -1, dtype=np.int16)
        present = np.zeros((len(node_rows), n_feat, width), dtype=bool)
        if enc is None or n_feat == 0:
            return SbHistogramResponse(
                tree=request.tree,
                depth=request.depth,
                node_ids=list(request.node_ids),
                skipped_bins=skipped,
                present=present,
                value_count=0,
                enc_hist=self.public_key.zeros(0).to_wire(),
            )
        values: list[Any] = []
        for i, nr in enumerate(node_rows):
            idx = self.pos_index[nr]
            if idx.size == 0 or np.any(idx < 0):
                raise InvalidArgument("a node holds rows the tree does not use")
            node_bins = self.tree_bins[idx]
            flat = node_bins.astype(np.int64) + (np.arange(n_feat) * width)[None, :]
            counts = np.bincount(flat.ravel(), minlength=n_feat * width).reshape(n_feat, width)
            skip = np.argmax(counts, axis=1)
            skipped[i] = skip
            present[i] = counts > 0
            hists = compute.backend().histograms(
                enc, self.tree_bins, idx, nbins, skip_bins=skip, workers=self._workers
            )
            for j, hv in enumerate(hists):
                keep = np.flatnonzero(present[i, j, : int(nbins[j])])
                values.extend(hv.values[b] for b in keep.tolist() if b != int(skip[j]))
        vec = EncryptedVector(self.public_key, values)
        packed = compress_ciphertexts(
            self.public_key, vec, self.slot_bits, self.slots_per_ciphertext
        )
        self._stop_precompute()
        packed = self._rerandomize(packed)
        # the next level builds at most twice as many nodes
        self._start_precompute(2 * len(packed) - len(self._rerand))
        return SbHistogramResponse(
            tree=request.tree,
            depth=request.depth,
            node_ids=list(request.node_ids),
            skipped_bins=skipped,
            present=present,
            value_count=len(values),
            enc_hist=packed.to_wire(),
        )

    def _rerandomize(self, enc: EncryptedVector) -> EncryptedVector:
        """Multiply each ciphertext by a fresh uniform ``r^n`` (precomputed ones first): an
        independent encryption of the same plaintext, hiding which ciphertexts were combined."""
        pk = self.public_key
        assert pk is not None
        with self._pool_lock:
            take = min(len(enc), len(self._rerand))
            rs = self._rerand[:take]
            del self._rerand[:take]
        if take < len(enc):
            rs.extend(pk.random_nth_residues(len(enc) - take, workers=self._workers))
        return enc.add(EncryptedVector(pk, rs))

    @handles
    def split(self, request: SbSplitRequest) -> SbSplitResponse:
        """Record the chosen platform splits in the lookup table and partition their rows.

        Reveals to bank: the go-left bit of each row of each split node.
        """
        self._require_tree(int(request.tree))
        assert self.binner is not None
        n = len(request.node_ids)
        fields = (
            request.split_ids,
            request.features,
            request.bins,
            request.missing_left,
            request.node_sizes,
        )
        if any(len(x) != n for x in fields):
            raise InvalidArgument("split fields differ in length")
        _check_level_nodes(int(request.depth), list(request.node_ids))
        rows = np.asarray(request.rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.codes.shape[0]):
            raise InvalidArgument("row positions are out of range")
        node_rows = _split_rows(rows, list(request.node_sizes))
        sets = unpack_bin_sets(list(request.cat_sizes), list(request.cat_bins), n)
        table = self._load()
        allowed = set(self.tree_features.tolist())
        records = []
        for i in range(n):  # validate every split before recording any
            node_id, sid = int(request.node_ids[i]), int(request.split_ids[i])
            f, b = int(request.features[i]), int(request.bins[i])
            if sid != make_split_id(request.tree, node_id):
                raise InvalidArgument("split id does not match its tree and node")
            if f not in allowed:
                raise InvalidArgument("split feature or bin is invalid")
            ml = bool(request.missing_left[i])
            records.append((sid, split_record(self.binner, table, f, b, ml, sets[i])))
        masks = []
        for i, (sid, rec) in enumerate(records):
            self.pending[sid] = rec
            masks.append(
                record_decision(
                    rec, self.codes[node_rows[i], rec["feature"]], self.binner.missing_code
                )
            )
        bits = np.concatenate(masks) if masks else np.zeros(0, dtype=bool)
        return SbSplitResponse(
            tree=request.tree, node_ids=list(request.node_ids), left=np.packbits(bits)
        )

    @handles
    def route(self, request: SbRouteRequest) -> SbRouteResponse:
        """Go-left decisions of the listed splits for aligned rows.

        Reveals to bank: for each row, which side of each listed platform split it falls on.
        """
        self._require_standard()
        assert self.binner is not None
        rows = np.asarray(request.rows, dtype=np.int64).reshape(-1)
        if rows.size and (rows.min() < 0 or rows.max() >= self.codes.shape[0]):
            raise InvalidArgument("row positions are out of range")
        out = np.zeros((len(request.split_ids), rows.size), dtype=bool)
        for i, sid in enumerate(request.split_ids):
            rec = self._split_record(int(sid))
            out[i] = record_decision(
                rec, self.codes[rows, rec["feature"]], self.binner.missing_code
            )
        return SbRouteResponse(
            split_ids=list(request.split_ids),
            n_rows=int(rows.size),
            decisions=np.packbits(out.ravel()),
        )

    @handles
    def tree_done(self, request: SbTreeDoneRequest) -> SbTreeDoneResponse:
        """Commit the tree's splits to the persisted lookup table.

        Reveals to bank: the number of committed trees.
        """
        self._require_ready()
        t = int(request.tree)
        ids = sorted(int(s) for s in request.split_ids)
        if t == self.committed - 1 and sorted(self.tree_splits.get(t, [])) == ids:
            return SbTreeDoneResponse(tree=t, committed_trees=self.committed)  # a retry
        if t != self.committed:
            raise FailedPrecondition("tree completed out of order")
        if t != self.tree:
            # hardened/strict: a tree the platform took no part in (bank features only)
            if not self.policy.hide_membership or ids:
                raise FailedPrecondition("tree completed out of order")
            self._reset_tree(t)
        if not set(ids) <= set(self.pending):
            raise FailedPrecondition("the tree uses splits the platform did not record")
        for sid in ids:
            self.splits[sid] = self.pending[sid]
        self.tree_splits[t] = ids
        self.committed = t + 1
        self._persist()
        self._reset_tree(-1)
        return SbTreeDoneResponse(tree=t, committed_trees=self.committed)

    @handles
    def finalize(self, request: SbFinalizeRequest) -> SbFinalizeResponse:
        """Save the platform part of the model (lookup table of the kept trees).

        Reveals to bank: the platform part's digest and its number of splits.
        """
        self._require_ready()
        if request.model_id != self.model_id:
            raise InvalidArgument("model id does not match the training session")
        if not 0 < request.n_trees <= self.committed:
            raise FailedPrecondition("the model keeps trees the platform has not committed")
        table = self._load()
        assert self.binner is not None
        kept: dict[str, Any] = {}
        for t in range(int(request.n_trees)):
            for sid in self.tree_splits.get(t, []):
                rec = self.splits[sid]
                kept[str(sid)] = {
                    "tree": t,
                    "feature": rec["feature"],
                    "feature_name": table.feature_names[rec["feature"]],
                    "bin": rec["bin"],
                    "threshold": rec["threshold"],
                    "missing_left": rec["missing_left"],
                    **({"categories": rec["categories"]} if "left_bins" in rec else {}),
                }
        body = {
            "format": PLATFORM_FORMAT,
            "format_version": FORMAT_VERSION,
            "model_id": self.model_id,
            "bank_party": self.context.caller.party,
            "dataset": self.context.spec.dataset,
            "trees_digest": request.trees_digest,
            "n_trees": int(request.n_trees),
            "feature_names": list(table.feature_names),
            "feature_groups": list(table.feature_groups),
            "n_bins": int(self.binner.n_bins),
            "privacy": self.policy.mode,
            "splits": kept,
        }
        path = platform_part_path(self.context, self.model_id)
        population = np.concatenate([self.train_order, self.valid_rows])
        body["population_digest"] = Population.of(table.ids[population].tolist()).save(
            path.with_suffix(POPULATION_SUFFIX)
        )
        digest = save_part(path, body)
        self._parts.pop(self.model_id, None)
        self._splits.pop(self.model_id, None)
        self._populations.pop(self.model_id, None)
        return SbFinalizeResponse(
            model_id=self.model_id,
            platform_digest=digest,
            n_splits=len(kept),
            **signature_fields(path),
        )

    # ------------------------------------------------------------------ prediction
    def _population(self, model_id: str, body: dict[str, Any]) -> Population:
        """The companies the model was trained and validated on (no consent needed to score
        them: the training job covered them); empty for a part without one."""
        cached = self._populations.get(model_id)
        if cached is None:
            digest = str(body.get("population_digest", ""))
            path = platform_part_path(self.context, model_id).with_suffix(POPULATION_SUFFIX)
            cached = Population.load(path, digest) if digest else Population.of([])
            self._populations[model_id] = cached
        return cached

    def _part(self, model_id: str) -> tuple[dict[str, Any], str]:
        if model_id not in self._parts:
            self._parts[model_id] = load_platform_part(platform_part_path(self.context, model_id))
        return self._parts[model_id]

    @handles
    def secure_predict(self, request: SbSecurePredictRequest) -> SbSecurePredictResponse:
        """EINI prediction of a saved model for companies named by id.

        The platform selects, per company and cell, with its own decisions, multiplies the
        bank's encrypted cell values and seals each group's sums (only the margins readable).
        A company outside the model's population (training and validation rows) needs its
        scoring consent for this bank (``check_use``); an id the platform does not hold is
        treated as all-missing, which does not reveal whether it holds the company.

        Reveals to bank: see :class:`SbSecurePredictResponse` (each company's margin).
        """
        check_model_id(request.model_id)
        body, digest = self._part(request.model_id)
        if body.get("bank_party") not in ("", self.context.caller.party):
            raise NotFound("model part not found")
        self.context.check_use(request.ids, population=self._population(request.model_id, body))
        ev = self._bank_keys.get(
            self.context.caller.party, request.key_fingerprint, request.public_context
        )
        if ev is None:
            return SbSecurePredictResponse(
                model_id=request.model_id,
                platform_digest=digest,
                n_rows=len(request.ids),
                need_key=True,
                enc_margins=request.enc_cells.replace(data=b"", count=0, lengths=[]),
            )
        splits = self._splits.get(request.model_id)
        if splits is None:
            splits = self._splits[request.model_id] = PlatformSplits.from_part(body)
        table = self._load()
        index = {v: i for i, v in enumerate(table.ids.tolist())}
        pos = np.asarray([index.get(str(i), -1) for i in request.ids], dtype=np.int64)
        X = np.full((pos.size, table.n_features), np.nan)
        X[pos >= 0] = table.X[pos[pos >= 0]]
        enc = answer_rows(
            ev,
            splits,
            X,
            table.feature_names,
            np.ones(pos.size, dtype=bool),
            request.layout_digest,
            request.enc_cells,
            table.categories,
        )
        return SbSecurePredictResponse(
            model_id=request.model_id,
            platform_digest=digest,
            n_rows=int(pos.size),
            need_key=False,
            enc_margins=enc,
        )
