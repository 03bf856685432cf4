"""Unbalanced PSI and the size-ratio choice, over both transports (``make_peer``): equality
with balanced PSI, the agreed order, the cache download once per version, rotation and
stale caches, and refusals of bad input."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from models.errors import CryptoError, FailedPrecondition, InvalidArgument
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.psi import PsiAutoActive, load_alignment, psi_auto_session_spec
from models.psi import group as psi_group
from models.psi.choose import UPSI_VERSION, ChoicePolicy, choose_protocol
from models.psi.oprf_store import PlatformPsiCache
from models.psi.protocol import GROUP
from models.psi.unbalanced_active import BankPsiCache
from models.psi.unbalanced_messages import (
    UpsiEvalRequest,
    UpsiEvalResponse,
    UpsiFinishRequest,
    UpsiFinishResponse,
    UpsiPlanRequest,
    UpsiPlanResponse,
)
from models.uscc import is_valid_uscc
from proto.transport.codec import ProtobufCodec
from tests.test_psi import IdTable, run_psi, split_sets

# small sets: let the rule pick unbalanced from 40 platform ids at a ratio of 2
SMALL = {"psi_unbalanced_min_passive": 40, "psi_unbalanced_min_ratio": 2.0}


def run_auto(peer, bank_ids, cache_dir: Path, job="upsi-job", mode="auto", **kwargs):
    peer.open_session(psi_auto_session_spec(job, "catalogue", id_format="uscc"))
    try:
        return PsiAutoActive(peer, cache_dir, mode=mode, **kwargs).run(bank_ids)
    finally:
        peer.close_session()


@pytest.mark.parametrize(
    ("n_bank", "n_platform", "n_common"),
    [(20, 200, 0), (30, 240, 17), (25, 120, 25)],
    ids=["none", "partial", "bank-subset"],
)
def test_unbalanced_equals_balanced(make_peer, tmp_path: Path, n_bank, n_platform, n_common):
    bank, platform = split_sets(n_bank, n_platform, n_common)
    peer = make_peer(IdTable(platform), context_extras=SMALL)
    auto = run_auto(peer, bank, tmp_path / "bank-cache", id_validator=is_valid_uscc, chunk_size=8)
    balanced = run_psi(peer, bank, job="psi-balanced", id_validator=is_valid_uscc, chunk_size=8)

    assert auto.protocol == "unbalanced"
    result = auto.result
    assert set(result.aligned_ids.tolist()) == set(balanced.aligned_ids.tolist())
    assert set(result.aligned_ids.tolist()) == set(bank) & set(platform)
    assert (result.n_self, result.n_peer, result.n_intersection) == (n_bank, n_platform, n_common)
    # the platform stored the same order as the bank, and it is pseudorandom
    platform_order = load_alignment(tmp_path / "platform" / "jobs" / "upsi-job")
    assert platform_order.tolist() == result.aligned_ids.tolist()
    if n_common >= 17:
        common = result.aligned_ids.tolist()
        assert common != sorted(common) and common != [i for i in bank if i in set(platform)]
    summary = json.loads(
        (tmp_path / "platform" / "jobs" / "upsi-job" / "psi_summary.json").read_text()
    )
    assert summary["protocol"] == "unbalanced" and summary["n_intersection"] == n_common
    # online bytes grow with the bank's set: ~64 per bank id + 32 per match + overhead
    assert auto.cache_bytes_downloaded > 0
    assert auto.bytes_online < 64 * n_bank + 32 * n_common + 6000


def test_choice_by_size_ratio_and_balanced_path(make_peer, tmp_path: Path) -> None:
    bank, platform = split_sets(30, 50, 10)  # ratio 1.7 < 2: balanced in the same session
    peer = make_peer(IdTable(platform), context_extras=SMALL)
    auto = run_auto(peer, bank, tmp_path / "bank-cache", id_validator=is_valid_uscc)
    assert auto.protocol == "balanced"
    assert set(auto.result.aligned_ids.tolist()) == set(bank) & set(platform)
    assert load_alignment(tmp_path / "platform" / "jobs" / "upsi-job").tolist() == (
        auto.result.aligned_ids.tolist()
    )
    assert not (tmp_path / "bank-cache").exists()
    # the bank may insist on balanced even when the ratio favours unbalanced
    bank2, platform2 = split_sets(10, 100, 5)
    peer2 = make_peer(IdTable(platform2), context_extras=SMALL)
    forced = run_auto(peer2, bank2, tmp_path / "bank-cache", job="upsi-2", mode="balanced")
    assert forced.protocol == "balanced" and forced.result.n_intersection == 5


def test_rule() -> None:
    policy = ChoicePolicy()
    assert choose_protocol("auto", 50_000, 10_000_000, policy, cache_ready=True) == "unbalanced"
    assert choose_protocol("auto", 50_000, 400_000, policy, cache_ready=True) == "balanced"
    assert choose_protocol("auto", 5_000, 90_000, policy, cache_ready=True) == "balanced"
    assert choose_protocol("auto", 50_000, 10_000_000, policy, cache_ready=False) == "balanced"
    assert choose_protocol("unbalanced", 9, 10, policy, cache_ready=True) == "unbalanced"
    off = ChoicePolicy(allow_unbalanced=False)
    assert choose_protocol("unbalanced", 1, 10**7, off, cache_ready=True) == "balanced"
    with pytest.raises(InvalidArgument):
        choose_protocol("fast", 1, 2, policy, cache_ready=True)


def test_cache_downloaded_once_per_version_and_refreshed_after_rotation(
    make_peer, tmp_path: Path
) -> None:
    bank, platform = split_sets(20, 160, 12)
    cache_dir = tmp_path / "bank-cache"
    peer = make_peer(IdTable(platform), context_extras=SMALL)
    first = run_auto(peer, bank, cache_dir, job="j1")
    second = run_auto(peer, bank, cache_dir, job="j2")
    assert first.cache_bytes_downloaded > 0 and second.cache_bytes_downloaded == 0
    assert first.key_id == second.key_id
    assert set(second.result.aligned_ids.tolist()) == set(bank) & set(platform)
    # bank's copy: 0600 files, a 0700 directory, and the same cache the platform serves
    current = cache_dir / "current"
    assert stat.S_IMODE(os.stat(current).st_mode) == 0o700
    for f in current.iterdir():
        assert stat.S_IMODE(os.stat(f).st_mode) == 0o600
    platform_root = tmp_path / "platform" / "psi_cache"
    for path in platform_root.rglob("*"):
        mode = stat.S_IMODE(os.stat(path).st_mode)
        assert mode == (0o700 if path.is_dir() else 0o600), path

    PlatformPsiCache(platform_root).rotate()  # the platform rotates its key
    third = run_auto(peer, bank, cache_dir, job="j3")
    assert third.key_id != first.key_id and third.cache_bytes_downloaded > 0
    assert set(third.result.aligned_ids.tolist()) == set(bank) & set(platform)
    held = BankPsiCache(cache_dir).held()
    assert held is not None and held.key_id == third.key_id
    # the old key is erased on the platform
    assert not list((platform_root / "keys").glob(f"{first.key_id}*"))

    # a changed population gets a new cache under the same key
    peer2 = make_peer(IdTable(platform[:-5] + bank[:3]), context_extras=SMALL)
    fourth = run_auto(peer2, bank, cache_dir, job="j4")
    assert (
        fourth.cache_bytes_downloaded > 0 and fourth.population_version != third.population_version
    )


def test_scheduled_rotation(tmp_path: Path) -> None:
    now = [1_000_000.0]
    store = PlatformPsiCache(tmp_path / "c", rotation_days=30, clock=lambda: now[0])
    k1 = store.current_key()
    now[0] += 29 * 86400
    assert store.current_key().key_id == k1.key_id
    now[0] += 2 * 86400
    k2 = store.current_key()
    assert k2.key_id != k1.key_id and k2.scalar != k1.scalar
    with pytest.raises(FailedPrecondition, match="stale"):
        store.key(k1.key_id)


# -- the platform refuses bad input -------------------------------------------------------------
@pytest.fixture
def planned(tmp_path: Path):
    platform = [str(i) for i in range(64)]
    manager = SessionManager(tmp_path / "platform", IdTable(platform), context_extras=SMALL)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer.open_session(psi_auto_session_spec("upsi-job", "t", id_format="any"))
    plan = peer.call(
        "psi/plan",
        UpsiPlanRequest(UPSI_VERSION, GROUP, 4, "unbalanced", 4, "", ""),
        UpsiPlanResponse,
    )
    assert plan.protocol == "unbalanced" and plan.refresh and plan.n_passive == 64
    return manager, peer, plan, tmp_path


def _points(n: int) -> bytes:
    with psi_group.GroupEngine(1) as engine:
        return engine.hash_mult(psi_group.random_scalar(), [f"q{i}" for i in range(n)])


def test_invalid_points_are_refused(planned) -> None:
    _, peer, plan, _ = planned
    with pytest.raises(CryptoError, match="not a valid ristretto255"):
        peer.call("psi/eval/0", UpsiEvalRequest(plan.key_id, 0, 4, b"\xff" * 128), UpsiEvalResponse)
    with pytest.raises(InvalidArgument):  # blob shorter than its count
        peer.call("psi/eval/0b", UpsiEvalRequest(plan.key_id, 0, 4, _points(3)), UpsiEvalResponse)
    with pytest.raises(InvalidArgument):  # more points than announced
        peer.call("psi/eval/1", UpsiEvalRequest(plan.key_id, 1, 4, _points(4)), UpsiEvalResponse)
    ok = peer.call("psi/eval/0c", UpsiEvalRequest(plan.key_id, 0, 4, _points(4)), UpsiEvalResponse)
    assert ok.count == 4
    with pytest.raises(FailedPrecondition, match="already evaluated"):  # no oracle beyond n_active
        peer.call("psi/eval/0d", UpsiEvalRequest(plan.key_id, 0, 4, _points(4)), UpsiEvalResponse)


def test_wrong_key_version_is_told_to_refresh(planned) -> None:
    _, peer, plan, tmp_path = planned
    with pytest.raises(FailedPrecondition, match=r"stale.*download the current cache"):
        peer.call(
            "psi/eval/0",
            UpsiEvalRequest("20200101T000000Z-00000000", 0, 4, _points(4)),
            UpsiEvalResponse,
        )
    PlatformPsiCache(tmp_path / "platform" / "psi_cache").rotate()  # rotated mid-run
    with pytest.raises(FailedPrecondition, match="stale"):
        peer.call("psi/eval/0x", UpsiEvalRequest(plan.key_id, 0, 4, _points(4)), UpsiEvalResponse)


def test_forged_finish_values_are_refused(planned) -> None:
    _, peer, plan, _ = planned
    peer.call("psi/eval/0", UpsiEvalRequest(plan.key_id, 0, 4, _points(4)), UpsiEvalResponse)
    with pytest.raises(FailedPrecondition, match="not in the platform's population"):
        peer.call(
            "psi/finish/0",
            UpsiFinishRequest(plan.key_id, 0, 1, 1, 1, _points(1)),
            UpsiFinishResponse,
        )
    with pytest.raises(InvalidArgument):
        peer.call(
            "psi/finish/0b",
            UpsiFinishRequest(plan.key_id, 0, 1, 99, 1, _points(1)),
            UpsiFinishResponse,
        )


def test_bad_plans_are_refused(tmp_path: Path) -> None:
    manager = SessionManager(tmp_path / "platform", IdTable(["a", "b"]), context_extras=SMALL)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer.open_session(psi_auto_session_spec("upsi-job", "t", id_format="any"))
    with pytest.raises(InvalidArgument, match="version"):
        peer.call("psi/plan", UpsiPlanRequest("v0", GROUP, 4, "auto", 4, "", ""), UpsiPlanResponse)
    with pytest.raises(InvalidArgument, match="mode"):
        peer.call(
            "psi/plan2", UpsiPlanRequest(UPSI_VERSION, GROUP, 4, "x", 4, "", ""), UpsiPlanResponse
        )
    off = SessionManager(
        tmp_path / "p2", IdTable(["a", "b"]), context_extras={"psi_unbalanced": False}
    )
    peer2 = InProcessPeer(off, Caller("bank-a", "bank"), codec=ProtobufCodec())
    peer2.open_session(psi_auto_session_spec("upsi-job", "t", id_format="any"))
    with pytest.raises(FailedPrecondition, match="cannot run unbalanced"):
        peer2.call(
            "psi/plan",
            UpsiPlanRequest(UPSI_VERSION, GROUP, 1, "unbalanced", 4, "", ""),
            UpsiPlanResponse,
        )


def test_offline_build_by_the_node_serves_large_populations(tmp_path: Path) -> None:
    """Above the inline-build limit, auto falls back to balanced until the node has built
    the cache (``python -m platform_node.psi_cache build``), then runs unbalanced."""
    from platform_node.psi_cache import build_cache, status

    bank, platform = split_sets(10, 150, 6)
    extras = {**SMALL, "psi_cache_inline_build_max": 100}
    manager = SessionManager(tmp_path / "platform", IdTable(platform), context_extras=extras)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    before = run_auto(peer, bank, tmp_path / "bank-cache", job="j1")
    assert before.protocol == "balanced"

    meta = build_cache(tmp_path / "platform", IdTable(platform), "catalogue", id_format="uscc")
    assert meta.n == 150 and status(tmp_path / "platform")["caches"][0]["n"] == 150
    after = run_auto(peer, bank, tmp_path / "bank-cache", job="j2")
    assert after.protocol == "unbalanced" and after.key_id == meta.key_id
    assert set(after.result.aligned_ids.tolist()) == set(bank) & set(platform)


def test_platform_config_psi_section(tmp_path: Path) -> None:
    from platform_node.config import PSI_DEFAULTS, PlatformConfig

    cfg = tmp_path / "platform.toml"
    cfg.write_text(
        '[platform]\ndata_dir = "d"\n[platform.known_parties]\nbank-a = "bank"\n'
        "[platform.psi]\nkey_rotation_days = 7\nunbalanced_min_ratio = 20\n"
    )
    config = PlatformConfig.load(cfg, plaintext=True)
    assert config.psi == {**PSI_DEFAULTS, "key_rotation_days": 7, "unbalanced_min_ratio": 20}
    cfg.write_text(cfg.read_text() + "rotation_dayz = 3\n")
    with pytest.raises(InvalidArgument):
        PlatformConfig.load(cfg, plaintext=True)


def test_cache_streams_in_many_chunks(make_peer, tmp_path: Path, monkeypatch) -> None:
    import models.psi.unbalanced_passive as passive_module

    monkeypatch.setattr(passive_module, "CACHE_CHUNK_BYTES", 256)
    bank, platform = split_sets(12, 400, 7)
    peer = make_peer(IdTable(platform), context_extras=SMALL)
    run = run_auto(peer, bank, tmp_path / "bank-cache")
    assert run.protocol == "unbalanced" and run.cache_bytes_downloaded > 4 * 256
    assert set(run.result.aligned_ids.tolist()) == set(bank) & set(platform)


def test_evaluation_budget_per_bank_and_key(tmp_path: Path) -> None:
    """The platform counts OPRF evaluations per bank and key; past the budget an explicit
    unbalanced run is refused, auto falls back to balanced, and rotation resets the count."""
    bank, platform = split_sets(20, 200, 9)
    extras = {**SMALL, "psi_eval_budget_per_key": 30}
    manager = SessionManager(tmp_path / "platform", IdTable(platform), context_extras=extras)
    peer = InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())
    first = run_auto(peer, bank, tmp_path / "bank-cache", job="j1")
    assert first.protocol == "unbalanced"
    summary = json.loads((tmp_path / "platform" / "jobs" / "j1" / "psi_summary.json").read_text())
    assert summary["evaluations_under_key"] == 20
    with pytest.raises(FailedPrecondition, match="budget"):
        run_auto(peer, bank, tmp_path / "bank-cache", job="j2", mode="unbalanced")
    fallback = run_auto(peer, bank, tmp_path / "bank-cache", job="j3")
    assert fallback.protocol == "balanced" and fallback.result.n_intersection == 9
    # another bank has its own count
    peer_b = InProcessPeer(manager, Caller("bank-b", "bank"), codec=ProtobufCodec())
    assert run_auto(peer_b, bank, tmp_path / "bank-b-cache", job="j4").protocol == "unbalanced"
    PlatformPsiCache(tmp_path / "platform" / "psi_cache").rotate()
    assert run_auto(peer, bank, tmp_path / "bank-cache", job="j5").protocol == "unbalanced"
