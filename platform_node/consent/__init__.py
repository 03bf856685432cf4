"""Consent registry of the platform (see :mod:`platform_node.consent.registry`).

Usage::

    registry = ConsentRegistry.in_data_dir(platform_data_dir, audit_log, actor=operator)
    registry.grant(uscc, "bank-a", "scoring", expires_at)
    record = registry.check(uscc, caller.party, "scoring")   # or PermissionDenied
    registry.revoke(uscc, "bank-a")
"""

from platform_node.consent.registry import SCOPES, ConsentRecord, ConsentRegistry

__all__ = ["SCOPES", "ConsentRecord", "ConsentRegistry"]
