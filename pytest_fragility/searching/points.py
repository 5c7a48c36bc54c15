"""One point of a search: an ordinary audit of one perturbation, read as a search state.

A point is a *counterexample* when its perturbation is shown benign (the benign row is
`stable`) and some row of the measure is `fragile` (trend flip, exponent or value change),
with the calibrated rules exactly as `pf.audit` applies them. The other states steer the
bisection: *holds* (benign, nothing shown fragile: the measure's rows are stable or
inconclusive), *not-benign* (test error was shown to move: the benign band ends here),
*unresolved* (whether it is benign cannot be told, e.g. too many runs did not converge).
`inconclusive` is never a counterexample.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any, Callable, Sequence

from pytest_fragility.auditing.engine import audit
from pytest_fragility.auditing.result import AuditResult
from pytest_fragility.auditing.verdict import FRAGILE, NOT_BENIGN, STABLE
from pytest_fragility.files import plain
from pytest_fragility.spec.variants import Variant

COUNTEREXAMPLE, HOLDS, BEYOND_BAND, UNRESOLVED = "counterexample", "holds", "not-benign", "unresolved"
MEASURE_CHECKS = ("trend", "scaling", "value")


@dataclass
class Point:
    """The audit of one strength on one axis, reduced to what the search and its report need."""

    axis: str
    strength: Any
    distance: float  # along its ray: 0 at the base, 1 at the searched edge
    variant: Variant
    state: str
    benign: dict[str, Any]              # the benign row (test error's exponent and level change)
    rows: list[dict[str, Any]]          # the measure's rows for this perturbation
    networks: int                       # networks of this perturbation (its grid: sizes × seeds)
    trained: int                        # of the audit's networks, how many were trained for it
    power: dict[str, Any] = field(default_factory=dict)
    replayed: bool = False

    @property
    def broken(self) -> list[dict[str, Any]]:
        """The measure's rows shown fragile (empty unless a counterexample)."""
        return [row for row in self.rows if row["verdict"] == FRAGILE] if self.state == COUNTEREXAMPLE else []

    def to_dict(self) -> dict[str, Any]:
        return plain({
            "axis": self.axis, "strength": self.strength, "distance": self.distance, "variant": self.variant.to_dict(),
            "name": self.variant.name, "state": self.state, "benign": self.benign, "rows": self.rows,
            "broken": [row["check"] for row in self.broken], "networks": self.networks, "trained": self.trained,
            "power": self.power, "replayed": self.replayed,
        })


def state_of(result: AuditResult, variant: str) -> str:
    """The search state of `variant` in an audit of it."""
    gate = next(row for row in result.checks if row.check == "benign" and row.variant == variant)
    if gate.verdict == NOT_BENIGN:
        return BEYOND_BAND
    if gate.verdict != STABLE:
        return UNRESOLVED
    fragile = any(row.verdict == FRAGILE for row in result.checks
                  if row.check in MEASURE_CHECKS and row.variant == variant)
    return COUNTEREXAMPLE if fragile else HOLDS


@dataclass
class Evaluator:
    """Audits one perturbation at a time against the shared base runs (every audit loads the
    same cached networks), remembering each strength it tried."""

    measure: Any
    family: Any
    budget: Any
    checks: Sequence[str]
    audit_options: dict[str, Any]
    on_point: Callable[[Point], None] | None = None
    tried: dict[str, Point] = field(default_factory=dict)
    base_networks: int = 0
    trained: int = 0
    form: str = ""
    scale: str = ""
    tolerances: dict[str, Any] = field(default_factory=dict)

    @property
    def networks(self) -> int:
        """Networks the search has looked at: the base grid once, and each point's grid."""
        return self.base_networks + sum(p.networks for p in self.tried.values())

    def cost(self) -> int:
        """What one more point will add (a point's grid; unknown before the first: 0)."""
        return max((p.networks for p in self.tried.values()), default=0)

    def point(self, axis: str, strength: Any, distance: float, variant: Variant, replayed: bool = False) -> Point:
        if variant.name in self.tried:
            return self.tried[variant.name]
        result = audit(self.measure, self.family, [variant], (), checks=("benign", *self.checks),
                       budget=self.budget, **self.audit_options)
        base, mine = result.curves["base"].runs, result.curves[variant.name].runs
        if not self.tried:
            self.base_networks = base.planned
            self.form, self.scale, self.tolerances = result.form, result.scale, result.tolerances
        self.trained += result.runs["trained"]
        rows = [row.to_dict() for row in result.checks if row.variant == variant.name]
        point = Point(axis, strength, distance, variant, state_of(result, variant.name),
                      benign=next(r for r in rows if r["check"] == "benign"),
                      rows=[r for r in rows if r["check"] != "benign"], networks=mine.planned,
                      trained=result.runs["trained"], power=_power_figures(result.power), replayed=replayed)
        self.tried[variant.name] = point
        if self.on_point is not None:
            self.on_point(point)
        return point


def _power_figures(power: dict[str, Any]) -> dict[str, Any]:
    keys = ("n_seeds", "level", "power", "exponent_change", "value_log_ratio", "trend_slope", "dry_run")
    return {k: power.get(k, math.nan) for k in keys}
