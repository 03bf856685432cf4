"""Render the feature dictionary (docs/features.md) from the feature definitions.

``python -m platform_node.features.dictionary > docs/features.md`` regenerates it; a test checks
that the committed file matches.
"""

from __future__ import annotations

from platform_node.catalogue.schema import CATEGORIES
from platform_node.features.definitions import FEATURES


def render() -> str:
    lines = [
        "# Feature dictionary",
        "",
        "Generated from `platform_node/features/definitions.py` (platform) and",
        "`bank_node/loanbook/features.py` (bank) by `python -m platform_node.features.dictionary`;",
        "do not edit by hand.",
        "",
        "Point-in-time rule: a feature for (USCC, as-of date) uses only records whose `event_date`",
        "is strictly before the as-of date. A window `3y` means records dated in",
        "`[as_of - 36 months, as_of)`; `at as-of` means the state on the as-of date (an entry",
        "counts as removed only if its removal date is before the as-of date); `latest` means",
        "the most recent record before the as-of date. Interface-call categories are filled only",
        "for enterprises that authorised the requesting bank, and are missing (NaN) otherwise.",
        "",
        f"Platform: {len(FEATURES)} features from "
        f"{len({f.category for f in FEATURES})} categories.",
        "",
        "| # | name | category | table | meaning | window |",
        "|---|---|---|---|---|---|",
    ]
    order = {c.key: c.number for c in CATEGORIES}
    for i, f in enumerate(sorted(FEATURES, key=lambda f: order[f.category]), start=1):
        cat = f"{order[f.category]} {f.category}"
        lines.append(f"| {i} | `{f.name}` | {cat} | `{f.table}` | {f.meaning} | {f.window} |")
    lines += _bank_section()
    return "\n".join(lines) + "\n"


def _bank_section() -> list[str]:
    # imported here: the bank's definitions are documented alongside but are not platform code
    from bank_node.loanbook.features import BANK_FEATURES
    from bank_node.loanbook.loader import APPLICATION_FEATURES

    lines = [
        "",
        "## Bank features",
        "",
        "Computed by the bank on its own data with the same point-in-time rule (account",
        "quarters that ended, loans applied and overdue events dated before the as-of date),",
        "plus the terms of the application being scored.",
        "",
        "| # | name | table | meaning | window |",
        "|---|---|---|---|---|",
    ]
    for i, f in enumerate(BANK_FEATURES, start=1):
        lines.append(f"| {i} | `{f.name}` | `{f.table}` | {f.meaning} | {f.window} |")
    meanings = {
        "app_product": "loan product (index in bank_node.loanbook.schema.PRODUCTS)",
        "app_amount": "amount applied for, 10k CNY",
        "app_term_months": "term in months",
        "app_collateral": "collateral (index in bank_node.loanbook.schema.COLLATERAL)",
        "app_amount_to_turnover": "amount over the last 12 months' money in",
    }
    start = len(BANK_FEATURES) + 1
    for i, name in enumerate(APPLICATION_FEATURES, start=start):
        lines.append(f"| {i} | `{name}` | `loans` | {meanings[name]} | at application |")
    return lines


if __name__ == "__main__":
    print(render(), end="")
