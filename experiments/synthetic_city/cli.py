"""``fedcredit data generate --enterprises N --seed S --out DIR``: write a synthetic city.

The ``data`` command of ``fedcredit`` lives here, with the generator, so that neither node
imports the experiments: ``bank_node.cli.main`` names this module in its command table and
imports it only when ``fedcredit data`` runs.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import sys
import time
from pathlib import Path

from experiments.synthetic_city.city import DEFAULT_AS_OF, generate_city
from models.errors import FedCreditError


def add_parser(sub: argparse._SubParsersAction) -> None:
    """Add ``fedcredit data generate`` to the ``fedcredit`` command line."""
    p = sub.add_parser("data", help="data sets: the synthetic city")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    gen = dsub.add_parser(
        "generate",
        help="write DIR/platform/, DIR/bank/ and DIR/data_card.json for a synthetic city",
    )
    add_arguments(gen)
    gen.set_defaults(func=run)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--enterprises", type=int, default=2000, help="number of enterprises")
    parser.add_argument("--seed", type=int, default=0, help="random seed (deterministic output)")
    parser.add_argument("--out", type=Path, required=True, help="output directory")
    parser.add_argument(
        "--as-of",
        type=dt.date.fromisoformat,
        default=DEFAULT_AS_OF,
        help="as-of date YYYY-MM-DD (default %(default)s)",
    )
    parser.add_argument("--bank-party", default="bank-a", help="bank that applicants authorise")
    parser.add_argument(
        "--default-rate", type=float, default=0.045, help="target default rate (0.02-0.08)"
    )
    parser.add_argument("--threads", type=int, default=2, help="threads for DuckDB and LightGBM")
    parser.add_argument("--overwrite", action="store_true", help="replace an existing city")


def run(args: argparse.Namespace) -> int:
    start = time.perf_counter()
    try:
        card = generate_city(
            args.enterprises,
            args.seed,
            args.out,
            as_of=args.as_of,
            bank_party=args.bank_party,
            target_default_rate=args.default_rate,
            overwrite=args.overwrite,
            threads=args.threads,
        )
    except FedCreditError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    keys = ["enterprises", "loans", "modelling_rows", "default_rate", "auc_bank_only", "auc_joint"]
    summary = {k: card[k] for k in keys}
    summary["rejected_invalid_codes"] = card["rejected_invalid_codes_total"]
    summary["seconds"] = round(time.perf_counter() - start, 1)
    print(json.dumps(summary))
    print(f"wrote {args.out}/platform, {args.out}/bank and {args.out}/data_card.json")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="fedcredit data generate", description=__doc__)
    add_arguments(parser)
    return run(parser.parse_args(argv))


if __name__ == "__main__":
    raise SystemExit(main())
