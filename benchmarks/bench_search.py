"""The fragility search against a grid over the same axes at the same precision; its validation.

    python benchmarks/bench_search.py                      # closed form: a trend flip at lr×3, axes lr + momentum
    python benchmarks/bench_search.py --family fcn-mnist1d --measure fro_dist --budget smoke --axes lr --precision 1.25
    python benchmarks/bench_search.py --family fcn-mnist1d --measure fro_dist --budget quick --axes lr --range 1,8
    python benchmarks/bench_search.py --part validate --replicates 200

Part `cost`: the search (bracket, then bisect, per ray) and a grid (every strength at the
axis's precision over the same rays, every option of a categorical axis) audit the same
points the same way; each runs on its own fresh cache, so "trained" counts what each needed.
Prints the points, networks looked at and trained, wall time, the grid/search ratios, and
whether both found the same break on every ray (within the precision).

Part `validate`: the rates of `pytest_fragility.searching.validation` on its closed-form
scenarios (break found within the precision; counterexamples where there are none) over
noise levels, with the targets (≥ 95% correct where there is a break, ≤ 5% false discoveries).
"""

from __future__ import annotations

import argparse
import math
import tempfile
import time
from dataclasses import replace
from typing import Any

import pytest_fragility as pf
from pytest_fragility.searching import axes as axis_registry
from pytest_fragility.searching.engine import base_recipe, search
from pytest_fragility.searching.points import COUNTEREXAMPLE, MEASURE_CHECKS, Evaluator
from pytest_fragility.searching.validation import scenarios, validate

VALIDATION = [("step", 0.05), ("step", 0.2), ("step", 0.5), ("smooth", 0.01), ("smooth", 0.02), ("smooth", 0.05),
              ("beyond-band", 0.2), ("beyond-band", 0.5), ("null", 0.2), ("null", 0.5), ("null", 1.0)]


def grid_positions(ray: Any) -> list[float]:
    """Every position at the ray's precision (a continuous ray ends exactly at its edge)."""
    if ray.discrete:
        return [float(t) for t in range(1, int(ray.extent) + 1)]
    count = math.ceil(ray.extent / ray.precision - 1e-9)
    return [min(ray.extent, k * ray.precision) for k in range(1, count + 1)]


def grid(measure: Any, family: Any, chosen: list[Any], budget: str, cache: str) -> tuple[dict[str, Any], Evaluator]:
    """The nearest counterexample per ray when every grid strength is audited."""
    evaluator = Evaluator(measure, family, budget, MEASURE_CHECKS, {"cache": cache, "progress": False})
    nearest: dict[str, Any] = {}
    for axis in chosen:
        for ray in axis.rays():
            points = [evaluator.point(axis.name, ray.strength(t), ray.distance(t), ray.variant(t))
                      for t in grid_positions(ray)]
            nearest[ray.label] = next((p for p in points if p.state == COUNTEREXAMPLE), None)
    return nearest, evaluator


def agree(axis: Any, searched: Any, gridded: Any) -> bool:
    """Both found nothing, or the same break within the axis's precision (one grid step)."""
    if searched is None or gridded is None:
        return searched is None and gridded is None
    if axis.categorical:
        return searched.strength == gridded.strength
    if axis.grid:
        return abs(axis.grid.index(searched.strength) - axis.grid.index(gridded.strength)) <= 1
    to = {"log": math.log, "linear": float, "effective-step": lambda s: -math.log1p(-s)}[axis.scale]
    return abs(to(searched.strength) - to(gridded.strength)) <= axis.precision + 1e-9


def cost(args: argparse.Namespace) -> None:
    if args.family == "closed-form":
        scenario = scenarios()["step"]
        family, measure = scenario.family, scenario.measure(0.2, 0, math.log(400))
    else:
        family, measure = pf.families.get(args.family), args.measure
    chosen = [axis.at(base_recipe(family, args.budget)) for axis in axis_registry.resolve(args.axes.split(","))]
    if args.precision:  # a factor: the bracket width of continuous log axes is ln(factor)
        chosen = [replace(a, precision=math.log(args.precision)) if a.continuous else a for a in chosen]
    if args.range:  # e.g. 1,8: only the upward ray of lr
        low, high = (float(x) for x in args.range.split(","))
        chosen = [replace(a, low=low, high=high).at(None) if a.continuous else a for a in chosen]
    with tempfile.TemporaryDirectory() as first, tempfile.TemporaryDirectory() as second:
        started = time.perf_counter()
        result = search(measure, family, chosen, args.budget, cache=first, database=False)
        search_seconds = time.perf_counter() - started
        started = time.perf_counter()
        nearest, evaluator = grid(measure, family, chosen, args.budget, second)
        grid_seconds = time.perf_counter() - started
    print(f"family {family.name}, measure {result.measure}, budget {args.budget}; axes: "
          + "; ".join(a.describe() for a in chosen))
    print(f"{'':8} {'points':>7} {'networks':>9} {'trained':>8} {'wall s':>8}")
    print(f"{'search':8} {result.networks['points']:>7} {result.networks['used']:>9} {result.networks['trained']:>8} "
          f"{search_seconds:>8.1f}")
    print(f"{'grid':8} {len(evaluator.tried):>7} {evaluator.networks:>9} {evaluator.trained:>8} {grid_seconds:>8.1f}")
    print(f"grid / search: {evaluator.networks / result.networks['used']:.2f}× the networks, "
          f"{grid_seconds / search_seconds:.2f}× the wall time")
    for outcome in result.outcomes:
        found, gridded = outcome.counterexample, nearest[outcome.ray.label]
        print(f"  {outcome.ray.label:<14} search: {found.variant.name if found else 'none':<22} "
              f"grid: {gridded.variant.name if gridded else 'none':<22} "
              f"{'agree' if agree(outcome.ray.axis, found, gridded) else 'DISAGREE'}")


def validation(args: argparse.Namespace) -> None:
    print(f"{'scenario':<12} {'noise':>6} {'replicates':>10} {'correct':>8} {'early':>6} {'found':>6} {'points':>7}"
          "  target")
    for name, noise in VALIDATION:
        started = time.perf_counter()
        rates = validate(name, noise, args.replicates, args.budget)
        row = rates.as_row()
        breaks = scenarios()[name].breaks
        target = ("≥ 95% correct" if breaks else "≤ 5% found")
        met = row["correct"] >= 0.95 if breaks else row["found"] <= 0.05
        print(f"{name:<12} {noise:>6g} {rates.replicates:>10} {row['correct']:>8.1%} {row['early']:>6.1%} "
              f"{row['found']:>6.1%} "
              f"{row['mean points']:>7.1f}  {target}: {'met' if met else 'MISSED'} "
              f"({time.perf_counter() - started:.0f} s)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--part", choices=("cost", "validate"), default="cost")
    parser.add_argument("--family", default="closed-form", help="closed-form (default) or a built-in family")
    parser.add_argument("--measure", default="fro_dist", help="a built-in measure (real families)")
    parser.add_argument("--axes", default="lr,momentum", help="axes searched (default lr,momentum)")
    parser.add_argument("--budget", default="quick", help="grid of every point (default quick)")
    parser.add_argument("--precision", type=float, help="bracket of continuous axes as a factor (default 1.1)")
    parser.add_argument("--range", help="low,high of continuous axes (default: each axis's own)")
    parser.add_argument("--replicates", type=int, default=200, help="replicates per validation row")
    args = parser.parse_args()
    (validation if args.part == "validate" else cost)(args)


if __name__ == "__main__":
    main()
