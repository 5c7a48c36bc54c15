"""Verdicts: what one check found (`CheckResult`) and what an audit concludes (`overall`)."""

from __future__ import annotations

import math
import sys
from dataclasses import dataclass, field
from typing import Any, Sequence

from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.files import plain

STABLE, FRAGILE, INCONCLUSIVE, NOT_BENIGN, ERROR = "stable", "fragile", "inconclusive", "not-benign", "error"


@dataclass
class CheckResult:
    """One check on one variant (or on the ladder): verdict, reason and the numbers behind it."""

    check: str
    variant: str
    verdict: str
    reason: str
    measure_exponent: Estimate | None = None
    error_exponent: Estimate | None = None
    base_measure_exponent: Estimate | None = None
    base_error_exponent: Estimate | None = None
    difference: Estimate | None = None
    tolerance: float | None = None
    details: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        def estimate(e: Estimate | None) -> Any:
            return None if e is None else e.to_dict()

        def interval(e: Estimate | None) -> Any:
            return None if e is None or not (math.isfinite(e.low) and math.isfinite(e.high)) else [e.low, e.high]

        return plain({
            "check": self.check, "variant": self.variant, "verdict": self.verdict, "reason": self.reason,
            "measure_exponent": None if self.measure_exponent is None else self.measure_exponent.value,
            "measure_exponent_ci": interval(self.measure_exponent),
            "error_exponent": None if self.error_exponent is None else self.error_exponent.value,
            "error_exponent_ci": interval(self.error_exponent),
            "base_measure_exponent": estimate(self.base_measure_exponent),
            "base_error_exponent": estimate(self.base_error_exponent),
            "difference": estimate(self.difference),
            "tolerance": self.tolerance,
            "details": self.details,
        })


def fmt(e: Estimate | None) -> str:
    """"-0.312 [-0.35, -0.27]" style text for reasons (no interval: says why)."""
    if e is None or not math.isfinite(e.value):
        return "n/a"
    if math.isfinite(e.low) and math.isfinite(e.high):
        return f"{e.value:+.3f} [{e.low:+.2f}, {e.high:+.2f}]"
    return f"{e.value:+.3f} [no interval: {e.n_seeds} seed(s)]"


def exp_ratio(log_ratio: float) -> float:
    """e^x for reasons and details: a ratio beyond the largest float is inf, not an OverflowError."""
    return math.exp(log_ratio) if log_ratio < math.log(sys.float_info.max) else math.inf


def overall(results: Sequence[CheckResult]) -> str:
    """fragile > error > inconclusive > stable over the checks of the measure.

    The benign rows judge the perturbations, not the measure, so they do not count; an
    audit in which nothing was judged (every perturbation not benign) is inconclusive.
    """
    verdicts = {r.verdict for r in results if r.check != "benign"}
    if FRAGILE in verdicts:
        return FRAGILE
    if ERROR in verdicts:
        return ERROR
    judged = verdicts - {NOT_BENIGN}
    if INCONCLUSIVE in verdicts or not judged:
        return INCONCLUSIVE
    return STABLE
