"""Three-way decisions of an interval against a tolerance band, and how they read.

An effect is shown when the whole interval lies beyond ±tolerance, equivalence when it
lies inside; anything else is undecided, and the reason says about how many seeds would
decide it, from the spread the seeds showed.
"""

from __future__ import annotations

import math

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, STABLE

LARGEST_EXPONENT = 700.0  # e^700 ≈ 1e304: beyond it a ratio is shown as a power of e


def decide(estimate: Estimate, tolerance: float) -> str:
    """FRAGILE when the interval is beyond ±tolerance, STABLE when within, else INCONCLUSIVE."""
    if estimate.beyond(tolerance):
        return FRAGILE
    if estimate.within(tolerance):
        return STABLE
    return INCONCLUSIVE


def undecided(estimate: Estimate, tolerance: float) -> str:
    """Why an interval does not decide against ±tolerance, and what more data would do."""
    if not math.isfinite(estimate.value):
        return "no data to estimate it"
    if not estimate.has_interval:
        return f"no interval: {estimate.n_seeds} seed(s) with data, an interval needs 2"
    margin = abs(abs(estimate.value) - tolerance)
    needed = stats.seeds_for_half_width(estimate, margin)
    more = f"about {needed} seeds would decide it" if needed else "more seeds would narrow it"
    return f"the interval straddles ±{tolerance:.3g} ({more}; this budget has {estimate.n_seeds})"


def unresolved_sign(estimate: Estimate) -> str:
    """Why a sign is not known, and what more data would do."""
    if not estimate.has_interval:
        return undecided(estimate, 0.0)
    if estimate.se == 0:
        return "every seed gives exactly this value, so there is no sign to resolve"
    needed = stats.seeds_for_half_width(estimate, abs(estimate.value))
    more = f"about {needed} seeds would resolve it" if needed else "more seeds would narrow it"
    return f"the interval contains 0 ({more}; this budget has {estimate.n_seeds})"


def ratio(log_ratio: float) -> str:
    """A log-ratio as the audit prints it: ×1.52 (or ×e^812 where the ratio overflows)."""
    if not math.isfinite(log_ratio):
        return "n/a"
    if abs(log_ratio) > LARGEST_EXPONENT:
        return f"×e^{log_ratio:.0f}"
    return f"×{math.exp(log_ratio):.3g}"


def ratio_interval(estimate: Estimate) -> str:
    """"×1.04 [×1.01, ×1.07]" for a log-ratio estimate."""
    text = ratio(estimate.value)
    return f"{text} [{ratio(estimate.low)}, {ratio(estimate.high)}]" if estimate.has_interval else text
