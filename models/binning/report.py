"""IV report: a table (pandas) and a bar chart (matplotlib, PNG, no display needed)."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

from models.binning.iv import FeatureIv, iv_strength


def iv_table(features: Sequence[FeatureIv], selected: Sequence[FeatureIv] = ()) -> Any:
    """One row per feature: party, name, group, bins, IV, strength, selected (IV descending)."""
    import pandas as pd

    chosen = {(f.party, f.index) for f in selected}
    rows = [
        {
            "party": f.party,
            "feature": f.name,
            "group": f.group,
            "n_bins": f.n_bins,
            "iv": f.iv,
            "strength": iv_strength(f.iv),
            "selected": (f.party, f.index) in chosen,
        }
        for f in features
    ]
    df = pd.DataFrame(
        rows, columns=["party", "feature", "group", "n_bins", "iv", "strength", "selected"]
    )
    return df.sort_values(["iv", "party", "feature"], ascending=[False, True, True]).reset_index(
        drop=True
    )


def woe_table(feature: FeatureIv) -> Any:
    """Per-bin detail of one feature: interval (bank features only), counts, WOE, IV part."""
    import pandas as pd

    st = feature.stats
    labels = feature.bin_labels or [f"bin {k}" for k in range(st.woe.size)]
    return pd.DataFrame(
        {
            "bin": labels[: st.woe.size],
            "total": st.totals.astype(int),
            "events": st.events.astype(int),
            "event_rate": st.events / st.totals.clip(min=1),
            "woe": st.woe,
            "iv": st.iv_bins,
        }
    )


def plot_iv(features: Sequence[FeatureIv], path: Path, top: int = 30) -> Path:
    """Horizontal IV bar chart of the ``top`` features, coloured by party, with the usual
    0.02 / 0.1 / 0.3 guide lines."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    ranked = sorted(features, key=lambda f: -f.iv)[:top]
    ranked.reverse()
    fig, ax = plt.subplots(figsize=(7, 0.3 * len(ranked) + 1.5))
    colours = ["#1f77b4" if f.party == "bank" else "#ff7f0e" for f in ranked]
    ax.barh([f"{f.name} ({f.party})" for f in ranked], [f.iv for f in ranked], color=colours)
    for x in (0.02, 0.1, 0.3):
        ax.axvline(x, color="grey", linestyle="--", linewidth=0.8)
    ax.set_xlabel("information value")
    ax.set_title("IV by feature (blue: bank, orange: platform)")
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
