"""Curves: one variant's measure and test error over seeds × training-set sizes."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Sequence

import numpy as np

from pytest_fragility.files import plain

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.auditing.measuring import Measurement


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

    def to_dict(self) -> dict[str, Any]:
        return plain({"variant": self.variant, "kind": self.kind, "m": self.m, "seeds": self.seeds,
                      "values": self.values, "raw": self.raw, "test_error": self.test_error,
                      "train_error": self.train_error})


def build_curves(measurements: Sequence["Measurement"], kinds: dict[str, str]) -> dict[str, Curve]:
    """Curves per variant, base first, in the order variants were given; NaN where missing.

    A run that did not converge or whose measure failed leaves both curves (measure and
    test error), so the two are always compared on the same networks.
    """
    curves = {}
    for variant in kinds:
        mine = [c for c in measurements if c.variant == variant]
        if not mine:
            continue
        sizes = sorted({c.m for c in mine})
        seeds = sorted({c.seed for c in mine})
        arrays = {k: np.full((len(seeds), len(sizes)), np.nan) for k in ("value", "raw", "test", "train")}
        for c in mine:
            if c.converged and not c.error:
                at = (seeds.index(c.seed), sizes.index(c.m))
                arrays["value"][at], arrays["raw"][at] = c.value, c.raw
                arrays["test"][at], arrays["train"][at] = c.test_error, c.train_error
        curves[variant] = Curve(variant, kinds[variant], np.array(sizes), seeds, arrays["value"],
                                arrays["raw"], arrays["test"], arrays["train"])
    return curves
