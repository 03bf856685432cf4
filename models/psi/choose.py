"""Which PSI protocol a run uses: balanced ECDH-PSI or unbalanced (OPRF + cached population).

**Rule** (:func:`choose_protocol`, applied by the platform in the ``plan`` step of a
``"psi-auto"`` session, where it knows both sizes): unbalanced when

- ``n_passive >= min_ratio * n_active`` (default ``min_ratio = 10``), and
- ``n_passive >= min_passive`` (default 100,000), and
- the platform allows unbalanced PSI and has (or builds inline, for populations up to
  ``inline_build_max`` = 2,000,000 ids) a cache for its current key and population;

balanced otherwise. The bank may ask for ``"balanced"`` (always honoured) or
``"unbalanced"`` (honoured whenever the platform allows it and has a cache, whatever the
sizes).

Why 10 and 100,000: a balanced run costs about ``2 (n_active + n_passive)`` group
operations and ``64 (n_active + n_passive)`` bytes per run; an unbalanced run ``3 n_active``
operations and ``64 n_active`` bytes per run, plus ``n_passive`` operations once per key and
population version and a ~6.5-byte-per-id download once per version. At a ratio of 10 the
platform's set is >= 90% of a balanced run's work, so unbalanced cuts the online time >= 5x;
below it the saving is at most a few-fold while the cache's extra leakage (``docs/psi.md``:
offline re-testing of every id the bank has evaluated, for the key's lifetime) stays the
same, and below 100,000 platform ids a balanced run takes seconds anyway.
"""

from __future__ import annotations

from dataclasses import dataclass

from models.errors import InvalidArgument

AUTO_ALGORITHM = "psi-auto"
UPSI_VERSION = "fedcredit-upsi/1"
BALANCED = "balanced"
UNBALANCED = "unbalanced"
MODES = ("auto", BALANCED, UNBALANCED)

DEFAULT_MIN_RATIO = 10.0
DEFAULT_MIN_PASSIVE = 100_000
DEFAULT_INLINE_BUILD_MAX = 2_000_000
CACHE_CHUNK_BYTES = 4 * 1024 * 1024
"""Cache download chunk (one Exchange body; the transport splits it into 1 MiB frames)."""


@dataclass(frozen=True)
class ChoicePolicy:
    """The platform's settings for the choice (``context.extras``, see :meth:`from_extras`)."""

    min_ratio: float = DEFAULT_MIN_RATIO
    min_passive: int = DEFAULT_MIN_PASSIVE
    allow_unbalanced: bool = True
    inline_build_max: int = DEFAULT_INLINE_BUILD_MAX
    eval_budget_per_key: int = 0

    @classmethod
    def from_extras(cls, extras: dict[str, object]) -> ChoicePolicy:
        """Read ``psi_unbalanced`` (bool), ``psi_unbalanced_min_ratio``,
        ``psi_unbalanced_min_passive``, ``psi_cache_inline_build_max`` and
        ``psi_eval_budget_per_key`` (OPRF evaluations per bank and key, 0 = unlimited)."""

        def num(name: str, default: float) -> float:
            value = extras.get(name, default)
            if not isinstance(value, int | float) or isinstance(value, bool) or value < 0:
                raise InvalidArgument(f"{name} must be a non-negative number")
            return float(value)

        return cls(
            min_ratio=num("psi_unbalanced_min_ratio", DEFAULT_MIN_RATIO),
            min_passive=int(num("psi_unbalanced_min_passive", DEFAULT_MIN_PASSIVE)),
            allow_unbalanced=bool(extras.get("psi_unbalanced", True)),
            inline_build_max=int(num("psi_cache_inline_build_max", DEFAULT_INLINE_BUILD_MAX)),
            eval_budget_per_key=int(num("psi_eval_budget_per_key", 0)),
        )


def sizes_favour_unbalanced(n_active: int, n_passive: int, policy: ChoicePolicy) -> bool:
    """The size part of the rule: ``n_passive >= max(min_ratio * n_active, min_passive)``."""
    return n_passive >= policy.min_ratio * n_active and n_passive >= policy.min_passive


def choose_protocol(
    mode: str, n_active: int, n_passive: int, policy: ChoicePolicy, *, cache_ready: bool
) -> str:
    """``"balanced"`` or ``"unbalanced"`` by the rule in the module docstring.

    Raises
    ------
    InvalidArgument
        For an unknown mode.
    """
    if mode not in MODES:
        raise InvalidArgument("unknown PSI mode (expected 'auto', 'balanced' or 'unbalanced')")
    if mode == BALANCED or not policy.allow_unbalanced or not cache_ready:
        return BALANCED
    if mode == UNBALANCED:
        return UNBALANCED
    return UNBALANCED if sizes_favour_unbalanced(n_active, n_passive, policy) else BALANCED
