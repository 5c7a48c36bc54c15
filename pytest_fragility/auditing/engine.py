"""The audit engine behind `pf.audit`: runs → measurements → curves → checks → result.

Orchestration only: each step lives in its own module (`subject`, `measuring`, `curves`,
`rules`, `verdict`, `result`). The pytest plugin and the `fragility` command are thin
layers over `audit`.
"""

from __future__ import annotations

import warnings
from typing import Any, Sequence

from pytest_fragility.auditing.curves import build_curves
from pytest_fragility.auditing.measuring import measure_runs, precompute, settle_scale
from pytest_fragility.auditing.multiplicity import PER_PERTURBATION, fragile_rows, row_level
from pytest_fragility.auditing.power import power_statement
from pytest_fragility.auditing.result import AuditResult
from pytest_fragility.auditing.rules import ladder, perturbation, predictive, tracking
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.subject import resolve_subject
from pytest_fragility.auditing.verdict import ERROR, INCONCLUSIVE, NOT_BENIGN, STABLE, CheckResult, overall
from pytest_fragility.runs.run import Run
from pytest_fragility.runs.runset import RunSet
from pytest_fragility.spec.names import DEFAULT_CHECKS, choice, scale_name, validate_checks
from pytest_fragility.spec.tolerances import resolve_tolerances
from pytest_fragility.spec.variants import Variant, check_variants


def audit(
    measure: Any,
    family: Any = "fcn-mnist5k",
    perturbations: Sequence[Variant] = (),
    data: Sequence[Variant] = (),
    checks: Sequence[str] = DEFAULT_CHECKS,
    tolerance: dict[str, Any] | None = None,
    budget: Any = "quick",
    *,
    device: Any = None,
    cache: Any = None,
    data_dir: Any = None,
    scale: str | None = None,
    form: str | None = None,
    expect: str | None = None,
    measure_options: dict[str, Any] | None = None,
    seed: int | None = None,
    progress: bool = True,
    executor: Any = None,
    runs: Sequence[Run] | None = None,
) -> AuditResult:
    """Audit one measure on one family: train or load the runs, measure, fit, check.

    `measure` is a callable ``Run -> float`` or a built-in measure name (audited in its
    bound form unless ``form="raw"``). `executor` is "local" (default), "ray" or an executor
    object. `runs` lets a caller that already holds the runs (the CLI auditing many
    measures) skip loading them again. Intervals are closed-form, so the verdict is a
    function of the measurements alone (`seed`, the first version's bootstrap seed, has no
    effect and warns).
    """
    from pytest_fragility import families
    from pytest_fragility.runs.cache import Cache, default_cache_dir

    if seed is not None:
        warnings.warn("audit(seed=...) has no effect: intervals are Student-t intervals over seeds, "
                      "there is no bootstrap", DeprecationWarning, stacklevel=2)
    perturbations = check_variants(perturbations, "perturbation", "perturbations")
    rungs = check_variants(data, "rung", "data")
    chosen_checks = _checks_with_expectation(checks, expect)
    tolerances = resolve_tolerances(tolerance)
    subject = resolve_subject(measure, form, scale_name(scale), dict(measure_options or {}))
    fam = families.get(family) if isinstance(family, str) else family
    store = cache if isinstance(cache, Cache) else Cache(cache or default_cache_dir())
    if isinstance(executor, str):
        from pytest_fragility.train.executors import get_executor

        executor = get_executor(executor)
    if runs is None:
        runs = fam.runs(budget, [*perturbations, *rungs], device=device, cache=store,
                        data_dir=data_dir, executor=executor, progress=progress)
    if subject.spec is not None and subject.spec.where == "cluster" and hasattr(executor, "map"):
        precompute([subject.spec.name], runs, store.values, progress=progress, measure_options=subject.options,
                   executor=executor)
    kinds = {"base": "base", **{v.name: v.kind for v in (*perturbations, *rungs)}}
    measurements = measure_runs(subject, runs, kinds, store.values, progress)
    subject.scale, scale_source = settle_scale(subject.scale, measurements)
    training = runs.training if isinstance(runs, RunSet) else RunSet().training
    curves = build_curves(measurements, kinds, training.failed)
    shapes = {run.variant: run.input_shape for run in runs if run.input_shape is not None}
    rows = fragile_rows(chosen_checks, len(perturbations), len(rungs), len(kinds))
    seeds = max((c.seeds_with_data for c in curves.values()), default=0)
    level, level_rule = row_level(tolerances.level, rows, seeds)
    context = Context(curves, subject.scale, tolerances, shapes, level)  # type: ignore[arg-type]
    names = ([p.name for p in perturbations], [r.name for r in rungs])
    results = run_checks(context, chosen_checks, *names, expect)
    if "invariance" in chosen_checks:
        from pytest_fragility.auditing.rules.invariance import invariance_checks

        results += invariance_checks(subject, runs, measurements, subject.scale, tolerances)
    predictiveness = predictive.predictiveness(measurements, [*kinds])
    if predictive.wanted(tolerances):
        results.append(predictive.predictive_check(predictiveness, tolerances))
    failed = [c for c in measurements if c.error]
    if failed:
        results.append(CheckResult(
            "measure", "all", ERROR,
            f"the measure failed on {len(failed)} of {len(measurements)} runs; first: {failed[0].error}",
            details={"errors": [c.error for c in failed]}))
    counts = {
        "total": len(measurements), "trained": training.trained, "cached": training.cached,
        "failed_training": len(training.failed),
        "non_converged": sum(1 for c in measurements if not c.converged), "measure_errors": len(failed),
    }
    budget_name = budget if isinstance(budget, str) else budget.name
    return AuditResult(
        measure=subject.name, family=fam.name, budget=budget_name, form=subject.form,
        scale=subject.scale, verdict=overall(results), checks=results, curves=curves, measurements=measurements,
        predictiveness=predictiveness, runs=counts, tolerances=tolerances.to_dict(),
        variants=[v.to_dict() for v in (*perturbations, *rungs)], scale_source=scale_source,
        power={**power_statement(context, *names), "row_level": level, "row_level_rule": level_rule})


def _checks_with_expectation(checks: Sequence[str], expect: str | None) -> tuple[str, ...]:
    """Validated checks; `expect=` turns the tracking check on."""
    chosen = validate_checks(checks)
    choice("expect value", expect, ("decreasing", "increasing"))
    return chosen + ("tracking",) if expect and "tracking" not in chosen else chosen


def run_checks(ctx: Context, chosen: tuple[str, ...], perturbations: list[str], rungs: list[str],
               expect: str | None) -> list[CheckResult]:
    """The rows of the audit: per perturbation its benign gate and checks, the ladder, tracking.

    A perturbation's rows are computed whatever its gate says (their numbers are reported),
    but only a benign perturbation's rows keep their verdict: not benign → `not-benign`,
    benignness not resolved → `inconclusive`. Every requested variant gets its rows, even
    one without usable data, so missing data is never silence.
    """
    results: list[CheckResult] = []
    for variant in perturbations:
        gate = perturbation.benign(ctx, variant)
        results.append(gate)
        for check in (c for c in PER_PERTURBATION if c in chosen):
            results.append(_gated(getattr(perturbation, check), ctx, variant, gate))
    if "data" in chosen and rungs:
        results.append(ladder.data(ctx, rungs))
    if "tracking" in chosen:
        for variant in ctx.curves:
            missing = ctx.unusable(variant)
            results.append(CheckResult("tracking", variant, INCONCLUSIVE, f"not judged: {missing}") if missing
                           else tracking.tracking(ctx, variant, expect))
    return results


def _gated(rule, ctx: Context, variant: str, gate: CheckResult) -> CheckResult:  # type: ignore[no-untyped-def]
    """A perturbation row under its benign gate."""
    if gate.verdict == STABLE:
        return rule(ctx, variant)
    missing = ctx.unusable("base") or ctx.unusable(variant)
    if missing:
        return CheckResult(rule.__name__, variant, INCONCLUSIVE, f"not judged: {missing}")
    row = rule(ctx, variant)
    if gate.verdict == NOT_BENIGN:
        row.verdict, row.reason = NOT_BENIGN, f"perturbation not benign, not held against the measure ({row.reason})"
    else:
        row.verdict, row.reason = INCONCLUSIVE, f"benignness not resolved, not judged ({row.reason})"
    return row
