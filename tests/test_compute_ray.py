"""The Ray backend on a real Ray cluster started here on loopback (a head node and a second
node joined to it, one CPU each): SecureBoost, balanced PSI and unbalanced PSI (the
platform's cache and a full run) give bit-identical results to the local backend, killing a
Ray worker between the calls of a job still ends in the same model, and killing one while a
large call runs still returns the same result.

About 80 s on two loaded cores (load average 7-10): ~27 s starting the two Ray nodes,
~20 s and ~10 s for the two mid-call kills (each well under 30 s, so not marked slow); the
hardened-mode comparison is marked slow."""

from __future__ import annotations

import os
import shutil
import signal
import threading
import time
import types
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest

pytest.importorskip("ray")

import models.secureboost.passive  # noqa: F401  (registers the platform half)
from experiments.support.hetero import StaticProvider, load_hetero, train_test_rows
from models import compute
from models.compute import ray_backend as ray_backend_module
from models.compute.local import LocalBackend
from models.compute.ray_backend import RayBackend
from models.compute.ray_cluster import LocalRayCluster
from models.crypto.histogram import encrypted_histograms
from models.crypto.paillier import EncryptedVector, PaillierKeypair
from models.errors import FailedPrecondition
from models.federation.inprocess import InProcessPeer
from models.federation.manager import SessionManager
from models.federation.party import Caller
from models.psi import (
    PsiActive,
    PsiAutoActive,
    load_alignment,
    psi_auto_session_spec,
    psi_session_spec,
)
from models.psi import active as psi_active
from models.psi import passive as psi_passive
from models.psi import unbalanced_passive as upsi_passive
from models.psi.group import GroupEngine, random_scalar
from models.psi.oprf_store import PlatformPsiCache
from models.secureboost.active import SecureBoostClassifier
from models.uscc import generate_usccs, is_valid_uscc
from proto.transport.codec import ProtobufCodec
from tests.test_psi import IdTable, split_sets

KEY_BITS = 1024
PARAMS: dict[str, Any] = {"n_estimators": 2, "max_depth": 3, "n_bins": 16}


def _start_cluster() -> LocalRayCluster:
    """A 2-node loopback cluster; one more try if a node fails to come up on a busy machine
    (a start-up hiccup, not a result: every assertion runs on the cluster that did start)."""
    first = LocalRayCluster(extra_nodes=1, cpus_per_node=1)
    try:
        return first.start()
    except FailedPrecondition:
        first.stop()
        return LocalRayCluster(extra_nodes=1, cpus_per_node=1).start()


@pytest.fixture(scope="module")
def cluster() -> Iterator[LocalRayCluster]:
    c = _start_cluster()
    try:
        yield c
    finally:
        c.stop()


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


def _check_group_engine(ray_backend: RayBackend) -> None:
    """The Ray group engine's hash-and-multiply and multiply equal the serial engine's."""
    scalar = random_scalar()
    ids = [f"company-{i}" for i in range(700)]
    serial = GroupEngine(1)
    with ray_backend.group_engine() as engine:
        blob = engine.hash_mult(scalar, ids)
        assert blob == serial.hash_mult(scalar, ids)
        assert engine.mult(scalar, blob) == serial.mult(scalar, blob)


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
    _check_group_engine(ray_backend)


def test_psi_calls_cut_into_more_blocks_than_actors_stay_bit_identical(
    ray_backend: RayBackend, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A call cut into several blocks per actor (handed out as actors finish) answers in
    the order of its input, as the serial engine does."""
    monkeypatch.setattr(ray_backend_module, "GROUP_MIN_BLOCK", 64)
    assert ray_backend_module.group_blocks(700, 2) == 8
    _check_group_engine(ray_backend)


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


class _CountingRay:
    """The ``ray`` module, counting the objects put into the object store that equal
    ``secret`` (the OPRF key must be put once, not with every call)."""

    def __init__(self, ray: Any, secret: bytes) -> None:
        self._ray = ray
        self.secret = secret
        self.key_puts = 0

    def put(self, value: Any, *args: Any, **kwargs: Any) -> Any:
        if isinstance(value, bytes) and value == self.secret:
            self.key_puts += 1
        return self._ray.put(value, *args, **kwargs)

    def __getattr__(self, name: str) -> Any:
        return getattr(self._ray, name)


def test_unbalanced_psi_cache_and_run_are_bit_identical(
    ray_backend: RayBackend, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The platform's cache built on Ray (offline blinding of the population under the OPRF
    key, in many blocks) equals the one built locally, file by file, and a full unbalanced
    PSI (bank blinding, platform evaluation, unblinding) ends in the same alignment; the key
    goes into the object store once."""
    bank, platform = split_sets(150, 3000, 60)
    monkeypatch.setattr(ray_backend_module, "GROUP_BLOCK", 256)  # 12 windowed blocks
    # the same order nonce in both runs (the agreed order depends on it)
    monkeypatch.setattr(upsi_passive, "secrets", types.SimpleNamespace(token_bytes=bytes))

    def run(backend: Any, where: Path) -> tuple[list[str], str, list[str]]:
        with compute.use(backend):
            peer = _peer(where, IdTable(platform))
            peer.open_session(psi_auto_session_spec("upsi-job", "catalogue", id_format="uscc"))
            try:
                res = PsiAutoActive(
                    peer, where / "bank-cache", mode="unbalanced", chunk_size=64
                ).run(bank)
            finally:
                peer.close_session()
        assert res.protocol == "unbalanced"
        stored = load_alignment(where / "jobs" / "upsi-job").tolist()
        return res.result.aligned_ids.tolist(), res.result.alignment_digest, stored

    local = run(LocalBackend(), tmp_path / "local")
    # the Ray run's platform uses the same long-lived key (a copy of the key store)
    src, dst = tmp_path / "local" / "psi_cache", tmp_path / "ray" / "psi_cache"
    shutil.copytree(src / "keys", dst / "keys")
    shutil.copy2(src / "current.json", dst / "current.json")
    key = PlatformPsiCache(src).current_key()
    counting = _CountingRay(ray_backend._ray, key.scalar)
    monkeypatch.setattr(ray_backend, "_ray", counting)
    on_ray = run(ray_backend, tmp_path / "ray")

    assert on_ray == local
    assert set(local[0]) == set(bank) & set(platform)
    assert counting.key_puts == 1  # one build + three eval chunks, one copy of the key
    assert key.key_id in ray_backend._scalars
    local_set = next((src / "sets" / key.key_id).iterdir())
    ray_set = dst / "sets" / key.key_id / local_set.name
    for name in ("public.bin", "private_prefix.npy", "private_values.npy", "private_ids.npy"):
        assert (ray_set / name).read_bytes() == (local_set / name).read_bytes(), name
    # the next key (after a rotation) replaces it in the object store and in the actors
    with ray_backend.group_engine() as engine:
        engine.hold_key("next-key", random_scalar())
    assert list(ray_backend._scalars) == ["next-key"]


def _cpu_seconds(pid: int) -> float:
    fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def _kill_one_mid_call(be: RayBackend, call: Any) -> Any:
    """Run ``call()`` in a thread, SIGKILL the first actor once it has spent 0.3 s of CPU
    on it (so while it computes its block), and return what the call returned."""
    victim = be.actor_pids()[0]
    cpu0 = _cpu_seconds(victim)
    got: list[Any] = []
    errors: list[BaseException] = []

    def run() -> None:
        try:
            got.append(call())
        except BaseException as exc:
            errors.append(exc)

    worker = threading.Thread(target=run)
    worker.start()
    deadline = time.monotonic() + 60
    while _cpu_seconds(victim) - cpu0 < 0.3 and time.monotonic() < deadline:
        time.sleep(0.02)
    assert worker.is_alive(), "the call ended before the worker could be killed"
    os.kill(victim, signal.SIGKILL)
    worker.join(timeout=300)
    assert not worker.is_alive() and not errors, errors
    assert victim not in be.actor_pids()  # restarted by Ray
    return got[0]


def test_a_worker_killed_mid_blinding_changes_nothing(ray_backend: RayBackend) -> None:
    """SIGKILL one actor while it computes its block of a large blinding call (under a held
    OPRF key): Ray restarts the actor, which reloads the key from the object store, and
    retries the block; the call returns the same bytes as a local engine."""
    scalar = random_scalar()
    ids = [f"enterprise-{i:07d}" for i in range(40_000)]
    with GroupEngine(1) as serial:
        want = serial.hash_mult(scalar, ids)

    def blind() -> bytes:
        with ray_backend.group_engine() as engine:
            engine.hold_key("kill-test-key", scalar)
            return engine.hash_mult(scalar, ids)

    assert _kill_one_mid_call(ray_backend, blind) == want


def test_a_worker_killed_mid_histograms_changes_nothing(ray_backend: RayBackend) -> None:
    """The same during an encrypted-histogram call: the restarted actor reloads its row block
    of the ciphertext vector from the object store and recomputes its bin products."""
    keypair = PaillierKeypair.generate(KEY_BITS)
    rng = np.random.default_rng(11)
    enc = ray_backend.encrypt(keypair, rng.integers(-1000, 1000, size=6000).tolist())
    bins = rng.integers(0, 32, size=(len(enc), 160))
    rows = np.arange(len(enc))
    want = encrypted_histograms(enc, bins, rows, 32, workers=1)
    got = _kill_one_mid_call(ray_backend, lambda: ray_backend.histograms(enc, bins, rows, 32))
    assert [h.values for h in got] == [h.values for h in want]
