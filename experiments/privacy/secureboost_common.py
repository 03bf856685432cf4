"""One observed SecureBoost training run per privacy mode, shared by the SecureBoost attacks.

:func:`observe` trains the federated model in-process (the platform behind a
:class:`~models.federation.inprocess.InProcessPeer` with the protobuf codec) and keeps what each
side legitimately sees:

- the platform's view: every message it received and answered (row positions, node ids, split
  choices, its own go-left answers; ciphertexts are dropped, they reveal nothing to it);
- the bank's view: per tree the fixed-point g and h of every row (its own values), and for every
  node whose histogram the grower used, the node's rows and the decrypted (G, H) sums of the
  platform's features, exactly as the split finder saw them;
- the ground truth the attacks are scored against: labels, the platform's bin codes, the trees.

Results are cached per ``(mode, quick)`` so the attack modules share one training run per mode
when run together (``experiments/bench_privacy.py``, the tests).
"""

from __future__ import annotations

import functools
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any
from unittest import mock

import numpy as np

from experiments.privacy.common import shared_data
from models.federation.messages import WireMessage
from models.federation.peer import PassivePeer
from models.federation.session import SessionInfo, SessionSpec

PROTOCOL = "secureboost"
MODES = ("standard", "hardened", "strict")
#: Quick runs (``make test``): a small slice, 1024-bit keys, few shallow trees.
QUICK = {
    "rows": 1500,
    "key_bits": 1024,
    "params": {"n_estimators": 4, "max_depth": 4, "n_bins": 16},
}
#: The report: default_credit with the estimator's defaults and 2048-bit keys.
FULL = {
    "rows": None,
    "key_bits": 2048,
    "params": {"n_estimators": 50, "max_depth": 5, "n_bins": 32},
}


@dataclass
class NodeView:
    """What the bank knows about one node's platform histograms."""

    tree: int
    depth: int
    node_id: int
    rows: np.ndarray
    G: np.ndarray  # (n_platform_features, n_slots) int64, as the split finder saw them
    H: np.ndarray


@dataclass
class Observation:
    """One training run in one privacy mode, seen from both sides (see module docstring)."""

    mode: str
    quick: bool
    y: np.ndarray
    train: np.ndarray
    test: np.ndarray
    n_bank_features: int
    platform_codes: np.ndarray  # padded bin codes of the platform's features, all rows
    platform_value_bins: np.ndarray  # K_f per platform feature
    n_bins: int
    trees: list[Any]
    bank_codes: np.ndarray  # padded bin codes of the bank's features, all rows
    gh: dict[int, tuple[np.ndarray, np.ndarray, np.ndarray]]  # tree -> (gq, hq, sampled rows)
    views: list[NodeView]
    received: list[tuple[str, WireMessage]]  # (step id, request) the platform received
    answered: list[tuple[str, WireMessage]]  # (step id, response) the platform sent
    seconds: float
    test_auc: float
    settings: dict[str, Any] = field(default_factory=dict)

    @property
    def missing_code(self) -> int:
        return self.n_bins


def _strip(message: WireMessage) -> WireMessage:
    """Drop ciphertext payloads (semantically secure; large) from a recorded message."""
    from models.crypto.wire import CipherArray

    changes = {
        name: CipherArray(v.scheme, v.key_fingerprint, v.count, v.width, b"")
        for name, v in vars(message).items()
        if isinstance(v, CipherArray)
    }
    return replace(message, **changes) if changes else message  # type: ignore[type-var]


class LightRecorder:
    """A :class:`PassivePeer` wrapper that records messages without their ciphertexts."""

    def __init__(self, inner: PassivePeer) -> None:
        self.inner = inner
        self.received: list[tuple[str, WireMessage]] = []
        self.answered: list[tuple[str, WireMessage]] = []

    @property
    def party(self) -> str:
        return self.inner.party

    def open_session(self, spec: SessionSpec) -> SessionInfo:
        return self.inner.open_session(spec)

    def call(self, step_id: str, request: Any, response_type: Any) -> Any:
        response = self.inner.call(step_id, request, response_type)
        self.received.append((step_id, _strip(request)))
        self.answered.append((step_id, _strip(response)))
        return response

    def close_session(self, reason: str = "") -> None:
        self.inner.close_session(reason)


@contextmanager
def _bank_view(n_bank: int) -> Iterator[tuple[list[NodeView], dict[int, Any]]]:
    """Record the bank's per-tree gradients and every node histogram the grower uses."""
    import models.secureboost.engine as engine_mod
    import models.secureboost.grower as grower_mod

    views: list[NodeView] = []
    gh: dict[int, Any] = {}
    real_fill = grower_mod._fill_histograms
    real_grow = engine_mod.grow_tree

    def fill(t: int, depth: int, backend: Any, level: Any, splittable: Any, *args: Any) -> None:
        real_fill(t, depth, backend, level, splittable, *args)
        for node in splittable:
            g, h = node.hist
            views.append(
                NodeView(
                    t, depth, node.node_id, node.rows.copy(), g[n_bank:].copy(), h[n_bank:].copy()
                )
            )

    def grow(
        t: int,
        backend: Any,
        gq: np.ndarray,
        hq: np.ndarray,
        rows: np.ndarray,
        *args: Any,
        **kw: Any,
    ) -> Any:
        gh[t] = (gq.copy(), hq.copy(), np.sort(rows))
        return real_grow(t, backend, gq, hq, rows, *args, **kw)

    with (
        mock.patch.object(grower_mod, "_fill_histograms", fill),
        mock.patch.object(engine_mod, "grow_tree", grow),
    ):
        yield views, gh


@functools.cache
def observe(mode: str, quick: bool) -> Observation:
    """Train in ``mode`` (quick: the test-suite sizes) and return what both sides saw."""
    import models.secureboost.passive  # noqa: F401  (registers the platform half)
    from experiments.support.hetero import StaticProvider, load_hetero, train_test_rows
    from models.federation.inprocess import InProcessPeer
    from models.federation.manager import SessionManager
    from models.federation.party import Caller
    from models.secureboost.active import SecureBoostClassifier
    from models.secureboost.binning import QuantileBinner
    from models.secureboost.loss import auc
    from proto.transport.codec import ProtobufCodec

    cfg = QUICK if quick else FULL
    bank, plat = load_hetero(shared_data(), "default_credit", cfg["rows"])
    train, test = train_test_rows(bank.n_rows, 0.2, seed=0)
    params = dict(cfg["params"])
    with tempfile.TemporaryDirectory(prefix="sb-privacy-") as tmp:
        manager = SessionManager(Path(tmp) / "platform", StaticProvider(plat))
        inner = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
        peer = LightRecorder(inner)
        with _bank_view(bank.n_features) as (views, gh):
            cpu0 = _cpu_seconds()
            t0 = time.perf_counter()
            clf = SecureBoostClassifier(**params, privacy=mode, key_bits=cfg["key_bits"]).fit(
                bank, peer, rows=train, validation_rows=test, job_id=f"privacy-{mode}"
            )
            seconds = time.perf_counter() - t0
            cpu = _cpu_seconds() - cpu0
        y = np.asarray(bank.y, dtype=np.float64)
        test_auc = auc(y[test], clf.training_valid_raw_)
    binner = QuantileBinner(params["n_bins"]).fit(plat.X[train])
    bank_binner = QuantileBinner(params["n_bins"]).fit(bank.X[train])
    return Observation(
        mode=mode,
        quick=quick,
        y=y,
        train=train,
        test=test,
        n_bank_features=bank.n_features,
        platform_codes=binner.transform(plat.X),
        platform_value_bins=binner.n_value_bins,
        n_bins=int(params["n_bins"]),
        trees=list(clf.trees_),
        bank_codes=bank_binner.transform(bank.X),
        gh=gh,
        views=views,
        received=peer.received,
        answered=peer.answered,
        seconds=seconds,
        test_auc=float(test_auc),
        settings={
            "train_cpu_seconds": round(cpu, 1),
            "rows": int(bank.n_rows),
            "train_rows": int(train.size),
            "key_bits": cfg["key_bits"],
            **params,
        },
    )


def _cpu_seconds() -> float:
    """CPU seconds of this process and its live children (the crypto helpers; Linux /proc):
    the bank and the in-process platform together, robust to a busy machine."""
    import os

    tick = os.sysconf("SC_CLK_TCK")
    me = os.getpid()
    total = 0.0
    for d in os.listdir("/proc"):
        if not d.isdigit():
            continue
        try:
            fields = Path(f"/proc/{d}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(d) == me or int(fields[1]) == me:
            total += sum(int(x) for x in fields[11:15]) / tick
    return total


def split_rows(rows: np.ndarray, sizes: list[int]) -> list[np.ndarray]:
    """Consecutive pieces of ``rows`` of the given sizes (node after node, as on the wire)."""
    rows = np.asarray(rows, dtype=np.int64).reshape(-1)
    return np.split(rows, np.cumsum(sizes)[:-1]) if sizes else []


def platform_sets(obs: Observation) -> dict[int, dict[int, np.ndarray]]:
    """Per tree, the node row sets the platform received or derived: ``{node id: rows}``.

    Sources: the tree's sampled rows (root), the rows of every node it was asked to build or to
    split, and the children of its own splits (its answers). A parent and one child give the
    other child; the derivation runs until nothing new appears. The membership-hiding modes send
    no row set, so only each tree's root (all training rows) remains.
    """
    from models.secureboost.hidden_messages import SbLevelGradientsRequest
    from models.secureboost.messages import (
        SbGradientsRequest,
        SbHistogramRequest,
        SbSplitRequest,
        SbSplitResponse,
    )
    from models.secureboost.tree import left_child, right_child

    sets: dict[int, dict[int, np.ndarray]] = {}
    roots: dict[int, list[np.ndarray]] = {}
    answers = dict(obs.answered)
    for step, msg in obs.received:
        if isinstance(msg, SbGradientsRequest):
            roots.setdefault(int(msg.tree), []).append(np.asarray(msg.rows, dtype=np.int64))
        elif isinstance(msg, SbLevelGradientsRequest):
            sets.setdefault(int(msg.tree), {})[0] = np.sort(obs.train)
        elif isinstance(msg, SbHistogramRequest):
            tree = sets.setdefault(int(msg.tree), {})
            for nid, rows in zip(
                msg.node_ids, split_rows(msg.rows, list(msg.node_sizes)), strict=True
            ):
                tree[int(nid)] = np.sort(rows)
        elif isinstance(msg, SbSplitRequest):
            tree = sets.setdefault(int(msg.tree), {})
            resp = answers[step]
            assert isinstance(resp, SbSplitResponse)
            pieces = split_rows(msg.rows, list(msg.node_sizes))
            bits = np.unpackbits(np.asarray(resp.left, dtype=np.uint8))
            pos = 0
            for nid, rows in zip(msg.node_ids, pieces, strict=True):
                left = bits[pos : pos + rows.size].astype(bool)
                pos += rows.size
                tree[int(nid)] = np.sort(rows)
                tree[left_child(int(nid))] = np.sort(rows[left])
                tree[right_child(int(nid))] = np.sort(rows[~left])
    for t, parts in roots.items():
        sets.setdefault(t, {})[0] = np.sort(np.concatenate(parts))
    for tree in sets.values():
        changed = True
        while changed:
            changed = False
            for nid in sorted(tree):
                for a, b in (
                    (left_child(nid), right_child(nid)),
                    (right_child(nid), left_child(nid)),
                ):
                    if a in tree and b not in tree:
                        tree[b] = np.setdiff1d(tree[nid], tree[a])
                        changed = True
    return sets


def atoms(row_sets: list[np.ndarray], n_total: int, seed: int = 0) -> np.ndarray:
    """Atom id of every position: rows in exactly the same sets share an atom."""
    rng = np.random.default_rng(seed)
    sig = np.zeros(n_total, dtype=np.uint64)
    for rows in row_sets:
        sig[rows] += rng.integers(1, 2**63, dtype=np.uint64)
    return np.unique(sig, return_inverse=True)[1]


def node_rows(obs: Observation, t: int) -> dict[int, np.ndarray]:
    """Ground truth: the sampled training rows of tree ``t`` that reach each of its nodes."""
    from models.secureboost.tree import BANK, bin_decision, left_child, right_child

    tree = obs.trees[t]
    out = {0: obs.gh[t][2]}
    for node in tree.split_nodes():  # heap order: parents first
        rows = out.get(node.node_id)
        if rows is None:
            continue
        codes = obs.bank_codes if node.owner == BANK else obs.platform_codes
        left = bin_decision(
            codes[rows, node.feature], node.bin, node.missing_left, obs.missing_code
        )
        out[left_child(node.node_id)] = rows[left]
        out[right_child(node.node_id)] = rows[~left]
    return out


def auc_of(y: np.ndarray, score: np.ndarray) -> float:
    from models.secureboost.loss import auc

    return float(auc(y, score))
