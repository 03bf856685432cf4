"""The compute backend interface without Ray: the default local backend is what the call sites
used before (same results), switching backends is scoped, and the node config keys."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from models import compute
from models.compute.local import LocalBackend
from models.compute.ray_worker import decode_ids, decode_keypair, encode_ids, encode_keypair
from models.crypto.histogram import encrypted_histograms
from models.crypto.paillier import PaillierKeypair
from models.errors import InvalidArgument
from models.psi.group import GroupEngine, random_scalar
from platform_node.config import PlatformConfig
from proto.transport.config_model import ComputeConfig


@pytest.fixture(scope="module")
def keypair() -> PaillierKeypair:
    return PaillierKeypair.generate(1024)


def test_default_backend_is_local_and_use_is_scoped() -> None:
    assert compute.backend().name == "local"
    other = LocalBackend()
    with compute.use(other):
        assert compute.backend() is other
    assert compute.backend() is not other
    with pytest.raises(InvalidArgument):
        compute.create("spark")


def test_local_backend_matches_the_crypto_layer(keypair: PaillierKeypair) -> None:
    be = compute.backend()
    plain = list(range(-300, 300))
    enc = be.encrypt(keypair, plain, workers=2)
    assert be.decrypt(keypair, enc, workers=2) == plain == keypair.decrypt(enc)
    rng = np.random.default_rng(1)
    bins = rng.integers(0, 6, size=(len(enc), 3))
    rows = np.sort(rng.choice(len(enc), 400, replace=False))
    skip = np.array([0, -1, 5])
    got = be.histograms(enc, bins, rows, 6, skip_bins=skip, workers=2)
    want = encrypted_histograms(enc, bins, rows, 6, skip_bins=skip, workers=1)
    assert [h.values for h in got] == [h.values for h in want]
    scalar = random_scalar()
    ids = [f"company-{i}" for i in range(300)]
    with be.group_engine(2) as engine, GroupEngine(1) as serial:
        blob = engine.hash_mult(scalar, ids)
        assert blob == serial.hash_mult(scalar, ids)
        assert engine.mult(scalar, blob) == serial.mult(scalar, blob)


def test_worker_encodings_round_trip(keypair: PaillierKeypair) -> None:
    back = decode_keypair(encode_keypair(keypair))
    assert back.public_key.fingerprint == keypair.public_key.fingerprint
    assert back.decrypt(keypair.encrypt([7, -9])) == [7, -9]
    ids = ["a", "é", "91410100MA44XXXXXX"]
    assert decode_ids(encode_ids(ids), 3) == ids
    assert decode_ids(b"", 0) == []
    with pytest.raises(ValueError):
        decode_ids(encode_ids(ids), 2)


def test_compute_keys_in_node_config(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path = tmp_path / "platform.toml"
    path.write_text(
        '[platform]\ncompute = "ray"\nray_address = "10.0.0.5:6379"\nray_workers = 8\n'
        '[platform.known_parties]\nbank-a = "bank"\n'
    )
    cfg = PlatformConfig.load(path, plaintext=True)
    assert cfg.compute == ComputeConfig("ray", "10.0.0.5:6379", 8)
    monkeypatch.setenv("FEDCREDIT_PLATFORM_COMPUTE", "local")
    assert PlatformConfig.load(path, plaintext=True).compute.compute == "local"
    path.write_text('[platform]\ncompute = "spark"\n[platform.known_parties]\nbank-a = "bank"\n')
    monkeypatch.delenv("FEDCREDIT_PLATFORM_COMPUTE")
    with pytest.raises(InvalidArgument, match="compute"):
        PlatformConfig.load(path, plaintext=True)
    ComputeConfig().apply()  # local: leaves the default in place
    assert compute.backend().name == "local"


def test_deployment_files_match_the_node_configs() -> None:
    """docs/deploy: every service runs the image the Dockerfile builds, every node setting
    the compose file overrides is a real config key, and only the nodes share a network."""
    import yaml

    from bank_node.config import DEFAULTS as BANK
    from platform_node.config import DEFAULTS as PLATFORM

    root = Path(__file__).resolve().parents[1] / "docs" / "deploy"
    doc = yaml.safe_load((root / "compose.yaml").read_text())
    dockerfile = (root / "Dockerfile").read_text()
    assert "pip install '.[ray]'" in dockerfile and "libsodium23" in dockerfile
    services = doc["services"]
    for name, svc in services.items():
        assert name == "bank-postgres" or svc["image"] == "fedcredit:latest", name
        for var in svc.get("environment", {}):
            for prefix, keys in (("FEDCREDIT_PLATFORM_", PLATFORM), ("FEDCREDIT_BANK_", BANK)):
                if var.startswith(prefix):
                    assert var[len(prefix) :].lower() in keys, var
    shared = {n for n, s in services.items() if "federation" in s.get("networks", [])}
    assert shared == {"platform", "bank"}
    assert doc["networks"]["platform-internal"]["internal"] is True
    assert doc["networks"]["bank-internal"]["internal"] is True


def test_an_unreachable_ray_cluster_is_a_clear_error() -> None:
    pytest.importorskip("ray")
    from models.compute.ray_cluster import free_port
    from models.errors import FailedPrecondition

    with pytest.raises(FailedPrecondition, match="Ray cluster"):
        compute.create("ray", address=f"127.0.0.1:{free_port()}")
