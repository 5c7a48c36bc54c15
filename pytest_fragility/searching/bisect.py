"""The search along one ray: bracket, then bisect on the strength.

1. **Scan** outward from the base at a quarter, half and all of the ray, stopping at the
   first counterexample or the first point beyond the benign band (test error moved: farther
   strengths are assumed to move it too). Unresolved points are passed over.
2. **Bisect** between the last point that held (or the base) and that point:
   - toward a counterexample: a midpoint that breaks becomes the new upper end, anything
     else the new lower end; the upper end is always a verified counterexample;
   - toward the end of the benign band: a midpoint that holds moves the lower end up, one
     that breaks turns the search into the first kind, one beyond the band (or unresolved)
     moves the upper end down — so a break between the last holding point and the band's
     end is not missed.
   Stop when the bracket is within the axis's precision, when no strength between the ends
   is new (grid neighbours, rounding), or when the network budget is spent.

A categorical axis has no order to bisect: every option is tried.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Callable

from pytest_fragility.searching.axes import Ray
from pytest_fragility.searching.points import BEYOND_BAND, COUNTEREXAMPLE, HOLDS, Point

PRECISION, BUDGET, END, BAND, ALL = "precision", "network budget", "end of range", "benign band ended", "all tried"


@dataclass
class RayOutcome:
    """What the search found along one ray: the points in the order tried, the nearest
    counterexample (if any), the bracket around the break or the band's end, and why it stopped."""

    ray: Ray
    points: list[Point] = field(default_factory=list)
    counterexample: Point | None = None
    holds: Point | None = None     # the farthest point below the bracket's upper end that held
    limit: Point | None = None     # the bracket's upper end when it is not a counterexample
    stop: str = END

    def to_dict(self) -> dict[str, Any]:
        def name(point: Point | None) -> str | None:
            return None if point is None else point.variant.name

        return {"axis": self.ray.axis.name, "ray": self.ray.label, "direction": self.ray.direction,
                "stop": self.stop, "counterexample": name(self.counterexample), "holds": name(self.holds),
                "limit": name(self.limit), "points": [p.variant.name for p in self.points]}


def search_ray(ray: Ray, evaluate: Callable[[float], Point], affordable: Callable[[], bool]) -> RayOutcome:
    """Search one ray; `evaluate(t)` audits the strength at position t, `affordable()` says
    whether the network budget allows one more point."""
    outcome = RayOutcome(ray)

    def look(t: float) -> Point:
        point = evaluate(t)
        if point not in outcome.points:
            outcome.points.append(point)
        return point

    if ray.axis.categorical:
        return _try_every_option(ray, look, affordable, outcome)
    low, high, upper = 0.0, None, None
    for t in ray.probes():
        if not affordable():
            outcome.stop = BUDGET
            return outcome
        point = look(t)
        if point.state == HOLDS:
            low, outcome.holds = t, point
        elif point.state in (COUNTEREXAMPLE, BEYOND_BAND):
            high, upper = t, point
            break
    if high is None or upper is None:
        outcome.stop = END
        return outcome
    outcome.stop = PRECISION
    while not ray.closed(low, high):
        middle = ray.midpoint(low, high)
        if middle is None:
            break
        if not affordable():
            outcome.stop = BUDGET
            break
        point = look(middle)
        if point.state == COUNTEREXAMPLE:
            high, upper = middle, point
        elif point.state == HOLDS or upper.state == COUNTEREXAMPLE:
            low = middle
            outcome.holds = point if point.state == HOLDS else outcome.holds
        else:
            high, upper = middle, point
    if upper.state == COUNTEREXAMPLE:
        outcome.counterexample = upper
    else:
        outcome.limit = upper
        outcome.stop = BAND if outcome.stop == PRECISION else outcome.stop
    return outcome


def _try_every_option(ray: Ray, look: Callable[[float], Point], affordable: Callable[[], bool],
                      outcome: RayOutcome) -> RayOutcome:
    outcome.stop = ALL
    for t in ray.probes():
        if not affordable():
            outcome.stop = BUDGET
            break
        point = look(t)
        if point.state == COUNTEREXAMPLE and outcome.counterexample is None:
            outcome.counterexample = point
    return outcome
