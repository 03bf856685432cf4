"""``python -m platform_node.psi_cache {build,rotate,status} --config platform.toml``."""

from __future__ import annotations

import argparse
import json
import sys

from models.errors import FedCreditError
from models.psi.oprf_store import PlatformPsiCache
from platform_node.config import PlatformConfig
from platform_node.node import data_provider
from platform_node.psi_cache import build_cache, cache_root, status


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m platform_node.psi_cache")
    parser.add_argument("command", choices=["build", "rotate", "status"])
    parser.add_argument("--config", required=True)
    parser.add_argument("--dataset", default="catalogue")
    parser.add_argument("--param", action="append", default=[], help="KEY=VALUE session param")
    parser.add_argument("--id-format", choices=["uscc", "any"], default=None)
    parser.add_argument("--rotation-days", type=float, default=None, help="default: config")
    args = parser.parse_args(argv)
    try:
        from pathlib import Path

        config = PlatformConfig.load(Path(args.config))
        days = float(args.rotation_days or config.psi["key_rotation_days"])
        if args.command == "rotate":
            key = PlatformPsiCache(cache_root(config.data_dir)).rotate()
            print(json.dumps({"key_id": key.key_id}))
        elif args.command == "status":
            print(json.dumps(status(config.data_dir, days), indent=2))
        else:
            params = dict(p.split("=", 1) for p in args.param)
            config.compute.apply()  # blind on the platform's Ray cluster with compute = "ray"
            meta = build_cache(
                config.data_dir,
                data_provider(config),
                args.dataset,
                params=params,
                id_format=args.id_format,
                party=config.party,
                rotation_days=days,
            )
            print(
                json.dumps(
                    {
                        "key_id": meta.key_id,
                        "population_version": meta.population_version,
                        "n": meta.n,
                        "cache_bytes": meta.cache_bytes,
                        "build_seconds": meta.build_seconds,
                    }
                )
            )
    except (FedCreditError, ValueError, OSError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
