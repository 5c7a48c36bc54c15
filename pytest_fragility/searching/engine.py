"""`pf.search`: the nearest benign training change that breaks a measure, Hypothesis-style.

Orchestration only: replay the saved counterexamples of this measure and family first
(`examples`), then search every ray of every axis (`bisect`), each strength an ordinary
audit of one perturbation against the shared, cached base runs (`points`), within the
network budget; report the nearest counterexample found (`result`) and save the nearest
one per axis for the next run to replay.
"""

from __future__ import annotations

import time
from typing import Any, Callable, Sequence

from pytest_fragility.errors import ConfigurationError
from pytest_fragility.runs.cache import Cache, default_cache_dir
from pytest_fragility.searching import axes as axis_registry
from pytest_fragility.searching.axes import DEFAULT_AXES, Axis
from pytest_fragility.searching.bisect import search_ray
from pytest_fragility.searching.examples import ExampleDatabase
from pytest_fragility.searching.points import COUNTEREXAMPLE, MEASURE_CHECKS, Evaluator, Point
from pytest_fragility.searching.result import SearchResult
from pytest_fragility.spec.names import validate_checks
from pytest_fragility.spec.tolerances import resolve_tolerances


def search(
    measure: Any,
    family: Any = "fcn-mnist5k",
    axes: Sequence[str | Axis] = DEFAULT_AXES,
    budget: Any = "quick",
    max_networks: int | None = None,
    *,
    checks: Sequence[str] = MEASURE_CHECKS,
    tolerance: dict[str, Any] | None = None,
    device: Any = None,
    cache: Any = None,
    data_dir: Any = None,
    scale: str | None = None,
    form: str | None = None,
    measure_options: dict[str, Any] | None = None,
    executor: Any = None,
    progress: bool = False,
    database: bool = True,
    key: str | None = None,
    on_point: Callable[[Point], None] | None = None,
) -> SearchResult:
    """Search `axes` for the benign perturbation nearest the base that makes `measure` fragile.

    `measure` and the audit options are those of `pf.audit`; `budget` is the grid of every
    point (sizes × seeds), `max_networks` caps the networks the search looks at (the base grid
    once plus each point's grid, trained or cached alike, so a warm rerun stops where a cold
    one did). Saved counterexamples of (`key` or the measure's name, family) are replayed
    first and the nearest one found per axis is saved (`database=False`: neither).
    `on_point` is called after each audit (progress lines for long searches).
    """
    from pytest_fragility import families

    started = time.perf_counter()
    fam = families.get(family) if isinstance(family, str) else family
    chosen = axis_registry.resolve(axes)
    evaluator = _evaluator(measure, fam, budget, checks, tolerance, max_networks, on_point, device=device,
                           cache=cache, data_dir=data_dir, scale=scale, form=form, measure_options=measure_options,
                           executor=executor, progress=progress)
    recipe = base_recipe(fam, budget)
    settled = [axis.at(recipe) for axis in chosen]
    store = evaluator.audit_options["cache"]
    database_ = ExampleDatabase(store) if database else None
    label = key or measure_label(measure, form)
    replayed = _replay(evaluator, database_, label, fam.name) if database_ is not None else []

    def affordable() -> bool:
        return max_networks is None or evaluator.networks + evaluator.cost() <= max_networks

    outcomes = []
    for axis in settled:
        for ray in axis.rays():
            def evaluate(t: float, ray: Any = ray) -> Point:
                return evaluator.point(ray.axis.name, ray.strength(t), ray.distance(t), ray.variant(t))

            outcomes.append(search_ray(ray, evaluate, affordable))
    result = SearchResult(
        measure=label, family=fam.name, budget=budget if isinstance(budget, str) else budget.name, axes=settled,
        outcomes=outcomes, points=list(evaluator.tried.values()), replayed=replayed,
        networks={"used": evaluator.networks, "base": evaluator.base_networks, "per_point": evaluator.cost(),
                  "points": len(evaluator.tried), "trained": evaluator.trained, "max": max_networks},
        seconds=time.perf_counter() - started, tolerances=evaluator.tolerances, form=evaluator.form,
        scale=evaluator.scale)
    if database_ is not None:
        database_.save(label, fam.name, result.counterexamples, result.budget, {a.name for a in settled})
    return result


def replay(measure: Any, family: Any = "fcn-mnist5k", budget: Any = "quick", *, key: str | None = None,
           checks: Sequence[str] = MEASURE_CHECKS, tolerance: dict[str, Any] | None = None,
           **audit_options: Any) -> list[Point]:
    """Audit the saved counterexamples of (`key` or the measure's name, family), nearest first;
    the ones that no longer break the measure are removed from the database. Returns the
    points audited (`state == "counterexample"` for those that still break it)."""
    from pytest_fragility import families

    fam = families.get(family) if isinstance(family, str) else family
    evaluator = _evaluator(measure, fam, budget, checks, tolerance, None, None, **audit_options)
    store = evaluator.audit_options["cache"]
    label = key or measure_label(measure, audit_options.get("form"))
    return _replay(evaluator, ExampleDatabase(store), label, fam.name)


def _replay(evaluator: Evaluator, database: ExampleDatabase, label: str, family: str) -> list[Point]:
    saved = sorted(database.variants(label, family), key=lambda pair: pair[0].get("distance", 1.0))
    points = [evaluator.point(example["axis"], example["strength"], example.get("distance", 1.0), variant,
                              replayed=True) for example, variant in saved]
    database.remove(label, family, {p.variant.name for p in points if p.state != COUNTEREXAMPLE})
    return points


def _evaluator(measure: Any, family: Any, budget: Any, checks: Sequence[str], tolerance: dict[str, Any] | None,
               max_networks: int | None, on_point: Callable[[Point], None] | None, **options: Any) -> Evaluator:
    """The point evaluator, its arguments validated before anything trains."""
    chosen = validate_checks(checks)
    extra = [c for c in chosen if c not in MEASURE_CHECKS]
    if extra:
        raise ConfigurationError(f"a search judges each perturbation with {', '.join(MEASURE_CHECKS)}; "
                                 f"{', '.join(extra)} cannot make a perturbation a counterexample")
    if not chosen:
        raise ConfigurationError(f"checks: name at least one of {', '.join(MEASURE_CHECKS)}")
    if max_networks is not None and (isinstance(max_networks, bool) or not isinstance(max_networks, int)
                                     or max_networks < 1):
        raise ConfigurationError(f"max_networks must be a positive integer, got {max_networks!r}")
    resolve_tolerances(tolerance)
    cache = options.pop("cache", None)
    store = cache if isinstance(cache, Cache) else Cache(cache or default_cache_dir())
    return Evaluator(measure, family, budget, chosen,
                     {"tolerance": tolerance, "cache": store, **{k: v for k, v in options.items() if v is not None}},
                     on_point)


def base_recipe(family: Any, budget: Any) -> Any:
    """The family's recipe as the budget trains it (None for a family without a recipe)."""
    recipe = getattr(family, "recipe", None)
    if recipe is None:
        return None
    overrides = dict(family.budget(budget).overrides)
    return recipe.replace(**overrides) if overrides else recipe


def measure_label(measure: Any, form: str | None = None) -> str:
    """The name a measure's saved examples are filed under (a built-in audited raw is another measure)."""
    if isinstance(measure, str):
        name = measure
    else:
        name = getattr(measure, "name", None) or getattr(measure, "__name__", type(measure).__name__)
    return f"{name}[raw]" if form == "raw" else str(name)
