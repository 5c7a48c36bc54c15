"""The audit engine behind `pf.audit`: runs → measurements → curves → checks → result.

Orchestration only: each step lives in its own module (`subject`, `measuring`, `curves`,
`rules`, `verdict`, `result`). The pytest plugin and the `fragility` command are thin
layers over `audit`.
"""

from __future__ import annotations

from typing import Any, Sequence

from pytest_fragility.auditing import stats
from pytest_fragility.auditing.curves import build_curves
from pytest_fragility.auditing.measuring import measure_runs, precompute
from pytest_fragility.auditing.result import AuditResult
from pytest_fragility.auditing.rules import ladder, perturbation, predictive, tracking
from pytest_fragility.auditing.rules.context import Context
from pytest_fragility.auditing.subject import resolve_subject
from pytest_fragility.auditing.verdict import ERROR, NOT_BENIGN, CheckResult, overall
from pytest_fragility.runs.run import Run
from pytest_fragility.runs.runset import RunSet
from pytest_fragility.spec.names import DEFAULT_CHECKS, choice, scale_name, validate_checks
from pytest_fragility.spec.tolerances import resolve_tolerances
from pytest_fragility.spec.variants import Variant, check_variants

PER_PERTURBATION = ("trend", "scaling", "value")


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
    seed: int = 0,
    progress: bool = True,
    executor: Any = None,
    runs: Sequence[Run] | None = None,
) -> AuditResult:
    """Audit one measure on one family: train or load the runs, measure, fit, check.

    `measure` is a callable ``Run -> float`` or a built-in measure name (audited in its
    bound form unless ``form="raw"``). `executor` is "local" (default), "ray" or an executor
    object. `runs` lets a caller that already holds the runs (the CLI auditing many
    measures) skip loading them again.
    """
    from pytest_fragility import families
    from pytest_fragility.runs.cache import Cache, default_cache_dir

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
    if subject.scale is None:
        subject.scale = stats.infer_scale([c.value for c in measurements])
    curves = build_curves(measurements, kinds)
    context = Context(curves, subject.scale, tolerances, seed)  # type: ignore[arg-type]
    results = run_checks(context, chosen_checks, [p.name for p in perturbations], [r.name for r in rungs], expect)
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
    training = runs.training if isinstance(runs, RunSet) else RunSet().training
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
        variants=[v.to_dict() for v in (*perturbations, *rungs)])


def _checks_with_expectation(checks: Sequence[str], expect: str | None) -> tuple[str, ...]:
    """Validated checks; `expect=` turns the tracking check on."""
    chosen = validate_checks(checks)
    choice("expect value", expect, ("decreasing", "increasing"))
    return chosen + ("tracking",) if expect and "tracking" not in chosen else chosen


def run_checks(ctx: Context, chosen: tuple[str, ...], perturbations: list[str], rungs: list[str],
               expect: str | None) -> list[CheckResult]:
    """The rows of the audit: per perturbation its benign gate and checks, the ladder, tracking."""
    results: list[CheckResult] = []
    if "base" not in ctx.curves:
        return [CheckResult("measure", "base", ERROR, "no base runs to compare against")]
    for variant in perturbations:
        if variant not in ctx.curves:
            continue
        gate = perturbation.benign(ctx, variant)
        results.append(gate)
        for check in (c for c in PER_PERTURBATION if c in chosen):
            if gate.verdict == NOT_BENIGN:
                results.append(CheckResult(check, variant, NOT_BENIGN,
                                           "perturbation not benign: not held against the measure"))
            else:
                results.append(getattr(perturbation, check)(ctx, variant))
    if "data" in chosen and rungs:
        present = [r for r in rungs if r in ctx.curves]
        if present:
            results.append(ladder.data(ctx, present))
    if "tracking" in chosen:
        results += [tracking.tracking(ctx, v, expect) for v in ctx.curves]
    return results
