"""Issue 15 problem 2 and issue 14 row 12: every score carries an officer's identity, approvers
and operators come from certificates or the OS account, and identity errors are clear messages
with distinct exit codes, never tracebacks."""

from __future__ import annotations

import shutil
import socket
from pathlib import Path

import pytest

from bank_node.cli.main import EXIT_REFUSED, EXIT_UNAVAILABLE, EXIT_USAGE, main
from experiments.support.grpc_harness import shared_pki
from models.errors import InvalidArgument, PermissionDenied, Unauthenticated
from proto.transport.local_identity import certified_person, operator_identity, os_account
from proto.transport.pki import init_pki, issue
from proto.transport.tls import cert_fingerprint


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@pytest.fixture
def bank_toml(tmp_path: Path) -> Path:
    path = tmp_path / "bank.toml"
    path.write_text(
        f'[bank]\nparty = "bank-a"\nlisten = "127.0.0.1:{_free_port()}"\n'
        f'data_dir = "{tmp_path / "bank"}"\npki_dir = "{shared_pki()}"\n'
        f'platform_target = "127.0.0.1:{_free_port()}"\n'
    )
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str]:
    capsys.readouterr()
    code = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err


def test_certified_person_checks_key_ca_role_and_bank(tmp_path: Path) -> None:
    pki = shared_pki()
    ca = pki / "ca.pem"
    head = certified_person(pki / "head-of-risk", ca, roles=("approver",), organisation="bank-a")
    assert head.party == "bank-a/head-of-risk" and head.role == "approver"
    assert head.cert_fingerprint == cert_fingerprint(pki / "head-of-risk" / "cert.pem")
    with pytest.raises(PermissionDenied, match="role approver"):
        certified_person(pki / "alice", ca, roles=("approver",))
    with pytest.raises(PermissionDenied, match="does not belong to bank-b"):
        certified_person(pki / "alice", ca, roles=("officer",), organisation="bank-b")
    with pytest.raises(InvalidArgument, match="certificate directory not found"):
        certified_person(tmp_path / "nope", ca, roles=("officer",))
    # a copy of alice's certificate with someone else's key: no proof of possession
    forged = tmp_path / "forged"
    forged.mkdir()
    shutil.copy(pki / "alice" / "cert.pem", forged / "cert.pem")
    with pytest.raises(InvalidArgument, match="private key not found"):
        certified_person(forged, ca, roles=("officer",))
    shutil.copy(pki / "head-of-risk" / "key.pem", forged / "key.pem")
    with pytest.raises(Unauthenticated, match="does not belong"):
        certified_person(forged, ca, roles=("officer",))
    (forged / "cert.pem").write_text("not a certificate")
    with pytest.raises(InvalidArgument, match="not a PEM certificate"):
        certified_person(forged, ca, roles=("officer",))
    # an approver certificate from another CA
    other = tmp_path / "other-pki"
    init_pki(other, ["bank-a"])
    issue(other, "mallory", "approver", organisation="bank-a")
    with pytest.raises(Unauthenticated, match="not issued by the CA"):
        certified_person(other / "mallory", ca, roles=("approver",), organisation="bank-a")


def test_score_needs_an_officer_certificate(
    bank_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = shared_pki()
    base = ("score", "--config", bank_toml, "--uscc", "91410100MA3X6Y7W8Q")
    code, text = _run(capsys, *base)  # before: scored as the bank node itself
    assert code == EXIT_REFUSED and "--cert-dir" in text and "officer" in text
    code, text = _run(capsys, *base, "--cert-dir", pki / "bank-a")  # the node's own cert
    assert code == EXIT_REFUSED and "role officer" in text
    code, text = _run(capsys, *base, "--cert-dir", pki / "no-such-officer")
    assert code == EXIT_USAGE and "certificate directory not found" in text
    assert str(pki / "no-such-officer") in text
    # a valid officer, but nothing listens: unavailable (4), not a usage error
    code, text = _run(capsys, *base, "--cert-dir", pki / "alice", "--timeout", "1")
    assert code == EXIT_UNAVAILABLE and "unavailable" in text


def test_promote_needs_an_approver_certificate(
    bank_toml: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    pki = shared_pki()
    base = ("model", "promote", "sme", "1", "--alias", "champion", "--config", bank_toml)
    with pytest.raises(SystemExit) as exit_info:  # free text is no longer accepted
        main([str(a) for a in base] + ["--approver", "bank-a/cro"])
    assert exit_info.value.code == EXIT_USAGE
    code, text = _run(capsys, *base, "--cert-dir", pki / "alice")
    assert code == EXIT_REFUSED and "role approver" in text
    code, text = _run(capsys, *base, "--cert-dir", pki / "missing")
    assert code == EXIT_USAGE and str(pki / "missing") in text
    # refused before anything was written: no MLflow store was created
    assert not (bank_toml.parent / "bank" / "mlflow").exists()


def test_operators_are_the_os_account(tmp_path: Path) -> None:
    with pytest.raises(SystemExit):  # the free-text --operator flag is gone
        main(["consent", "grant", "--config", "x.toml", "--uscc", "u", "--bank", "b",
              "--operator", "platform/bank-b/evil"])  # fmt: skip
    with pytest.raises(SystemExit):
        main(["audit", "rotate-key", "--config", "x.toml", "--operator", "evil"])
    who = operator_identity("platform", shared_pki() / "platform" / "cert.pem")
    assert who.party == f"platform/{os_account()}" and who.role == "operator"
    assert who.cert_fingerprint == cert_fingerprint(shared_pki() / "platform" / "cert.pem")
