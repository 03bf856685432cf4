"""Signed model parts (issue 14 row 6): a node signs each part it saves under its data
directory with its own key and refuses at load a part whose signature is missing, foreign or
over another digest; an attacker who edits a part and recomputes its digest with the
project's own ``save_part`` (in another process, without the node's key) is refused with
DATA_LOSS. Also the key at rest: 0600, encrypted when a passphrase is configured."""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import models.secureboost.passive  # registers the platform half
from experiments.support.grpc_harness import bank_peer, start_platform
from experiments.support.hetero import StaticProvider, load_hetero, train_test_rows
from models.errors import DataLoss, FailedPrecondition, NotFound, PermissionDenied
from models.keystore import ENV_PASSPHRASE
from models.model_io import load_part, save_part
from models.part_signing import (
    KEY_FILE,
    part_signature,
    register_node_key,
    sig_path,
    unregister_node_key,
    verified_platform_signature,
    verify_signature,
)
from models.secureboost.active import SecureBoostClassifier
from proto.transport.audit_servicer import open_node_audit_log

ROOT = Path(__file__).resolve().parent.parent
FORMAT = "fedcredit.secureboost.bank"


def _rehash_in_another_process(path: Path, fmt: str, edit: str) -> None:
    """The attack of the issue: edit a part and recompute its digest with ``save_part``, in a
    process that does not hold the node's key."""
    code = (
        "import json, sys; from pathlib import Path\n"
        "from models.model_io import save_part\n"
        "p = Path(sys.argv[1]); doc = json.loads(p.read_text()); doc.pop('digest')\n"
        f"exec({edit!r})\n"
        "save_part(p, doc)\n"
    )
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    subprocess.run([sys.executable, "-c", code, str(path), fmt], check=True, env=env)


def test_unsigned_rehashed_part_is_refused(tmp_path: Path) -> None:
    node = tmp_path / "node"
    register_node_key(node)
    try:
        path = node / "models" / "m.json"
        body = {"format": FORMAT, "format_version": 1, "base_score": 0.5}
        digest = save_part(path, body)
        assert part_signature(path)
        assert load_part(path, FORMAT)[1] == digest
        _rehash_in_another_process(path, FORMAT, "doc['base_score'] = 0.9")
        assert load_part.__module__ == "models.model_io"
        with pytest.raises(DataLoss):
            load_part(path, FORMAT)
        # without any signature file
        save_part(path, body)
        sig_path(path).unlink()
        with pytest.raises(DataLoss):
            load_part(path, FORMAT)
        # signed by another node's key
        other = tmp_path / "other"
        register_node_key(other)
        save_part(other / "m.json", body)
        sig_path(path).write_bytes(sig_path(other / "m.json").read_bytes())
        with pytest.raises(DataLoss):
            load_part(path, FORMAT)
        # the signing key is private to the node
        key = node / KEY_FILE
        assert stat.S_IMODE(key.stat().st_mode) == 0o600
        assert stat.S_IMODE(key.parent.stat().st_mode) == 0o700
    finally:
        unregister_node_key(node)
        unregister_node_key(tmp_path / "other")
    # outside a node directory (a bare library use) nothing is signed or required
    plain = tmp_path / "plain.json"
    save_part(plain, {"format": FORMAT, "format_version": 1})
    assert not sig_path(plain).exists()
    load_part(plain, FORMAT)


def test_encrypted_node_key(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(ENV_PASSPHRASE, "correct horse battery staple")
    node = tmp_path / "node"
    register_node_key(node)
    try:
        pem = (node / KEY_FILE).read_bytes()
        assert pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        # the audit signing key too, and the log still signs and verifies
        from models.audit import events as ev
        from models.audit import verify

        log = open_node_audit_log(tmp_path / "audited", "platform", "platform")
        log.append(ev.AUDIT_READ, None, {})
        key_pem = (tmp_path / "audited" / "audit" / "audit_signing_key.pem").read_bytes()
        assert key_pem.startswith(b"-----BEGIN ENCRYPTED PRIVATE KEY-----")
        assert verify(log.path).ok
        log.close()
        unregister_node_key(tmp_path / "audited")
        save_part(node / "m.json", {"format": FORMAT, "format_version": 1})
        monkeypatch.setenv(ENV_PASSPHRASE, "wrong")
        with pytest.raises(FailedPrecondition):
            register_node_key(node)
        monkeypatch.delenv(ENV_PASSPHRASE)
        with pytest.raises(FailedPrecondition):
            register_node_key(node)
    finally:
        unregister_node_key(node)


def test_passphrase_from_a_file_descriptor(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from models import keystore

    r, w = os.pipe()
    os.write(w, b"from-a-pipe\n")
    os.close(w)
    monkeypatch.setenv(keystore.ENV_PASSPHRASE_FD, str(r))
    monkeypatch.delenv(ENV_PASSPHRASE, raising=False)
    monkeypatch.setattr(keystore, "_from_fd", {})
    assert keystore.node_passphrase() == b"from-a-pipe"
    assert keystore.node_passphrase() == b"from-a-pipe"  # read once, remembered


def test_trained_parts_are_signed_and_a_rehashed_bank_part_is_refused(
    shared_data: Path, tmp_path: Path
) -> None:
    bank, plat = load_hetero(shared_data, "default_credit", 300)
    tr, te = train_test_rows(bank.n_rows)
    running = start_platform(tmp_path, StaticProvider(plat))
    peer = bank_peer(running.port, "bank-a")

    def stop() -> None:
        peer.close()
        running.stop(0.5)

    bank_dir = tmp_path / "bank"
    open_node_audit_log(bank_dir, "bank-a", "bank")  # what every bank process does first
    try:
        clf = SecureBoostClassifier(
            n_estimators=2, max_depth=2, key_bits=1024, privacy="standard"
        ).fit(bank, peer, rows=tr, validation_rows=te, job_id="sb-signed")
        # the platform signed its part with its node key at save time, and reloads it
        ppart = tmp_path / "platform" / "models" / "secureboost" / "bank-a" / "sb-signed.json"
        assert part_signature(ppart)
        # the bank got the platform's signature over the digest and checked it
        assert clf.platform_signature_ == part_signature(ppart) and clf.platform_key_
        verify_signature(clf.platform_key_, clf.platform_digest_, clf.platform_signature_)
        with pytest.raises(DataLoss):  # a signature over another digest
            verify_signature(clf.platform_key_, "sha256:" + "0" * 64, clf.platform_signature_)
        before = clf.decision_function(bank.take(te[:5]), peer)
        # another bank cannot use this bank's part, even copied (with its valid signature and
        # population) to where its own parts live: the part names the bank it belongs to
        other_dir = ppart.parent.parent / "bank-b"
        other_dir.mkdir()
        for src in ppart.parent.glob("sb-signed.*"):
            (other_dir / src.name).write_bytes(src.read_bytes())
        bank_b = bank_peer(running.port, "bank-b")
        try:
            with pytest.raises((NotFound, PermissionDenied)):
                clf.decision_function(bank.take(te[:5]), bank_b)
        finally:
            bank_b.close()
        # the bank's part
        path = bank_dir / "models" / "sb.json"
        clf.save_model(path)
        loaded = SecureBoostClassifier.load_model(path)
        np.testing.assert_allclose(
            loaded.decision_function(bank.take(te[:5]), peer), before, atol=1e-9
        )
        _rehash_in_another_process(path, FORMAT, "doc['base_score'] = doc['base_score'] + 1.0")
        doc = json.loads(path.read_text())
        assert load_part.__module__ and doc["digest"].startswith("sha256:")
        with pytest.raises(DataLoss):
            SecureBoostClassifier.load_model(path)
        # the platform's part edited the same way: the platform refuses to serve it
        _rehash_in_another_process(
            ppart,
            "fedcredit.secureboost.platform",
            "k = next(iter(doc['splits'])); doc['splits'][k]['bin'] = 0",
        )
        with pytest.raises(DataLoss):
            models.secureboost.passive.load_platform_part(ppart)
    finally:
        stop()
        unregister_node_key(bank_dir)
        unregister_node_key(tmp_path / "platform")


def test_bank_checks_and_pins_the_platform_signature(tmp_path: Path) -> None:
    from bank_node.jobs.runner import check_platform_part_key
    from models.secureboost.messages import SbFinalizeResponse

    platform = tmp_path / "platform"
    key = register_node_key(platform)
    try:
        path = platform / "models" / "part.json"
        digest = save_part(path, {"format": FORMAT, "format_version": 1})
        from models.part_signing import signature_fields

        fields = signature_fields(path)
        good = SbFinalizeResponse("m", digest, 1, **fields)
        sig, pub = verified_platform_signature(good)
        assert (sig, pub) == (fields["platform_signature"], fields["platform_key"])
        # a platform answering with a digest it did not sign
        forged = SbFinalizeResponse("m", "sha256:" + "1" * 64, 1, **fields)
        with pytest.raises(DataLoss):
            verified_platform_signature(forged)
        # the bank node pins the platform's key on first use and requires a signature
        bank = tmp_path / "bank"
        check_platform_part_key(bank, pub, sig)
        check_platform_part_key(bank, pub, sig)
        with pytest.raises(DataLoss):
            check_platform_part_key(bank, "", "")
        other = register_node_key(tmp_path / "other")
        from models.part_signing import public_hex

        with pytest.raises(DataLoss):
            check_platform_part_key(bank, public_hex(other.public_key()), sig)
        assert public_hex(key.public_key()) == pub
    finally:
        unregister_node_key(platform)
        unregister_node_key(tmp_path / "other")


def test_parts_saved_before_the_node_first_started_are_adopted_once(tmp_path: Path) -> None:
    """An upgrade (or a library run before the first start): parts whose digest verifies
    are signed when the directory first gets its key; a modified one is not, and after that
    first start an unsigned part is refused."""
    node = tmp_path / "node"
    good = node / "models" / "good.json"
    save_part(good, {"format": FORMAT, "format_version": 1, "base_score": 0.1})
    bad = node / "models" / "bad.json"
    save_part(bad, {"format": FORMAT, "format_version": 1, "base_score": 0.2})
    bad.write_text(bad.read_text().replace("0.2", "0.3"))
    register_node_key(node)
    try:
        assert part_signature(good) and not part_signature(bad)
        load_part(good, FORMAT)
        with pytest.raises(DataLoss):
            load_part(bad, FORMAT)
        # restarting does not adopt again: a part written meanwhile without the key is refused
        unregister_node_key(node)
        late = node / "models" / "late.json"
        save_part(late, {"format": FORMAT, "format_version": 1})
        register_node_key(node)
        with pytest.raises(DataLoss):
            load_part(late, FORMAT)
    finally:
        unregister_node_key(node)
