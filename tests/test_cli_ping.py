"""Issue 15 problem 4: a working ``bank ping`` and TLS mismatches reported as configuration
errors (exit code 2, at once), not retried as transient failures ending in a raw gRPC message."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from bank_node.cli.main import EXIT_OK, EXIT_UNAVAILABLE, EXIT_USAGE, main
from experiments.support.grpc_harness import shared_pki, start_platform
from platform_node.data_provider import PlatformDataProvider, ServedTable
from platform_node.server import RunningServer


@pytest.fixture(scope="module")
def platform(
    tmp_path_factory: pytest.TempPathFactory, shared_data: Path
) -> Iterator[RunningServer]:
    tmp = tmp_path_factory.mktemp("ping")
    data = PlatformDataProvider(
        tmp / "platform",
        {"breast": ServedTable(path=shared_data / "breast_hetero_host.csv", id_column="id")},
    )
    server = start_platform(tmp, data)
    yield server
    server.stop(0.2)


def _bank_toml(tmp_path: Path, port: int, platform_name: str = "platform") -> Path:
    path = tmp_path / "bank.toml"
    path.write_text(
        f'[bank]\nparty = "bank-a"\ndata_dir = "{tmp_path / "bank"}"\npki_dir = "{shared_pki()}"\n'
        f'platform_target = "127.0.0.1:{port}"\nplatform_name = "{platform_name}"\n'
    )
    return path


def _run(capsys: pytest.CaptureFixture[str], *argv: object) -> tuple[int, str, float]:
    capsys.readouterr()
    t0 = time.perf_counter()
    code = main([str(a) for a in argv])
    elapsed = time.perf_counter() - t0
    out, err = capsys.readouterr()
    assert "Traceback" not in out + err
    return code, out + err, elapsed


def test_bank_ping_describes_the_platform(
    platform: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _bank_toml(tmp_path, platform.port)
    code, text, _ = _run(capsys, "bank", "ping", "--config", cfg, "--dataset", "breast")
    assert code == EXIT_OK, text
    assert "health SERVING" in text and "rows=569" in text
    code, text, _ = _run(capsys, "bank", "ping", "--config", cfg, "--as-of", "01/02/2022")
    assert code == EXIT_USAGE and "--as-of must be a date" in text


def test_tls_name_mismatch_is_a_configuration_error(
    platform: RunningServer, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    cfg = _bank_toml(tmp_path, platform.port, platform_name="bank-b")  # the wrong name
    code, text, elapsed = _run(capsys, "bank", "ping", "--config", cfg, "--dataset", "breast")
    assert code == EXIT_USAGE, text
    assert "TLS configuration" in text and "platform_name" in text
    assert "failed to connect" not in text  # not the raw gRPC message
    assert elapsed < 15.0  # no rounds of "transient" retries with backoff


def test_unreachable_platform_is_unavailable(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = int(s.getsockname()[1])
    cfg = _bank_toml(tmp_path, port)
    code, text, _ = _run(capsys, "bank", "ping", "--config", cfg, "--dataset", "breast")
    assert code == EXIT_UNAVAILABLE and "health no answer" in text
