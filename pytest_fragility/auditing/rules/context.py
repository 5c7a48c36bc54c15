"""`Context`: what every rule reads: the curves, the measure's scale, the tolerances."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.curves import Curve
from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.stats import Scale
from pytest_fragility.spec.tolerances import Tolerances


@dataclass
class Context:
    """Curves of every variant, the measure's scale and the tolerances; estimates that several
    rules report are computed once."""

    curves: dict[str, Curve]
    scale: Scale
    tolerances: Tolerances
    input_shapes: dict[str, tuple[int, ...]] = field(default_factory=dict)  # per variant, where known
    level: float | None = None  # every interval's level: the tolerance's, or corrected for multiplicity
    shrink: float = 1.0  # how the audited form shrinks the raw measure's log-differences (½ in bound form)
    _memo: dict[tuple[str, ...], Estimate] = field(default_factory=dict, repr=False)

    def __post_init__(self) -> None:
        if self.level is None:
            self.level = self.tolerances.level

    def measure_trend(self, variant: str) -> Estimate:
        """The variant's measure trend (per-seed slopes against ln m)."""
        return self._once(("trend", "values", variant), lambda: stats.trend(
            self.curves[variant].m, self.curves[variant].values, self.scale, level=self.level))

    def error_trend(self, variant: str) -> Estimate:
        """The variant's test-error exponent."""
        return self._once(("trend", "test_error", variant), lambda: stats.trend(
            self.curves[variant].m, self.curves[variant].test_error, "positive", level=self.level))

    def exponent_difference(self, a: str, b: str, attribute: str = "values") -> Estimate:
        """Paired per-seed difference of the exponents (trends) of b and a."""
        def compute() -> Estimate:
            m, ca, cb = self.aligned(a, b, attribute)
            return stats.trend_difference(m, ca, cb, self._scale_of(attribute), level=self.level)
        return self._once(("exponent", attribute, a, b), compute)

    def level_difference(self, a: str, b: str, attribute: str = "values", level: float | None = None) -> Estimate:
        """Paired per-seed mean difference of b and a on the analysis scale (a log-ratio for
        positive values), at the audit's level unless `level` is given."""
        level = self.level if level is None else level

        def compute() -> Estimate:
            _, ca, cb = self.aligned(a, b, attribute)
            return stats.level_difference(ca, cb, self._scale_of(attribute), level=level)
        return self._once(("level", attribute, a, b, str(level)), compute)

    def unusable(self, variant: str) -> str | None:
        """Why a variant's curve cannot be judged (None when it can): no data, fewer than 2
        seeds, or more runs lost to training than `max_non_converged` allows."""
        curve = self.curves[variant]
        runs = curve.runs
        if runs.planned and runs.lost / runs.planned > self.tolerances.max_non_converged:
            return (f"{variant}: {runs.lost} of {runs.planned} runs lost to training ({runs.describe()}), "
                    f"more than {self.tolerances.max_non_converged:.0%}: the rest may be a biased sample")
        if curve.seeds_with_data < 2:
            return f"{variant}: no usable data ({runs.describe()}); an interval needs 2 seeds"
        return None

    def aligned(self, a: str, b: str, attribute: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Two variants' arrays on their common sizes and seeds (for paired statistics)."""
        ca, cb = self.curves[a], self.curves[b]
        sizes = np.array(sorted(set(ca.m.tolist()) & set(cb.m.tolist())), dtype=int)
        seeds = sorted(set(ca.seeds) & set(cb.seeds))

        def pick(curve: Curve) -> np.ndarray:
            rows = [curve.seeds.index(s) for s in seeds]
            columns = [curve.m.tolist().index(v) for v in sizes]
            return getattr(curve, attribute)[np.ix_(rows, columns)]

        return sizes, pick(ca), pick(cb)

    def _scale_of(self, attribute: str) -> Scale:
        return self.scale if attribute in ("values", "raw") else "positive"

    def _once(self, key: tuple[str, ...], compute) -> Estimate:  # type: ignore[no-untyped-def]
        if key not in self._memo:
            self._memo[key] = compute()
        return self._memo[key]
