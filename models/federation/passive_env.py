"""What a platform-side protocol half reads from its node: the session's table, the policy on
sharing feature names, and where its model parts live."""

from __future__ import annotations

from pathlib import Path

from models.dataset import PartyTable
from models.federation.party import PassiveContext

#: Setting values that mean "yes" (node extras and dataset metadata are strings or booleans).
TRUE_FLAGS = frozenset({"1", "true", "yes", "allow"})


def session_table(context: PassiveContext) -> PartyTable:
    """The session's table: ``context.aligned_table()`` if the node attached one, else
    :meth:`PassiveContext.load_table`."""
    aligned = getattr(context, "aligned_table", None)
    return aligned() if callable(aligned) else context.load_table()


def names_allowed(context: PassiveContext, table: PartyTable) -> bool:
    """Whether feature names may go to the bank: the node's ``allow_feature_names`` setting
    (context extras) if set, else the dataset's ``allow_feature_names`` metadata."""
    flag = context.extras.get("allow_feature_names")
    if flag is None:
        flag = table.meta.get("allow_feature_names", "")
    return str(flag).lower() in TRUE_FLAGS


def models_dir(context: PassiveContext, kind: str) -> Path:
    """Where the platform keeps model parts of ``kind``.

    ``context.extras["models_dir"]/<kind>`` if the node sets it, else
    ``<data_dir>/models/<kind>`` (``state_dir`` is ``<data_dir>/jobs/<job_id>``).
    """
    extra = context.extras.get("models_dir")
    if extra:
        return Path(extra) / kind
    return Path(context.state_dir).parent.parent / "models" / kind
