"""``fedcredit data generate``: a synthetic city (platform catalogue + bank loan book)."""

from __future__ import annotations

import argparse


def add_parser(sub: argparse._SubParsersAction) -> None:
    from experiments.synthetic_city.cli import add_arguments, run

    p = sub.add_parser("data", help="data sets: the synthetic city")
    dsub = p.add_subparsers(dest="data_cmd", required=True)
    gen = dsub.add_parser(
        "generate",
        help="write DIR/platform/, DIR/bank/ and DIR/data_card.json for a synthetic city",
    )
    add_arguments(gen)
    gen.set_defaults(func=run)
