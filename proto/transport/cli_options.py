"""Command-line options every node's ``serve`` command takes."""

from __future__ import annotations

import argparse
from pathlib import Path


def add_serve_options(parser: argparse.ArgumentParser, node: str) -> None:
    """``--config FILE`` (the ``node``'s TOML config) and the plaintext test switch."""
    parser.add_argument("--config", type=Path, required=True, help=f"{node} TOML config")
    parser.add_argument(
        "--insecure-plaintext-for-tests",
        action="store_true",
        help="serve WITHOUT TLS, identities from test headers (tests only, never deploy)",
    )
