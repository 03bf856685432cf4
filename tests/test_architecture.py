"""Structural rules: models/ stays transport-free; the nodes never import the experiments, and
the experiments never import the tests; no package has an import cycle; generated code matches
the .proto sources; every wire message has its protobuf twin."""

from __future__ import annotations

import ast
import dataclasses
import filecmp
import importlib
import pkgutil
import subprocess
import sys
from pathlib import Path

import pytest

import models
from models.federation.messages import registered_messages

ROOT = Path(__file__).resolve().parent.parent
FORBIDDEN = ("grpc", "google.protobuf", "proto", "platform_node", "bank_node")


def _imports(path: Path) -> list[str]:
    tree = ast.parse(path.read_text(), filename=str(path))
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names.append(node.module)
    return names


def test_models_import_no_transport() -> None:
    offenders = []
    for path in (ROOT / "models").rglob("*.py"):
        for name in _imports(path):
            if any(name == f or name.startswith(f + ".") for f in FORBIDDEN):
                offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


def _runtime_imports(path: Path) -> list[str]:
    """Modules ``path`` imports when it runs (``if TYPE_CHECKING:`` blocks left out; imports
    inside functions included), with ``from a import b`` counted as ``a`` and ``a.b``."""
    tree = ast.parse(path.read_text(), filename=str(path))
    for node in ast.walk(tree):
        if isinstance(node, ast.If) and "TYPE_CHECKING" in ast.unparse(node.test):
            node.body = []
    names: list[str] = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            names += [a.name for a in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            names += [node.module, *(f"{node.module}.{a.name}" for a in node.names)]
    return names


def _module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


NODE_PACKAGES = ("models", "proto", "platform_node", "bank_node")


def test_nodes_import_no_experiments_and_experiments_no_tests() -> None:
    """Issue 15: ``bank_node`` imported the synthetic-city generator and the benchmarks and
    attacks imported support modules from ``tests``."""
    offenders = []
    for package, forbidden in [*((p, ("experiments", "tests")) for p in NODE_PACKAGES),
                               ("experiments", ("tests",))]:  # fmt: skip
        for path in (ROOT / package).rglob("*.py"):
            for name in _runtime_imports(path):
                if any(name == f or name.startswith(f + ".") for f in forbidden):
                    offenders.append(f"{path.relative_to(ROOT)}: {name}")
    assert offenders == []


@pytest.mark.parametrize("package", [*NODE_PACKAGES, "experiments"])
def test_no_import_cycles(package: str) -> None:
    """Issue 15: cycles such as binning/active <-> binning/report and crypto/paillier <->
    parallel <-> histogram were broken; none may come back (imports inside functions count)."""
    modules = {_module_name(p): p for p in (ROOT / package).rglob("*.py")}
    graph = {
        m: {t for t in _runtime_imports(p) if t in modules and t != m} for m, p in modules.items()
    }
    cycles = []
    for start in graph:  # a module that reaches itself is on a cycle
        seen: set[str] = set()
        todo = list(graph[start])
        while todo:
            m = todo.pop()
            if m == start:
                cycles.append(start)
                break
            if m not in seen:
                seen.add(m)
                todo.extend(graph[m])
    assert cycles == []


def test_models_import_at_runtime_without_grpc() -> None:
    code = (
        "import sys, pkgutil, importlib, models\n"
        "for m in pkgutil.walk_packages(models.__path__, 'models.'):\n"
        "    importlib.import_module(m.name)\n"
        "bad = [m for m in sys.modules\n"
        "       if m == 'grpc' or m.startswith(('grpc.', 'google.protobuf'))]\n"
        "assert not bad, bad\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, cwd=ROOT)


def test_generated_code_is_up_to_date(tmp_path: Path) -> None:
    # in a subprocess: grpc_tools' protoc and tenseal must not share one process
    subprocess.run(
        [sys.executable, str(ROOT / "proto" / "generate.py"), "--out", str(tmp_path)],
        check=True,
        cwd=ROOT,
    )
    fresh = sorted((tmp_path / "proto" / "fedcredit").rglob("*_pb2*.py*"))
    checked_in = sorted((ROOT / "proto" / "fedcredit").rglob("*_pb2*.py*"))
    assert [p.relative_to(tmp_path) for p in fresh] == [p.relative_to(ROOT) for p in checked_in]
    stale = [
        str(p.relative_to(tmp_path))
        for p in fresh
        if not filecmp.cmp(p, ROOT / p.relative_to(tmp_path), shallow=False)
    ]
    assert stale == [], "run `make proto` (python proto/generate.py) and commit the result"


def test_every_wire_message_has_a_protobuf_twin() -> None:
    for info in pkgutil.walk_packages(models.__path__, "models."):
        importlib.import_module(info.name)
    from proto.transport.codec import proto_class

    for name, cls in registered_messages().items():
        desc = proto_class(name).DESCRIPTOR
        py_fields = {f.name for f in dataclasses.fields(cls)}  # type: ignore[arg-type]
        pb_fields = set(desc.fields_by_name)
        assert py_fields == pb_fields, f"{name}: {py_fields ^ pb_fields}"
