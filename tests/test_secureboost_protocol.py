"""Federated SecureBoost over both transports: lossless against the plaintext reference,
transcript privacy, model files, federated prediction, resume and cancellation."""

from __future__ import annotations

import re
import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

import models.secureboost.passive  # registers the platform half
from experiments.support.hetero import StaticProvider, joined, load_hetero, train_test_rows
from models.dataset import PartyTable
from models.errors import Cancelled, DataLoss, FailedPrecondition
from models.federation.recording import RecordingPeer, iter_values
from models.secureboost import checkpoint as checkpoint_mod
from models.secureboost.active import SecureBoostClassifier
from models.secureboost.loss import auc
from models.secureboost.messages import (
    SbGradientsRequest,
    SbHistogramRequest,
    SbInitResponse,
)
from models.secureboost.reference import SecureBoostReference
from models.secureboost.tree import PLATFORM, Tree
from tests.conftest import PeerFactory

KEY_BITS = 1024  # never smaller
# The acceptance bound; fixed-point arithmetic makes the two models identical in practice.
AUC_TOL = 0.002
assert models.secureboost.passive.SecureBoostPassive.algorithm == "secureboost"


def _same_trees(a: list[Tree], b: list[Tree]) -> bool:
    return len(a) == len(b) and all(
        x.structure() == y.structure()
        and [n.value for n in x.leaves()] == [n.value for n in y.leaves()]
        for x, y in zip(a, b, strict=True)
    )


def _credit(shared: Path, n: int, missing: float = 0.0) -> tuple[PartyTable, PartyTable]:
    bank, plat = load_hetero(shared, "default_credit", n)
    if missing:
        rng = np.random.default_rng(7)
        bank.X[rng.random(bank.X.shape) < missing] = np.nan
        plat.X[rng.random(plat.X.shape) < missing] = np.nan
    return bank, plat


def _reference(
    bank: PartyTable, plat: PartyTable, params: dict[str, Any], tr: np.ndarray, te: np.ndarray
) -> SecureBoostReference:
    return SecureBoostReference(**params).fit(
        joined(bank, plat),
        np.asarray(bank.y),
        n_bank_features=bank.n_features,
        train_rows=tr,
        valid_rows=te,
    )


@pytest.mark.parametrize(
    ("data", "params"),
    [
        ("breast", {"n_estimators": 3, "max_depth": 3}),
        (
            "credit",
            {
                "n_estimators": 3,
                "max_depth": 3,
                "subsample": 0.8,
                "colsample_bytree": 0.8,
                "min_child_weight": 0.5,
                "reg_lambda": 2.0,
                "gamma": 0.01,
            },
        ),
        ("credit", {"n_estimators": 2, "max_depth": 2, "goss": True, "n_bins": 16}),
        (
            "credit",
            {"n_estimators": 12, "max_depth": 2, "learning_rate": 0.8, "early_stopping_rounds": 1},
        ),
    ],
)
def test_federated_model_equals_reference(
    make_peer: PeerFactory, shared_data: Path, data: str, params: dict[str, Any]
) -> None:
    if data == "breast":
        bank, plat = load_hetero(shared_data, "breast")
    else:
        bank, plat = _credit(shared_data, 1200, missing=0.05)
    tr, te = train_test_rows(bank.n_rows)
    peer = make_peer(StaticProvider(plat))
    clf = SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
        bank, peer, rows=tr, validation_rows=te, job_id="sb-lossless"
    )
    ref = _reference(bank, plat, params, tr, te)
    assert _same_trees(clf.trees_, ref.trees_)
    p_fed = clf.predict_proba(bank.take(te), peer)[:, 1]
    p_ref = ref.predict_proba_plain(joined(bank, plat)[te])[:, 1]
    y = np.asarray(bank.y)[te]
    assert abs(auc(y, p_fed) - auc(y, p_ref)) < AUC_TOL
    # EINI prediction: equal to plaintext prediction within its stated margin tolerance
    tol = clf.secure_predictor().tolerance()
    assert tol < 1e-9
    np.testing.assert_allclose(p_fed, p_ref, rtol=0, atol=tol)
    # federated prediction equals the scores the bank tracked during training
    if not params.get("early_stopping_rounds"):  # (those include the trees after the best)
        np.testing.assert_allclose(
            clf.decision_function(bank.take(te), peer), clf.training_valid_raw_, rtol=0, atol=tol
        )
    if data == "credit":
        assert any(n.owner == PLATFORM for t in clf.trees_ for n in t.split_nodes())
    if params.get("early_stopping_rounds"):
        assert len(clf.trees_) < clf.n_trees_trained_ < params["n_estimators"]
        assert clf.platform_n_splits_ == len(clf.platform_split_ids())


def _floats_in(message: Any) -> list[str]:
    bad = []
    for path, leaf in iter_values(message):
        real_array = isinstance(leaf, np.ndarray) and leaf.dtype.kind in "fc"
        if real_array or isinstance(leaf, float | np.floating):
            bad.append(path)
    return bad


def test_transcript_reveals_no_gradient_label_or_feature(
    make_peer: PeerFactory, shared_data: Path
) -> None:
    bank, plat = _credit(shared_data, 800)
    tr, te = train_test_rows(bank.n_rows)
    rec = RecordingPeer(make_peer(StaticProvider(plat)))
    params: dict[str, Any] = {"n_estimators": 2, "max_depth": 3}
    clf = SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
        bank, rec, rows=tr, validation_rows=te, job_id="sb-transcript"
    )
    clf.predict_proba(bank.take(te), rec)
    assert any(n.owner == PLATFORM for t in clf.trees_ for n in t.split_nodes())
    to_platform = rec.transcript.to_passive()
    to_bank = rec.transcript.to_active()
    assert any(isinstance(m, SbHistogramRequest) for m in to_platform)
    # 1. nothing real-valued goes to the platform: gradients, labels, scores and bank features
    #    are floats; what travels is row positions, ids, small integers and ciphertexts
    for m in to_platform:
        assert _floats_in(m) == [], type(m).__name__
    # 2. no integer array carries values beyond row positions / feature and bin indices
    #    (fixed-point gradients are large integers; labels would be a 0/1 vector per row)
    y = np.asarray(bank.y)
    for m in to_platform:
        for path, leaf in iter_values(m):
            if isinstance(leaf, np.ndarray) and leaf.dtype.kind in "iub":
                assert leaf.size == 0 or int(np.max(leaf)) < bank.n_rows, path
                if leaf.size == tr.size:
                    assert not np.array_equal(leaf.astype(float), y[tr]), path
    # 3. bank feature values do not appear in any byte string sent (e.g. in a ciphertext)
    sample = bank.X[tr[:50], :3].ravel()
    payload = b"".join(
        leaf for m in to_platform for _, leaf in iter_values(m) if isinstance(leaf, bytes)
    )
    for v in sample:
        assert np.float64(v).tobytes() not in payload
    # 4. the bank receives no real value from the platform: no feature value, no threshold
    for m in to_bank:
        assert _floats_in(m) == [] or type(m).__name__ == "SessionInfo", type(m).__name__
    payload_back = b"".join(
        leaf for m in to_bank for _, leaf in iter_values(m) if isinstance(leaf, bytes)
    )
    for v in plat.X[tr[:50], :3].ravel():
        assert np.float64(v).tobytes() not in payload_back
    init = next(m for m in to_bank if isinstance(m, SbInitResponse))
    assert init.feature_names == []  # names only when the platform allows them
    importance = clf.feature_importance()
    assert all(k.startswith(("bank:", "platform:cat")) for k in importance)
    platform_keys = [k for k in importance if k.startswith("platform:")]
    # one entry per platform feature, named by group and index (issue 16 item 5)
    assert platform_keys and all(re.fullmatch(r"platform:cat\w*/f\d+", k) for k in platform_keys)


def test_model_files_roundtrip_and_tamper(
    make_peer: PeerFactory, shared_data: Path, tmp_path: Path
) -> None:
    bank, plat = _credit(shared_data, 800, missing=0.05)
    plat.meta["allow_feature_names"] = "true"
    tr, te = train_test_rows(bank.n_rows)
    peer = make_peer(StaticProvider(plat))
    clf = SecureBoostClassifier(
        n_estimators=2, max_depth=3, key_bits=KEY_BITS, privacy="standard"
    ).fit(bank, peer, rows=tr, validation_rows=te, job_id="sb-model")
    assert any(k.startswith("platform:h_x") for k in clf.feature_importance("split"))
    path = tmp_path / "bank_model.json"
    digest = clf.save_model(path)
    assert digest.startswith("sha256:")
    loaded = SecureBoostClassifier.load_model(path)
    assert _same_trees(loaded.trees_, clf.trees_)
    # scoring new companies by id (a fresh platform session) equals the in-training scores
    test_table = bank.take(te)
    tol = loaded.secure_predictor().tolerance()
    np.testing.assert_allclose(
        loaded.decision_function(test_table, peer), clf.training_valid_raw_, rtol=0, atol=tol
    )
    # the platform's part: saved under its data dir with the digest the bank part records
    platform_part = tmp_path / "platform" / "models" / "secureboost" / "bank-a" / "sb-model.json"
    body, pdigest = models.secureboost.passive.load_platform_part(platform_part)
    assert pdigest == clf.platform_digest_ == loaded.platform_digest_
    assert body["trees_digest"] == clf.trees_digest_
    assert len(body["splits"]) == len(clf.platform_split_ids())
    assert all(isinstance(s["threshold"], float | None) for s in body["splits"].values())
    # an id the platform does not hold is answered as all-missing (default directions)
    renamed = bank.take(te[:5])
    renamed.ids = np.array([f"unknown-{i}" for i in range(5)])
    ref_x = joined(bank, plat)[te[:5]]
    ref_x[:, bank.n_features :] = np.nan
    ref = _reference(bank, plat, {"n_estimators": 2, "max_depth": 3}, tr, te)
    np.testing.assert_allclose(
        loaded.decision_function(renamed, peer), ref.decision_function_plain(ref_x), atol=tol
    )
    # any modification of a part is detected
    text = path.read_text()
    path.write_text(text.replace('"learning_rate":0.1', '"learning_rate":0.2'))
    with pytest.raises(DataLoss):
        SecureBoostClassifier.load_model(path)


def test_misaligned_platform_rows_are_refused(make_peer: PeerFactory, shared_data: Path) -> None:
    bank, plat = load_hetero(shared_data, "breast")
    shuffled = plat.take(np.random.default_rng(0).permutation(plat.n_rows))
    with pytest.raises(FailedPrecondition):
        SecureBoostClassifier(n_estimators=1, key_bits=KEY_BITS, privacy="standard").fit(
            bank, make_peer(StaticProvider(shuffled)), job_id="sb-misaligned"
        )


class Boom(Exception):
    pass


def test_resume_after_crash_trains_no_tree_twice(
    make_peer: PeerFactory, shared_data: Path, tmp_path: Path
) -> None:
    bank, plat = _credit(shared_data, 700)
    tr, te = train_test_rows(bank.n_rows)
    params: dict[str, Any] = {"n_estimators": 4, "max_depth": 3, "subsample": 0.9}
    params["colsample_bytree"] = 0.9
    ckpt = tmp_path / "ckpt"
    provider = StaticProvider(plat)

    def crash(info: dict[str, Any]) -> None:
        if info["tree"] == 1:
            raise Boom

    with pytest.raises(Boom):
        SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
            bank,
            make_peer(provider),
            rows=tr,
            validation_rows=te,
            checkpoint_dir=ckpt,
            callbacks=[crash],
            job_id="sb-resume",
        )
    # both nodes restart: a new platform SessionManager on the same data dir, a new bank
    rec = RecordingPeer(make_peer(provider))
    seen: list[int] = []
    clf = SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
        bank,
        rec,
        rows=tr,
        validation_rows=te,
        checkpoint_dir=ckpt,
        callbacks=[lambda info: seen.append(info["tree"])],
        job_id="sb-resume",
    )
    assert seen == [2, 3]
    trained = {m.tree for m in rec.transcript.to_passive() if isinstance(m, SbGradientsRequest)}
    assert trained == {2, 3}
    ref = _reference(bank, plat, params, tr, te)
    assert _same_trees(clf.trees_, ref.trees_)
    np.testing.assert_allclose(
        clf.decision_function(bank.take(te), rec),
        clf.training_valid_raw_,
        rtol=0,
        atol=clf.secure_predictor().tolerance(),
    )


def test_bank_crash_after_platform_commit_and_cancellation(
    make_peer: PeerFactory, shared_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    bank, plat = _credit(shared_data, 600)
    tr, te = train_test_rows(bank.n_rows)
    params: dict[str, Any] = {"n_estimators": 4, "max_depth": 2}
    ckpt = tmp_path / "ckpt"
    provider = StaticProvider(plat)
    real_save = checkpoint_mod.Checkpoint.save
    calls = {"n": 0}

    def failing_save(self: checkpoint_mod.Checkpoint, state: Any) -> None:
        calls["n"] += 1
        if calls["n"] == 2:  # the platform committed tree 1, the bank dies before saving it
            raise Boom
        real_save(self, state)

    monkeypatch.setattr(checkpoint_mod.Checkpoint, "save", failing_save)
    kw: dict[str, Any] = {"rows": tr, "validation_rows": te, "checkpoint_dir": ckpt}
    kw["job_id"] = "sb-cancel"
    with pytest.raises(Boom):
        SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
            bank, make_peer(provider), **kw
        )
    monkeypatch.setattr(checkpoint_mod.Checkpoint, "save", real_save)
    # resumed at tree 1 (the platform drops its uncheckpointed tree); cancelled mid-tree 2
    stop = threading.Event()
    checks = {"n": 0}
    seen: list[int] = []

    def progress(info: dict[str, Any]) -> None:
        seen.append(info["tree"])

    def should_stop() -> bool:
        if seen == [1]:
            checks["n"] += 1
            if checks["n"] == 3:  # between levels of tree 2
                stop.set()
        return stop.is_set()

    peer = make_peer(provider)
    with pytest.raises(Cancelled):
        SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
            bank, peer, callbacks=[progress], should_stop=should_stop, **kw
        )
    assert seen == [1]
    clf = SecureBoostClassifier(**params, key_bits=KEY_BITS, privacy="standard").fit(
        bank, peer, callbacks=[progress], should_stop=threading.Event(), **kw
    )
    assert seen == [1, 2, 3]
    assert _same_trees(clf.trees_, _reference(bank, plat, params, tr, te).trees_)


@pytest.mark.slow
def test_full_default_credit_is_lossless(shared_data: Path, tmp_path: Path) -> None:
    """The acceptance check: default_credit, bank = guest, platform = host, 80/20 split,
    2048-bit keys, 50 trees of depth 5, 32 bins; federated AUC within 0.002 of centralized."""
    from models.federation.inprocess import InProcessPeer
    from models.federation.manager import SessionManager
    from models.federation.party import Caller
    from proto.transport.codec import ProtobufCodec

    bank, plat = load_hetero(shared_data, "default_credit")
    tr, te = train_test_rows(bank.n_rows)
    params: dict[str, Any] = {"n_estimators": 50, "max_depth": 5, "n_bins": 32}
    manager = SessionManager(tmp_path / "platform", StaticProvider(plat))
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    clf = SecureBoostClassifier(**params, key_bits=2048, privacy="standard").fit(
        bank, peer, rows=tr, validation_rows=te, job_id="sb-full"
    )
    ref = _reference(bank, plat, params, tr, te)
    assert _same_trees(clf.trees_, ref.trees_)
    y = np.asarray(bank.y)[te]
    p_fed = clf.predict_proba(bank.take(te), peer)[:, 1]
    p_ref = ref.predict_proba_plain(joined(bank, plat)[te])[:, 1]
    assert abs(auc(y, p_fed) - auc(y, p_ref)) < AUC_TOL


def test_every_message_survives_the_protobuf_codec() -> None:
    import dataclasses

    from models.crypto.wire import CipherArray
    from models.federation.messages import registered_messages
    from proto.transport.codec import ProtobufCodec

    codec = ProtobufCodec()
    samples: dict[str, Any] = {  # one value per field annotation used by the Sb messages
        "int": 7,
        "str": "x",
        "bytes": b"\x00\xff",
        "bool": True,
        "list[int]": [1, 2],
        "list[str]": ["a", "b"],
        "list[bool]": [True, False],
        "np.ndarray": np.arange(6, dtype=np.int32).reshape(2, 3),
        "np.ndarray | None": np.arange(4, dtype=np.int64),
        "CipherArray": CipherArray("paillier", "ab" * 32, 2, 3, b"\x01\x02\x03\x04\x05\x06"),
    }
    messages = {
        n: c
        for n, c in registered_messages().items()
        if n.startswith("Sb")
        and c.__module__ in ("models.secureboost.messages", "models.secureboost.hidden_messages")
    }
    assert len(messages) == 22  # 16 standard steps + 6 membership-hiding (SbLevel*) steps
    for name, cls in messages.items():
        fields = dataclasses.fields(cls)  # type: ignore[arg-type]
        msg = cls(**{f.name: samples[str(f.type)] for f in fields})
        back = codec.decode(codec.encode(msg), cls)
        for f in fields:
            a, b = getattr(msg, f.name), getattr(back, f.name)
            if isinstance(a, np.ndarray):
                assert a.dtype == b.dtype and np.array_equal(a, b), (name, f.name)
            else:
                assert a == b, (name, f.name)
