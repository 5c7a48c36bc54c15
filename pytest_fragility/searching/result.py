"""`SearchResult`: the falsifying perturbation a search found, or the space it searched.

Like a minimal failing example, the counterexample reported is the one nearest the base
among all found (distance as a fraction of its ray, so axes compare). A search that finds
nothing says so — "no counterexample within the searched space at this budget" — with the
space searched and the smallest effects its budget could detect; never a proof of robustness.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from statistics import median
from typing import Any

from pytest_fragility.auditing.power import detectable_effects
from pytest_fragility.files import dumps, plain
from pytest_fragility.searching.axes import Axis
from pytest_fragility.searching.bisect import RayOutcome
from pytest_fragility.searching.points import COUNTEREXAMPLE, Point

FOUND, NOTHING = "counterexample", "no counterexample"
NOT_A_PROOF = ("a larger budget (more seeds), a finer precision, a wider range or other axes "
               "may still break the measure")


@dataclass
class SearchResult:
    """What a search tried and found. `counterexample` is the nearest one (None if none)."""

    measure: str
    family: str
    budget: str
    axes: list[Axis]
    outcomes: list[RayOutcome]
    points: list[Point]
    replayed: list[Point] = field(default_factory=list)
    networks: dict[str, Any] = field(default_factory=dict)
    seconds: float = 0.0
    tolerances: dict[str, Any] = field(default_factory=dict)
    form: str = ""
    scale: str = ""

    @property
    def counterexamples(self) -> list[Point]:
        """Every counterexample found, nearest first (one per ray, plus replayed ones that still break)."""
        found = [o.counterexample for o in self.outcomes if o.counterexample is not None]
        found += [p for p in self.replayed if p.state == COUNTEREXAMPLE and p not in found]
        order = {a.name: i for i, a in enumerate(self.axes)}
        return sorted(found, key=lambda p: (p.distance, order.get(p.axis, len(order))))

    @property
    def counterexample(self) -> Point | None:
        found = self.counterexamples
        return found[0] if found else None

    @property
    def verdict(self) -> str:
        return FOUND if self.counterexample is not None else NOTHING

    def passed(self) -> bool:
        """Whether a test built on this search passes: it fails on a counterexample."""
        return self.counterexample is None

    def power(self) -> dict[str, Any]:
        """The smallest effects a point of this search could detect (median over the points
        whose audit had an interval), as `pf.audit` states them."""
        figures: dict[str, Any] = {}
        for key in ("exponent_change", "value_log_ratio", "trend_slope"):
            values = [p.power.get(key) for p in self.points]
            finite = [v for v in values if isinstance(v, (int, float)) and math.isfinite(v)]
            figures[key] = median(finite) if finite else math.nan
        seeds = [p.power.get("n_seeds") for p in self.points if p.power.get("n_seeds")]
        figures["n_seeds"] = max(seeds, default=0)
        figures["power"] = next((p.power["power"] for p in self.points if "power" in p.power), 0.8)
        figures["dry_run"] = any(p.power.get("dry_run") for p in self.points)
        figures["text"] = _power_sentence(figures, self.scale, len(self.points))
        return figures

    def statement(self) -> str:
        """One sentence: the falsifying perturbation, or what was searched without finding one."""
        point = self.counterexample
        if point is not None:
            broken = ", ".join(row["check"] for row in point.broken)
            return (f"falsifying perturbation {point.variant.name} on axis {point.axis} "
                    f"(distance {point.distance:.2f} of its searched range): benign, and the measure's "
                    f"{broken} check{'s' if len(point.broken) > 1 else ''} fragile")
        space = "; ".join(axis.describe() for axis in self.axes)
        return f"no counterexample within the searched space at this budget ({self.budget}: {space})"

    def to_dict(self) -> dict[str, Any]:
        """Plain types only (JSON reports, pytest-xdist transport, the HTML page)."""
        point = self.counterexample
        return plain({
            "measure": self.measure, "family": self.family, "budget": self.budget, "form": self.form,
            "scale": self.scale, "verdict": self.verdict, "statement": self.statement(),
            "counterexample": None if point is None else point.to_dict(),
            "counterexamples": [p.variant.name for p in self.counterexamples],
            "axes": [axis.to_dict() for axis in self.axes], "rays": [o.to_dict() for o in self.outcomes],
            "points": [p.to_dict() for p in self.points], "replayed": [p.variant.name for p in self.replayed],
            "networks": self.networks, "seconds": self.seconds, "power": self.power(),
            "tolerances": self.tolerances, "caveat": None if point is not None else NOT_A_PROOF,
        })

    def to_json(self, indent: int | None = 2) -> str:
        return dumps(self.to_dict(), indent=indent, sort_keys=False)

    def summary(self) -> str:
        """The plain-text falsifying-perturbation block (the plugin shows it coloured)."""
        from pytest_fragility.report.search_terminal import render_search  # rendering lives in the report layer

        return render_search(self.to_dict(), color=False)

    def plot(self, path: str | Path | None = None) -> Any:
        """Exponents of the measure and of test error against strength, per axis (matplotlib)."""
        from pytest_fragility.report.search_plots import search_figure  # rendering lives in the report layer

        return search_figure(self.to_dict(), path)


def _power_sentence(figures: dict[str, Any], scale: str, points: int) -> str:
    parts = detectable_effects(figures, scale)
    if not parts:
        return "no point of this search had an interval: nothing could be detected at this budget"
    text = (f"with {figures['n_seeds']} seeds each point detects " + ", ".join(parts)
            + f" with {figures['power']:.0%} power (median over {points} points)")
    if figures["dry_run"]:
        text = "a dry run of the machinery, not a search: " + text + "; use a budget with more seeds (quick)"
    return text
