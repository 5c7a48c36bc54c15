"""Curves: one variant's measure and test error over seeds × training-set sizes."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from pytest_fragility.files import plain

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.auditing.measuring import Measurement
    from pytest_fragility.runs.runset import FailedRun


@dataclass(frozen=True)
class VariantRuns:
    """What became of a variant's runs: planned by the grid, failed to train, did not
    converge, or whose measure failed; the rest are measured and on the curve."""

    planned: int
    failed_training: int = 0
    non_converged: int = 0
    measure_errors: int = 0
    epoch_cap: int = 0           # of the non-converged: stopped at the epoch cap
    diverged: int = 0            # of the non-converged: training loss went non-finite
    max_epochs: int | None = None  # the epoch cap the variant trained under, where known

    @property
    def measured(self) -> int:
        return self.planned - self.failed_training - self.non_converged - self.measure_errors

    @property
    def lost(self) -> int:
        """Runs missing for reasons of training (not of the measure)."""
        return self.failed_training + self.non_converged

    def describe(self) -> str:
        parts = [f"{n} {what}" for n, what in ((self.failed_training, "failed to train"),
                                               (self.non_converged, "did not converge"),
                                               (self.measure_errors, "measure errors")) if n]
        return f"{self.measured} of {self.planned} runs measured" + (f" ({', '.join(parts)})" if parts else "")


@dataclass
class Curve:
    """One variant's learning curves: values[S, M] of the measure and of test error."""

    variant: str
    kind: str               # "base", "perturbation" or "rung"
    m: np.ndarray
    seeds: list[int]
    values: np.ndarray      # the audited form (NaN = missing)
    raw: np.ndarray         # raw form of a built-in measure (same as values otherwise)
    test_error: np.ndarray
    train_error: np.ndarray
    runs: VariantRuns

    @property
    def seeds_with_data(self) -> int:
        return int(np.isfinite(self.values).any(axis=1).sum()) if self.values.size else 0

    def to_dict(self) -> dict[str, Any]:
        return plain({"variant": self.variant, "kind": self.kind, "m": self.m, "seeds": self.seeds,
                      "values": self.values, "raw": self.raw, "test_error": self.test_error,
                      "train_error": self.train_error, "runs": asdict(self.runs)})


def build_curves(measurements: Sequence["Measurement"], kinds: dict[str, str],
                 failed: Sequence["FailedRun"] = ()) -> dict[str, Curve]:
    """A curve per variant of `kinds` (base first, in order), NaN where a run is missing,
    even for a variant none of whose runs could be measured (an empty curve).

    A run that did not converge or whose measure failed leaves both curves (measure and
    test error), so the two are always compared on the same networks.
    """
    curves = {}
    for variant, kind in kinds.items():
        mine = [c for c in measurements if c.variant == variant]
        lost = sum(1 for f in failed if f.variant == variant)
        stalled = [c for c in mine if not c.converged]
        caps = [c.max_epochs for c in mine if c.max_epochs is not None]
        counts = VariantRuns(planned=len(mine) + lost, failed_training=lost, non_converged=len(stalled),
                             measure_errors=sum(1 for c in mine if c.converged and c.error),
                             epoch_cap=sum(1 for c in stalled if c.stop != "diverged"),
                             diverged=sum(1 for c in stalled if c.stop == "diverged"),
                             max_epochs=max(caps) if caps else None)
        sizes = sorted({c.m for c in mine})
        seeds = sorted({c.seed for c in mine})
        arrays = {k: np.full((len(seeds), len(sizes)), np.nan) for k in ("value", "raw", "test", "train")}
        for c in mine:
            if c.converged and not c.error:
                at = (seeds.index(c.seed), sizes.index(c.m))
                arrays["value"][at], arrays["raw"][at] = c.value, c.raw
                arrays["test"][at], arrays["train"][at] = c.test_error, c.train_error
        curves[variant] = Curve(variant, kind, np.array(sizes, dtype=int), seeds, arrays["value"], arrays["raw"],
                                arrays["test"], arrays["train"], counts)
    return curves
