"""`Context`: what every rule reads: the curves, the measure's scale, the tolerances."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import numpy as np

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.curves import Curve
from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.stats import Scale
from pytest_fragility.spec.tolerances import Tolerances


@dataclass
class Context:
    """Curves of every variant, the measure's scale, tolerances and the bootstrap seed."""

    curves: dict[str, Curve]
    scale: Scale
    tolerances: Tolerances
    seed: int = 0
    _trends: dict[tuple[str, str], Estimate] = field(default_factory=dict, repr=False)

    def boot(self) -> dict[str, Any]:
        return {"level": self.tolerances.level, "n_boot": int(self.tolerances.n_boot), "seed": self.seed}

    def measure_trend(self, variant: str) -> Estimate:
        """The variant's measure trend (computed once: several checks report it)."""
        if ("measure", variant) not in self._trends:
            curve = self.curves[variant]
            self._trends["measure", variant] = stats.trend(curve.m, curve.values, self.scale, **self.boot())
        return self._trends["measure", variant]

    def error_trend(self, variant: str) -> Estimate:
        """The variant's test-error exponent (computed once)."""
        if ("error", variant) not in self._trends:
            curve = self.curves[variant]
            self._trends["error", variant] = stats.trend(curve.m, curve.test_error, "positive", **self.boot())
        return self._trends["error", variant]

    def aligned(self, a: str, b: str, attribute: str) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Two variants' arrays on their common sizes and seeds (for paired statistics)."""
        ca, cb = self.curves[a], self.curves[b]
        sizes = np.array(sorted(set(ca.m.tolist()) & set(cb.m.tolist())))
        seeds = sorted(set(ca.seeds) & set(cb.seeds))

        def pick(curve: Curve) -> np.ndarray:
            rows = [curve.seeds.index(s) for s in seeds]
            columns = [curve.m.tolist().index(v) for v in sizes]
            return getattr(curve, attribute)[np.ix_(rows, columns)]

        return sizes, pick(ca), pick(cb)
