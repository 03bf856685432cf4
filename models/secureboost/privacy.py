"""Privacy modes of SecureBoost training (``privacy = "standard" | "hardened" | "strict"``).

Three things leak in the original protocol (``standard``), measured by the attacks in
``experiments/privacy/secureboost_*.py``:

- the platform receives the row set of every node it builds a histogram for, so it can group
  the training rows by the bank's splits and infer labels (FATE issue #1171);
- the bank decrypts exact (g, h) sums per (node, platform feature, bin), from which it recovers
  bin row counts (exactly in the first tree, whose hessian is constant) and pins rows to bins;
- the platform learns which way every row went at every bank split.

A :class:`PrivacyPolicy` fixes how a training run counters them:

``hide_membership``
    Node membership never reaches the platform: per level the bank sends one fresh ciphertext
    for *every* training row, holding that row's packed (g, h) in the slot of its node (zero
    for rows of nodes that are not built), the platform sums per (feature, bin) over all rows
    and applies a chosen split to all rows (see :mod:`models.secureboost.hidden`).
``bank_only_every``, ``platform_depth``
    The tree schedule: trees ``t`` with ``t % bank_only_every == 0`` use the bank's features
    only (the platform takes no part in them, and tree 0, whose constant hessian makes every
    hessian sum a row count, is one of them); in the other trees platform features are split
    on only at depths ``< platform_depth``, where nodes are large.
``noise_g``, ``noise_h``
    Standard deviations (in gradient and hessian units) of the Gaussian noise the *platform*
    adds to every encrypted bin sum it returns, so that the bank cannot recover a count.

``hardened`` (the default) hides membership, builds every other tree on the bank's features
and lets the others split on platform features at depths 0-2; ``strict`` keeps platform
features to depths 0-1 and adds 1.5 times the hessian noise (see :data:`POLICIES`). Both hide
membership completely; ``strict`` also leaves the bank fewer platform cuts, hence fewer go-left
bits of training rows, and noisier counts. (Hiding membership at every level of every tree,
the standard algorithm's structure, was measured too and is not offered: the platform must
then answer every platform split for every training row, which pins every training row's bin
of every platform feature for the bank; docs/secureboost.md.)

The reference (:class:`~models.secureboost.reference.SecureBoostReference`) runs the same
schedule, so a run without noise reproduces it tree for tree; the noise is the only
difference. The platform enforces the policy of the mode a session declares (and may demand a
minimum mode); the bank cannot switch the noise off.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Any

from models.errors import InvalidArgument
from models.secureboost.tree import MAX_DEPTH

STANDARD = "standard"
HARDENED = "hardened"
STRICT = "strict"
#: Weakest first: a platform that demands a mode accepts it and every mode after it.
PRIVACY_MODES = (STANDARD, HARDENED, STRICT)
#: The estimator's default (its cost is measured in ``experiments/bench_secureboost.py``).
DEFAULT_PRIVACY = HARDENED
#: The platform clips each noise draw at this many standard deviations (so the packed sums
#: keep a fixed headroom; a draw beyond 8 sigma has probability ~1e-15).
NOISE_CLIP_SIGMAS = 8.0
#: The largest factor by which a platform may scale its mode's noise (the bank's packing
#: keeps room for noise this large).
MAX_NOISE_SCALE = 4.0


@dataclass(frozen=True)
class PrivacyPolicy:
    """How one privacy mode trains (see the module docstring)."""

    mode: str
    hide_membership: bool
    bank_only_every: int
    platform_depth: int
    noise_g: float
    noise_h: float

    @property
    def routes_validation(self) -> bool:
        """Whether validation rows are routed through every tree during training (per-tree
        validation metrics and early stopping); hidden-membership modes score them once, at
        the end, by the estimator's own prediction."""
        return not self.hide_membership

    @property
    def noisy(self) -> bool:
        return self.noise_g > 0 or self.noise_h > 0

    def tree_uses_platform(self, tree: int) -> bool:
        """Whether tree ``tree`` may split on platform features at all."""
        return not (self.bank_only_every and tree % self.bank_only_every == 0)

    def level_uses_platform(self, tree: int, depth: int) -> bool:
        """Whether nodes at ``depth`` of tree ``tree`` may split on platform features."""
        return self.tree_uses_platform(tree) and depth < self.platform_depth

    def noise_margin_rows(self) -> int:
        """Headroom, in rows, that the packing layout keeps for the platform's noise: a row adds
        at most 1 to a gradient sum and 1/4 to a hessian sum."""
        if not self.noisy:
            return 0
        bound = MAX_NOISE_SCALE * NOISE_CLIP_SIGMAS * max(self.noise_g, 4.0 * self.noise_h)
        return math.ceil(bound) + 1

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)


POLICIES: dict[str, PrivacyPolicy] = {
    STANDARD: PrivacyPolicy(STANDARD, False, 0, MAX_DEPTH + 1, 0.0, 0.0),
    HARDENED: PrivacyPolicy(HARDENED, True, 2, 3, 0.4, 4.0),
    STRICT: PrivacyPolicy(STRICT, True, 2, 2, 0.4, 6.0),
}


def policy_for(mode: str) -> PrivacyPolicy:
    """The policy of a mode name; :class:`InvalidArgument` for an unknown one."""
    try:
        return POLICIES[str(mode)]
    except KeyError:
        raise InvalidArgument("privacy must be 'standard', 'hardened' or 'strict'") from None


def at_least(mode: str, minimum: str) -> bool:
    """Whether ``mode`` is ``minimum`` or stricter."""
    policy_for(mode)
    policy_for(minimum)
    return PRIVACY_MODES.index(mode) >= PRIVACY_MODES.index(minimum)


def with_noise_scale(policy: PrivacyPolicy, scale: float) -> PrivacyPolicy:
    """The policy with the platform's noise multiplied by ``scale`` (the platform's own setting,
    between 0 and :data:`MAX_NOISE_SCALE`: more noise, or none to reproduce the reference)."""
    if not math.isfinite(scale) or not 0 <= scale <= MAX_NOISE_SCALE:
        raise InvalidArgument("the noise scale must be between 0 and 4")
    return PrivacyPolicy(
        policy.mode,
        policy.hide_membership,
        policy.bank_only_every,
        policy.platform_depth,
        policy.noise_g * scale,
        policy.noise_h * scale,
    )


#: Version of the training protocol whose leakage :data:`MEASURED` describes (2: privacy modes).
PROTOCOL_VERSION = 2

#: What the attacks in ``experiments/privacy/secureboost_*.py`` measured for each mode of this
#: protocol version (default_credit, defaults, 2048-bit keys; see docs/secureboost.md). Copied
#: into every model part, model card and MLflow run, so a regulator sees the figures that apply.
MEASURED: dict[str, dict[str, float]] = {
    STANDARD: {
        "label_inference_auc": 0.7898,  # platform, oracle, whole run (best single tree 0.7656)
        "bank_split_decisions_known": 0.7165,  # platform: share of (bank split, row) sides
        "bin_count_median_rel_error": 0.0242,  # bank's best count estimates (higher: safer)
        "bin_counts_exact": 0.0396,  # share of non-empty cells the bank knows exactly
        "bin_pinned": 0.4274,  # (row, platform feature) pairs pinned to one bin by the bank
        "bin_pinned_by_split_bits": 0.2858,  # of which the go-left bits alone
        "split_choice_auc": 0.7585,  # platform, from its chosen cuts (random cuts: 0.7385)
        "test_auc": 0.7871,
        "test_auc_reference": 0.7871,
    },
    HARDENED: {
        "label_inference_auc": 0.5,
        "bank_split_decisions_known": 0.0,
        "bin_count_median_rel_error": 0.1429,
        "bin_counts_exact": 0.0,
        "bin_pinned": 0.4203,
        "bin_pinned_by_split_bits": 0.4203,
        "split_choice_auc": 0.7575,  # random cuts: 0.7287
        "test_auc": 0.7871,
        "test_auc_reference": 0.7881,
    },
    STRICT: {
        "label_inference_auc": 0.5,
        "bank_split_decisions_known": 0.0,
        "bin_count_median_rel_error": 0.1307,
        "bin_counts_exact": 0.0,
        "bin_pinned": 0.0842,
        "bin_pinned_by_split_bits": 0.0842,
        "split_choice_auc": 0.7541,  # random cuts: 0.7113
        "test_auc": 0.7855,
        "test_auc_reference": 0.7863,
    },
}
MEASURED_ON = (
    "default_credit (24,000 training rows), 50 trees of depth 5, 32 bins, 2048-bit keys; "
    "experiments/privacy/secureboost_{bincount,labels,paths}.py"
)


def privacy_record(mode: str) -> dict[str, Any]:
    """The privacy section of a model part and model card: mode, policy, measured figures."""
    policy = policy_for(mode)
    return {
        "mode": policy.mode,
        "protocol_version": PROTOCOL_VERSION,
        "policy": policy.to_dict(),
        "measured": dict(MEASURED.get(policy.mode, {})),
        "measured_on": MEASURED_ON,
    }
