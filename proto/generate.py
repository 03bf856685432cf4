"""Regenerate the Python code for every .proto under proto/fedcredit (one script, reproducible).

Usage: ``python proto/generate.py [--out DIR]``. Without ``--out`` the generated modules are
written next to their .proto sources (and checked in). ``tests/test_proto_drift.py`` runs this
into a temporary directory and fails if the checked-in code differs.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent


def proto_sources() -> list[Path]:
    return sorted((ROOT / "proto" / "fedcredit").rglob("*.proto"))


def generate(out_dir: Path) -> list[Path]:
    """Compile all sources into ``out_dir`` (mirroring ``proto/fedcredit/...``)."""
    import grpc_tools
    from grpc_tools import protoc  # dev dependency, imported lazily

    include = Path(grpc_tools.__file__).parent / "_proto"
    out_dir.mkdir(parents=True, exist_ok=True)
    sources = [str(p.relative_to(ROOT)) for p in proto_sources()]
    args = [
        "protoc",
        f"-I{ROOT}",
        f"-I{include}",
        f"--python_out={out_dir}",
        f"--pyi_out={out_dir}",
        f"--grpc_python_out={out_dir}",
        *sources,
    ]
    code = protoc.main(args)
    if code != 0:
        raise SystemExit(f"protoc failed with exit code {code}")
    return sorted((out_dir / "proto" / "fedcredit").rglob("*_pb2*.py*"))


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", type=Path, default=ROOT)
    args = parser.parse_args(argv)
    files = generate(args.out)
    print(f"generated {len(files)} files", file=sys.stderr)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
