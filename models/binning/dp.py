"""Differentially private per-bin counts of platform features (option ``dp_epsilon``).

What is protected
    One company's platform record. Two platform tables are *neighbours* when they differ in
    the record of one company (its feature values change; a company without a platform
    record has every feature missing, so adding or removing a record is such a change too).
    The bank's labels and its choice of training rows are fixed (they are the bank's own
    data); the guarantee holds for any training rows and any labels in {0, 1}.

What is released
    Per platform feature ``j`` and bin ``k``: the event count ``e_jk`` and the non-event count
    ``g_jk`` (the bank reads them as the event count and the total ``n_jk = e_jk + g_jk``).

Sensitivity
    Changing one company's record moves it, in each feature, from one bin to another: one of
    ``e_j`` or ``g_j`` (the one of its label) loses 1 in a bin and gains 1 in another. The L1
    sensitivity of ``(e_j, g_j)`` is therefore :data:`SENSITIVITY` = 2 per feature, and
    ``2 d`` for all ``d`` platform features together.

Mechanism
    Independent discrete Laplace noise (two-sided geometric) with scale ``b = 2 / eps_j`` on
    every ``e_jk`` and every ``g_jk``, ``P(Z = z) = (1 - a) / (1 + a) a^|z|`` with
    ``a = exp(-1 / b)``: ``eps_j``-DP for feature ``j``. The job's ``epsilon`` is split equally
    over the platform's features, ``eps_j = epsilon / d``; by sequential composition the whole
    count release is ``epsilon``-DP. Samples come from the exact integer algorithm of Canonne,
    Kamath and Steinke ("The Discrete Gaussian for Differential Privacy", NeurIPS 2020,
    Algorithm 2): rational arithmetic and uniform integers only, no floating point, from a
    CSPRNG (:func:`secrets.randbelow`) unless a test injects a seeded source.

Bounded noise
    The noisy event counts travel as Paillier plaintext slots with a public offset
    ``2**NOISE_BITS``, so every draw must satisfy ``|Z| < 2**NOISE_BITS``; a draw outside is
    redrawn. :func:`check_epsilon` keeps the scale below ``2**MAX_SCALE_BITS``, where the
    probability of a redraw is below ``exp(-2**(NOISE_BITS - MAX_SCALE_BITS)) < 2**-1400``: the
    truncation changes the distribution by less than that (a ``delta`` far below any other
    failure probability of the system).

Post-processing (the bank)
    ``e = max(e~, 0)``, ``g = max(g~, 0)``, ``n = e + g``: counts are never negative and events
    never exceed totals. WOE, IV, the ``optimal`` merge and the selection are functions of the
    released counts and the bank's own data, so they keep the guarantee.
"""

from __future__ import annotations

import math
import secrets
from collections.abc import Mapping
from dataclasses import dataclass
from fractions import Fraction
from random import Random
from typing import Any, Protocol

import numpy as np

from models.errors import InvalidArgument

MECHANISM = "discrete-laplace"
SENSITIVITY = 2
NEIGHBOURING = "replace one company's platform record (labels and training rows fixed)"
#: Noisy slots carry ``value + 2**NOISE_BITS``; every draw satisfies ``|Z| < 2**NOISE_BITS``.
NOISE_BITS = 40
#: Largest admitted noise scale (keeps redraws at probability < 2**-1400).
MAX_SCALE_BITS = 30
#: The platform's default sanity range for the job's epsilon (node setting
#: ``binning_dp_epsilon_range`` narrows or widens it). Below the floor the counts are noise;
#: the ceiling is where the row-pinning attack (experiments/privacy/binning_counts.py) still
#: gains nothing measurable on default_credit (it does at epsilon = 10).
EPSILON_FLOOR = 0.01
EPSILON_CEILING = 5.0


class RandomSource(Protocol):
    """Uniform integers in ``[0, n)``; the platform's noise source."""

    def randbelow(self, n: int) -> int: ...


class SystemRandomSource:
    """The default: the operating system's CSPRNG through :func:`secrets.randbelow`."""

    def randbelow(self, n: int) -> int:
        return secrets.randbelow(n)


class SeededRandomSource:
    """A reproducible source for tests and experiments only (never a node's setting)."""

    def __init__(self, seed: int) -> None:
        self._rng = Random(seed)

    def randbelow(self, n: int) -> int:
        return self._rng.randrange(n)


def as_fraction(value: float) -> Fraction:
    """The decimal the caller wrote (``0.1`` -> 1/10), as an exact rational."""
    return Fraction(repr(float(value)))


def check_epsilon(
    epsilon: float,
    n_features: int,
    floor: float = EPSILON_FLOOR,
    ceiling: float = EPSILON_CEILING,
) -> Fraction:
    """Validate the proposed ``epsilon`` against the range and return the per-feature scale.

    Raises
    ------
    InvalidArgument
        ``epsilon`` outside ``[floor, ceiling]`` (or not finite), or so small for ``n_features``
        features that the noise would not fit its slots.
    """
    if not math.isfinite(epsilon) or not floor <= epsilon <= ceiling:
        raise InvalidArgument(
            f"dp_epsilon must lie in the platform's range [{floor:g}, {ceiling:g}]"
        )
    if n_features < 1:
        raise InvalidArgument("differential privacy needs at least one platform feature")
    scale = noise_scale(epsilon, n_features)
    if scale >= 2**MAX_SCALE_BITS:
        raise InvalidArgument("dp_epsilon is too small for this number of platform features")
    return scale


def epsilon_range(extras: Mapping[str, Any]) -> tuple[float, float]:
    """The node's ``binning_dp_epsilon_range`` setting, else the defaults."""
    rng = extras.get("binning_dp_epsilon_range")
    if rng is None:
        return EPSILON_FLOOR, EPSILON_CEILING
    lo, hi = (float(v) for v in rng)
    if not 0 < lo <= hi or not math.isfinite(hi):
        raise InvalidArgument("the node's binning_dp_epsilon_range is invalid")
    return lo, hi


def epsilon_per_feature(epsilon: float, n_features: int) -> Fraction:
    """``epsilon / d``: the equal split over the platform's features."""
    return as_fraction(epsilon) / n_features


def noise_scale(epsilon: float, n_features: int) -> Fraction:
    """Discrete Laplace scale ``b = SENSITIVITY / eps_j = 2 d / epsilon`` (exact)."""
    return Fraction(SENSITIVITY) / epsilon_per_feature(epsilon, n_features)


def noise_std(scale: Fraction | float) -> float:
    """Standard deviation of the discrete Laplace with scale ``b``: ``sqrt(2a) / (1 - a)``."""
    a = math.exp(-1.0 / float(scale))
    return math.sqrt(2.0 * a) / (1.0 - a)


def prob_zero(scale: Fraction | float) -> float:
    """``P(Z = 0) = (1 - a) / (1 + a)``: how often a noisy count equals the exact one."""
    a = math.exp(-1.0 / float(scale))
    return (1.0 - a) / (1.0 + a)


# ------------------------------------------------------------------ exact sampling (CKS 2020)
def _bernoulli(num: int, den: int, rng: RandomSource) -> bool:
    return rng.randbelow(den) < num


def _bernoulli_exp_unit(num: int, den: int, rng: RandomSource) -> bool:
    """Bernoulli(exp(-num/den)) for ``0 <= num/den <= 1`` (CKS Algorithm 1)."""
    k = 1
    while _bernoulli(num, den * k, rng):
        k += 1
    return k % 2 == 1


def _bernoulli_exp(num: int, den: int, rng: RandomSource) -> bool:
    """Bernoulli(exp(-num/den)) for any ``num/den >= 0``."""
    while num > den:
        if not _bernoulli_exp_unit(1, 1, rng):
            return False
        num -= den
    return _bernoulli_exp_unit(num, den, rng)


def _discrete_laplace(s: int, t: int, rng: RandomSource) -> int:
    """One draw with ``P(Y = y)`` proportional to ``exp(-|y| s / t)`` (CKS Algorithm 2)."""
    while True:
        u = rng.randbelow(t)
        if not _bernoulli_exp(u, t, rng):
            continue
        v = 0
        while _bernoulli_exp(1, 1, rng):
            v += 1
        y = (u + t * v) // s
        negative = rng.randbelow(2) == 1
        if negative and y == 0:
            continue
        return -y if negative else y


def sample_discrete_laplace(
    scale: Fraction, size: int, rng: RandomSource | None = None
) -> np.ndarray:
    """``size`` independent draws (int64) with ``P(Z = z) ~ exp(-|z| / scale)``, each
    ``|Z| < 2**NOISE_BITS``."""
    if scale <= 0 or scale >= 2**MAX_SCALE_BITS:
        raise InvalidArgument("the noise scale is out of range")
    src = rng if rng is not None else SystemRandomSource()
    t, s = scale.numerator, scale.denominator  # scale = t / s
    out = np.empty(int(size), dtype=np.int64)
    bound = 1 << NOISE_BITS
    for i in range(out.size):
        z = _discrete_laplace(s, t, src)
        while abs(z) >= bound:  # probability < 2**-1400 (module docstring)
            z = _discrete_laplace(s, t, src)
        out[i] = z
    return out


def postprocess_counts(
    events_raw: np.ndarray, nonevents_raw: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """Clamp noisy counts at zero: ``(events, totals)`` with ``0 <= events <= totals``."""
    e = np.maximum(np.asarray(events_raw, dtype=np.float64), 0.0)
    g = np.maximum(np.asarray(nonevents_raw, dtype=np.float64), 0.0)
    return e, e + g


@dataclass(frozen=True)
class DpRecord:
    """The differential-privacy statement of one count release (both parties keep it)."""

    epsilon: float
    n_features: int

    @property
    def epsilon_per_feature(self) -> float:
        return float(epsilon_per_feature(self.epsilon, self.n_features))

    @property
    def scale(self) -> float:
        return float(noise_scale(self.epsilon, self.n_features))

    def to_dict(self) -> dict[str, Any]:
        return {
            "epsilon": self.epsilon,
            "epsilon_per_feature": self.epsilon_per_feature,
            "n_features": self.n_features,
            "split": "equal over platform features (sequential composition)",
            "mechanism": MECHANISM,
            "sensitivity_l1_per_feature": SENSITIVITY,
            "noise_scale": self.scale,
            "noise_std": noise_std(self.scale),
            "neighbouring": NEIGHBOURING,
            "released": "per platform feature and bin: event and non-event counts",
            "applied_by": "platform",
        }

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> DpRecord:
        return cls(epsilon=float(data["epsilon"]), n_features=int(data["n_features"]))
