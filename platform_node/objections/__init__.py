"""Objections (异议申诉) and credit repair (信用修复) against the platform's records."""

from platform_node.objections.store import (
    ACTIONS,
    KINDS,
    OPEN_STATES,
    REPAIRABLE_TABLES,
    Objection,
    ObjectionStore,
    Step,
)

__all__ = [
    "ACTIONS", "KINDS", "OPEN_STATES", "REPAIRABLE_TABLES", "Objection", "ObjectionStore", "Step",
]  # fmt: skip
