"""The Ray backend on a real Ray cluster started here on loopback (a head node and a second
node joined to it, one CPU each): SecureBoost and PSI give bit-identical results to the local
backend, and killing a Ray worker in the middle of a job still ends in the same model.

About 40-50 s on two idle cores, most of it starting the two Ray nodes; the hardened-mode
comparison is marked slow."""

from __future__ import annotations

import os
import signal
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray")

import models.secureboost.passive  # noqa: F401  (registers the platform half)
from experiments.support.hetero import StaticProvider, load_hetero, train_test_rows
from models import compute
from models.compute.local import LocalBackend
from models.compute.ray_backend import RayBackend
from models.compute.ray_cluster import LocalRayCluster
from models.crypto.histogram import encrypted_histograms
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.psi import PsiActive, load_alignment, psi_session_spec
from models.psi import active as psi_active
from models.psi import passive as psi_passive
from models.psi.group import GroupEngine, random_scalar
from models.secureboost.active import SecureBoostClassifier
from models.uscc import generate_usccs, is_valid_uscc
from proto.transport.codec import ProtobufCodec
from tests.test_psi import IdTable

KEY_BITS = 1024
PARAMS: dict[str, Any] = {"n_estimators": 2, "max_depth": 3, "n_bins": 16}


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    with LocalRayCluster(extra_nodes=1, cpus_per_node=1) as c:
        yield c


@pytest.fixture(scope="module")
def ray_backend(cluster: LocalRayCluster) -> Iterator[RayBackend]:
    be = RayBackend(cluster.address, workers=2)
    yield be
    be.close()


def _peer(tmp: Path, data: Any) -> InProcessPeer:
    manager = SessionManager(tmp, data, context_extras={"secureboost_noise_scale": 0})
    return InProcessPeer(manager, Caller("bank-a", "bank"), codec=ProtobufCodec())


def _train(shared: Path, tmp: Path, privacy: str = "standard") -> tuple[list[Any], np.ndarray]:
    bank, plat = load_hetero(shared, "default_credit", 400)
    tr, te = train_test_rows(bank.n_rows)
    peer = _peer(tmp, StaticProvider(plat))
    clf = SecureBoostClassifier(**PARAMS, key_bits=KEY_BITS, privacy=privacy).fit(
        bank, peer, rows=tr, validation_rows=te, job_id="sb-compute"
    )
    trees = [(t.structure(), [n.value for n in t.leaves()]) for t in clf.trees_]
    return trees, clf.decision_function(bank.take(te), peer)


def test_cluster_has_two_nodes_and_the_backend_spreads(ray_backend: RayBackend) -> None:
    import ray

    assert len([n for n in ray.nodes() if n["Alive"]]) == 2
    assert len(set(ray_backend.actor_pids())) == 2


def test_crypto_and_psi_blocks_are_bit_identical(ray_backend: RayBackend) -> None:
    keypair = PaillierKeypair.generate(KEY_BITS)
    plain = list(range(-400, 400))
    enc = ray_backend.encrypt(keypair, plain)
    assert keypair.decrypt(enc) == plain == ray_backend.decrypt(keypair, enc)
    rng = np.random.default_rng(2)
    bins = rng.integers(0, 9, size=(len(enc), 4))
    rows = np.sort(rng.choice(len(enc), 500, replace=False))
    skip = np.array([3, -1, 0, 8])
    got = ray_backend.histograms(enc, bins, rows, 9, skip_bins=skip)
    want = encrypted_histograms(enc, bins, rows, 9, skip_bins=skip, workers=1)
    assert [h.values for h in got] == [h.values for h in want]
    scalar = random_scalar()
    ids = [f"company-{i}" for i in range(700)]
    serial = GroupEngine(1)
    with ray_backend.group_engine() as engine:
        blob = engine.hash_mult(scalar, ids)
        assert blob == serial.hash_mult(scalar, ids)
        assert engine.mult(scalar, blob) == serial.mult(scalar, blob)


def test_psi_is_bit_identical(
    ray_backend: RayBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pool = generate_usccs(900, np.random.default_rng(5))
    bank, platform = pool[:600], pool[300:]
    # the same secrets and shuffles for both runs, so the agreed order must be the same
    scalars = iter([random_scalar(), random_scalar()] * 2)
    monkeypatch.setattr(psi_active, "random_scalar", lambda: next(scalars))
    monkeypatch.setattr(psi_passive, "random_scalar", lambda: next(scalars))
    monkeypatch.setattr(psi_active, "random_permutation", np.arange)
    monkeypatch.setattr(psi_passive, "random_permutation", np.arange)

    def run(backend: Any, where: Path) -> tuple[list[str], str, list[str]]:
        with compute.use(backend):
            peer = _peer(where, IdTable(platform))
            peer.open_session(psi_session_spec("psi-job", "catalogue", id_format="uscc"))
            res = PsiActive(peer, id_validator=is_valid_uscc, chunk_size=128).run(bank)
            peer.close_session()
        stored = load_alignment(where / "jobs" / "psi-job").tolist()
        return res.aligned_ids.tolist(), res.alignment_digest, stored

    local = run(LocalBackend(), tmp_path / "local")
    ray = run(ray_backend, tmp_path / "ray")
    assert ray == local
    assert set(local[0]) == set(bank) & set(platform)


class KillingBackend:
    """The Ray backend, with one of its worker processes killed after the first histogram
    call, and the other one at the bank's next decryption; the calls that follow find the
    dead actors, which Ray restarts and which reload their state from the object store."""

    def __init__(self, inner: RayBackend) -> None:
        self.inner = inner
        self.name = inner.name
        self.killed: list[int] = []

    def _kill(self, index: int) -> None:
        pid = self.inner.actor_pids()[index]
        os.kill(pid, signal.SIGKILL)
        self.killed.append(pid)

    def histograms(self, *args: Any, **kwargs: Any) -> list[EncryptedVector]:
        out = self.inner.histograms(*args, **kwargs)
        if not self.killed:
            self._kill(0)
        return out

    def encrypt(self, *args: Any, **kwargs: Any) -> EncryptedVector:
        return self.inner.encrypt(*args, **kwargs)

    def decrypt(self, *args: Any, **kwargs: Any) -> list[int]:
        if len(self.killed) == 1:
            self._kill(1)
        return self.inner.decrypt(*args, **kwargs)

    def group_engine(self, workers: int | None = None) -> Any:
        return self.inner.group_engine(workers)

    def release_key(self, keypair: PaillierKeypair) -> None:
        self.inner.release_key(keypair)

    def close(self) -> None:
        """The inner backend belongs to the fixture."""


def test_secureboost_is_bit_identical_and_survives_a_killed_worker(
    ray_backend: RayBackend, shared_data: Path, tmp_path: Path
) -> None:
    with compute.use(LocalBackend()):
        local = _train(shared_data, tmp_path / "local")
    keys_before = set(ray_backend._keys)
    with compute.use(ray_backend):
        on_ray = _train(shared_data, tmp_path / "ray")
    assert on_ray[0] == local[0]
    assert np.array_equal(on_ray[1], local[1])
    assert set(ray_backend._keys) <= keys_before  # the job released its key from the workers

    killing = KillingBackend(ray_backend)
    with compute.use(killing):
        survived = _train(shared_data, tmp_path / "killed")
    assert len(killing.killed) == 2
    assert survived[0] == local[0]
    assert np.array_equal(survived[1], local[1])
    pids = ray_backend.actor_pids()  # both actors were restarted by Ray
    assert not set(pids) & set(killing.killed)


@pytest.mark.slow  # ~10 s more on idle cores (one encryption per row per level)
def test_hardened_secureboost_is_bit_identical(
    ray_backend: RayBackend, shared_data: Path, tmp_path: Path
) -> None:
    """The default privacy mode (membership-hiding levels, one histogram over every training
    row per level), with the platform's noise off so that runs are comparable."""
    with compute.use(LocalBackend()):
        local = _train(shared_data, tmp_path / "local", privacy="hardened")
    with compute.use(ray_backend):
        on_ray = _train(shared_data, tmp_path / "ray", privacy="hardened")
    assert on_ray[0] == local[0]
    assert np.array_equal(on_ray[1], local[1])
