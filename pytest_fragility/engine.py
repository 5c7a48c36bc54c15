"""The audit engine behind `pf.audit`: grid → runs → measure values → curves → checks → result.

The pytest plugin and the `fragility` command are thin layers over this function.
"""

from __future__ import annotations

import hashlib
import math
import numbers
import platform
import sys
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable, Sequence

import numpy as np

from pytest_fragility import checks as rules
from pytest_fragility import stats
from pytest_fragility.checks import CheckResult, Context, Curve
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.names import DEFAULT_CHECKS, choice, validate_checks
from pytest_fragility.run import Run
from pytest_fragility.tolerances import resolve_tolerances
from pytest_fragility.variants import Variant, check_variants

INVARIANCE_RUNS = 3
DEFAULT_TEST_SET = 10_000  # for sign-error weights when a run has no test set to count


@dataclass
class Cell:
    """One run's measurement: the audited value, the raw value, or why there is none."""

    variant: str
    kind: str
    m: int
    seed: int
    value: float = math.nan
    raw: float = math.nan
    test_error: float = math.nan
    train_error: float = math.nan
    converged: bool = True
    error: str | None = None
    n_test: int = DEFAULT_TEST_SET


@dataclass
class MeasureUnderAudit:
    """The callable being audited with what the report needs to know about it."""

    name: str
    raw: Callable[[Run], Any]
    to_form: Callable[[float, int], float]
    form: str
    scale: str | None
    cache_id: str | None = None
    data_only: bool = False  # not post-mortem: the value depends on data and architecture only
    spec: Any = None  # the registered MeasureSpec, for built-in measures
    options: dict[str, Any] = field(default_factory=dict)


def resolve_measure(measure: Any, form: str | None, scale: str | None, options: dict[str, Any]) -> MeasureUnderAudit:
    """A registered name or spec (audited in bound form by default) or any callable Run → float."""
    if isinstance(measure, str):
        from pytest_fragility import measures

        measure = measures.get(measure)
    # a spec can only exist if the registry was imported: a plain callable never loads torch here
    registry = sys.modules.get("pytest_fragility.measures.registry")
    if registry is not None and isinstance(measure, registry.MeasureSpec):
        spec = measure
        form = form or "bound"
        if form not in ("raw", "bound"):
            raise ConfigurationError(f"form must be 'raw' or 'bound', got {form!r}")
        option_text = ",".join(f"{k}={v!r}" for k, v in sorted(options.items()))
        return MeasureUnderAudit(
            name=spec.name, raw=lambda run: spec.compute(run, **options),
            to_form=spec.to_bound if form == "bound" else (lambda raw, m: raw),
            form=form, scale=scale or spec.scale,
            cache_id=f"{spec.name}@v{spec.version}|{option_text}", data_only=not spec.post_mortem,
            spec=spec, options=options)
    if not callable(measure):
        raise ConfigurationError(f"measure must be a callable Run -> float or a measure name, got {measure!r}")
    if form not in (None, "as-returned"):
        raise ConfigurationError("form= applies to built-in measures; a custom measure is audited as returned")
    if options:
        raise ConfigurationError("measure_options= applies to built-in measures only")
    name = getattr(measure, "__name__", type(measure).__name__)
    return MeasureUnderAudit(name=name, raw=measure, to_form=lambda raw, m: raw, form="as-returned", scale=scale)


def as_scalar(value: Any) -> float:
    """A finite float from a measure's return value, or a ValueError saying what it was."""
    if isinstance(value, bool):
        raise ValueError("returned a bool, not a number")
    if isinstance(value, numbers.Real):
        number = float(value)
    elif hasattr(value, "item") and getattr(value, "ndim", None) == 0:
        item = value.item()
        if isinstance(item, bool):
            raise ValueError(f"returned a boolean {type(value).__name__}, not a number")
        number = float(item)
    else:
        shape = getattr(value, "shape", None)
        raise ValueError(f"returned {type(value).__name__}{'' if shape is None else f' of shape {tuple(shape)}'}"
                         ", not a scalar number")
    if not math.isfinite(number):
        raise ValueError(f"returned {number}")
    return number


@dataclass
class AuditResult:
    """Everything one audit found: verdict, checks, curves and the cells behind them."""

    measure: str
    family: str
    budget: str
    form: str
    scale: str
    verdict: str
    checks: list[CheckResult]
    curves: dict[str, Curve]
    cells: list[Cell]
    predictiveness: dict[str, Any]
    runs: dict[str, int]
    tolerances: dict[str, Any]
    variants: list[dict[str, Any]] = field(default_factory=list)

    @property
    def errors(self) -> list[str]:
        return [c.error for c in self.cells if c.error]

    def passed(self, strict: bool = False) -> bool:
        """Whether a test built on this audit passes (`strict` also fails on inconclusive)."""
        failing = {rules.FRAGILE, rules.ERROR} | ({rules.INCONCLUSIVE} if strict else set())
        return self.verdict not in failing

    def to_frame(self) -> Any:
        """One row per run: variant, m, seed, measure value (audited and raw), errors."""
        import pandas as pd

        return pd.DataFrame([{
            "measure": self.measure, "family": self.family, "variant": c.variant, "kind": c.kind,
            "m": c.m, "seed": c.seed, "value": c.value, "raw": c.raw, "test_error": c.test_error,
            "train_error": c.train_error, "converged": c.converged, "error": c.error,
        } for c in self.cells])

    def to_dict(self) -> dict[str, Any]:
        """Plain Python types only (JSON-ready and safe to send between pytest-xdist workers)."""
        return {
            "measure": self.measure, "family": self.family, "budget": self.budget, "form": self.form,
            "scale": self.scale, "verdict": self.verdict,
            "checks": [c.to_dict() for c in self.checks],
            "curves": {name: curve.to_dict() for name, curve in self.curves.items()},
            "predictiveness": self.predictiveness, "runs": self.runs, "errors": self.errors,
            "tolerances": self.tolerances, "variants": self.variants,
        }

    def to_json(self, indent: int | None = 2) -> str:
        import json

        return json.dumps(self.to_dict(), indent=indent, allow_nan=False)

    def plot(self, path: str | Path | None = None) -> Any:
        """Learning curves of every variant (measure and test error) as a matplotlib figure."""
        from pytest_fragility.report.plots import audit_figure

        return audit_figure(self.to_dict(), path)

    def summary(self) -> str:
        """The plain-text failure diff (the plugin shows it coloured)."""
        from pytest_fragility.report.terminal import render_audit

        return render_audit(self.to_dict(), color=False)


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
    from pytest_fragility.cache import ModelCache, default_cache_dir

    perturbations = check_variants(perturbations, "perturbation", "perturbations")
    rungs = check_variants(data, "data", "data")
    chosen_checks = _checks_with_expectation(checks, expect)
    tolerances = resolve_tolerances(tolerance)
    choice("scale", scale, ("log", "linear"))
    subject = resolve_measure(measure, form, scale, dict(measure_options or {}))
    fam = families.get(family) if isinstance(family, str) else family
    store = cache if isinstance(cache, ModelCache) else ModelCache(cache or default_cache_dir())
    budget_name = budget if isinstance(budget, str) else budget.name
    if isinstance(executor, str):
        from pytest_fragility.train.executor import get_executor

        executor = get_executor(executor)
    if runs is None:
        runs = fam.runs(budget, [*perturbations, *rungs], device=device, cache=store,
                        data_dir=data_dir, executor=executor, progress=progress)
    if subject.spec is not None and subject.spec.where == "cluster" and hasattr(executor, "measure"):
        precompute([subject.spec.name], runs, store, progress=progress, measure_options=subject.options,
                   executor=executor)
    kinds = {"base": "base", **{v.name: v.kind for v in (*perturbations, *rungs)}}
    cells = measure_cells(subject, runs, kinds, store, progress)
    if subject.scale is None:
        subject.scale = stats.infer_scale([c.value for c in cells])
    curves = build_curves(cells, kinds)
    context = Context(curves, subject.scale, tolerances, seed)  # type: ignore[arg-type]
    results = run_checks(context, chosen_checks, [p.name for p in perturbations],
                         [r.name for r in rungs], expect)
    if "invariance" in chosen_checks:
        results += invariance_checks(subject, runs, cells, subject.scale, tolerances)
    predictive = predictiveness(cells, [*kinds])
    if any(tolerances[k] is not None for k in ("kendall_min", "psi_min", "sign_error_max")):
        results.append(predictive_check(predictive, tolerances))
    failed = [c for c in cells if c.error]
    if failed:
        results.append(CheckResult(
            "measure", "all", rules.ERROR,
            f"the measure failed on {len(failed)} of {len(cells)} runs; first: {failed[0].error}",
            details={"errors": [c.error for c in failed]}))
    report = getattr(runs, "report", None)
    counts = {
        "total": len(cells),
        "trained": getattr(report, "trained", 0),
        "cached": getattr(report, "cached", 0),
        "failed_training": len(getattr(report, "failed", {})),
        "non_converged": sum(1 for c in cells if not c.converged),
        "measure_errors": len(failed),
    }
    return AuditResult(
        measure=subject.name, family=fam.name, budget=budget_name, form=subject.form,
        scale=subject.scale, verdict=rules.overall(results), checks=results, curves=curves, cells=cells,
        predictiveness=predictive, runs=counts, tolerances=tolerances,
        variants=[v.to_dict() for v in (*perturbations, *rungs)])


def _checks_with_expectation(checks: Sequence[str], expect: str | None) -> tuple[str, ...]:
    """Validated checks; `expect=` turns the tracking check on."""
    chosen = validate_checks(checks)
    choice("expect value", expect, ("decreasing", "increasing"))
    return chosen + ("tracking",) if expect and "tracking" not in chosen else chosen


def measure_cells(subject: MeasureUnderAudit, runs: Sequence[Run], kinds: dict[str, str],
                  store: Any, progress: bool) -> list[Cell]:
    """Measure every converged run; a failure marks that cell, names the run, and moves on."""
    cells = []
    with _progress(progress, len(runs)) as advance:
        for run in runs:
            cell = Cell(run.variant, kinds.get(run.variant, "perturbation"), run.m, run.seed,
                        test_error=_number(run.test_error), train_error=_number(run.train_error),
                        converged=bool(run.converged))
            cell.n_test = run.n_test or DEFAULT_TEST_SET
            if cell.converged:
                try:
                    cell.raw = _raw_value(subject, run, store)
                    cell.value = as_scalar(subject.to_form(cell.raw, run.m))
                except Exception as error:  # any failure of the user's code is reported, not raised
                    cell.error = f"{type(error).__name__}: {error} (run {run.describe()})"
                    cell.raw = cell.value = math.nan
            run.release()  # drop the tensors of a cached run; they reload if asked for again
            cells.append(cell)
            advance(1)
    return cells


def precompute(names: Sequence[str], runs: Sequence[Run], store: Any, *, progress: bool = True,
               measure_options: dict[str, Any] | None = None, executor: Any = None) -> None:
    """Compute many built-in measures in one pass over the runs, into the value cache.

    Auditing measures one at a time would load every run once per measure and repeat the
    σ and α searches that several measures share; here each run is loaded once and its
    searches are shared. A failure is left for the audit to report with the run named.
    With an executor that can measure beside the runs (Ray), the measures that declare
    ``where="cluster"`` are computed there and only the rest here.
    """
    subjects = [resolve_measure(name, None, None, dict(measure_options or {})) for name in names]
    if hasattr(executor, "measure"):
        remote = [s for s in subjects if s.spec.where == "cluster"]
        if remote:
            _measure_remotely(executor, remote, runs, store, progress)
            subjects = [s for s in subjects if s not in remote]
    with _progress(progress, len(runs)) as advance:
        for run in runs:
            if run.converged:
                pending: dict[str, dict[str, float]] = {}
                for subject in subjects:
                    try:
                        _raw_value(subject, run, store, pending)
                    except Exception:  # reported by the audit itself, which recomputes it
                        pass
                for key, values in pending.items():  # one locked write per value file
                    store.put_values(key, values)
            run.release()  # drop the tensors of a cached run; they reload if asked for again
            advance(1)


def _measure_remotely(executor: Any, subjects: list[MeasureUnderAudit], runs: Sequence[Run], store: Any,
                      progress: bool) -> None:
    """Send each run with the measures its value cache lacks; store what comes back."""
    work = []
    for run in runs:
        if not run.converged:
            continue
        missing = [s for s in subjects if s.cache_id not in store.get_values(_value_key(s, run) or "")]
        if missing:
            work.append((run, missing))
    requests = [(run, [(s.spec.name, s.options) for s in missing]) for run, missing in work]
    for (run, missing), values in zip(work, executor.measure(requests, progress=progress)):
        for subject in missing:
            value = values.get(subject.spec.name)
            if isinstance(value, float):
                store.put_values(_value_key(subject, run), {subject.cache_id: value})


def _value_key(subject: MeasureUnderAudit, run: Run) -> str | None:
    """Where a built-in measure's value is cached: per network, or, for a measure that is
    not post-mortem, per training set and architecture (so perturbations that only change
    the optimizer share one computation of the marginal-likelihood bound)."""
    if subject.cache_id is None or not run.key:
        return None
    recipe = run.recipe
    if not subject.data_only or recipe is None:
        return run.key
    data = (recipe.dataset, recipe.task, recipe.label_noise, recipe.pixel_shuffle, recipe.arch,
            recipe.depth, recipe.dtype, run.m, run.seed)
    return "data-" + hashlib.sha256(repr(data).encode()).hexdigest()


def _raw_value(subject: MeasureUnderAudit, run: Run, store: Any,
               pending: dict[str, dict[str, float]] | None = None) -> float:
    """The raw value, from the value cache or computed and cached; with `pending`, new values
    are collected there for the caller to write together."""
    key = _value_key(subject, run)
    if key is None:
        return as_scalar(subject.raw(run))
    cached = store.get_values(key).get(subject.cache_id)
    if cached is not None:
        return float(cached)
    value = as_scalar(subject.raw(run))
    if pending is None:
        store.put_values(key, {subject.cache_id: value})
    else:
        pending.setdefault(key, {})[subject.cache_id] = value
    return value


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def build_curves(cells: list[Cell], kinds: dict[str, str]) -> dict[str, Curve]:
    """Curves per variant, base first, in the order variants were given; NaN where missing."""
    curves = {}
    for variant in kinds:
        mine = [c for c in cells if c.variant == variant]
        if not mine:
            continue
        sizes = sorted({c.m for c in mine})
        seeds = sorted({c.seed for c in mine})
        arrays = {k: np.full((len(seeds), len(sizes)), np.nan) for k in ("value", "raw", "test", "train")}
        for c in mine:
            at = (seeds.index(c.seed), sizes.index(c.m))
            arrays["test"][at], arrays["train"][at] = c.test_error, c.train_error
            if c.converged and not c.error:
                arrays["value"][at], arrays["raw"][at] = c.value, c.raw
            else:
                arrays["test"][at] = arrays["train"][at] = np.nan  # excluded runs leave both curves
        curves[variant] = Curve(variant, kinds[variant], np.array(sizes), seeds, arrays["value"],
                                arrays["raw"], arrays["test"], arrays["train"])
    return curves


def run_checks(ctx: Context, chosen: tuple[str, ...], perturbations: list[str], rungs: list[str],
               expect: str | None) -> list[CheckResult]:
    results: list[CheckResult] = []
    if "base" not in ctx.curves:
        return [CheckResult("measure", "base", rules.ERROR, "no base runs to compare against")]
    per_perturbation = [c for c in ("trend", "scaling", "value") if c in chosen]
    for variant in perturbations:
        if variant not in ctx.curves:
            continue
        gate = rules.benign(ctx, variant)
        results.append(gate)
        for check in per_perturbation:
            if gate.verdict == rules.NOT_BENIGN:
                results.append(CheckResult(check, variant, rules.NOT_BENIGN,
                                           "perturbation not benign: not held against the measure"))
            else:
                results.append(getattr(rules, check)(ctx, variant))
    if "data" in chosen and rungs:
        present = [r for r in rungs if r in ctx.curves]
        if present:
            results.append(rules.data(ctx, present))
    if "tracking" in chosen:
        results += [rules.tracking(ctx, v, expect) for v in ctx.curves]
    return results


def invariance_checks(subject: MeasureUnderAudit, runs: Sequence[Run], cells: list[Cell],
                      scale: str, tolerances: dict[str, Any]) -> list[CheckResult]:
    """Measure reparameterized copies of a few base runs (largest m); no retraining."""
    from pytest_fragility.invariance import reparameterizations, transformed_run

    values = {(c.variant, c.m, c.seed): c.value for c in cells}
    base = [r for r in runs if r.variant == "base" and r.converged
            and math.isfinite(values.get((r.variant, r.m, r.seed), math.nan))]
    if not base:
        return [CheckResult("invariance", "base", rules.INCONCLUSIVE,
                            "no converged base run with a measure value to transform")]
    largest = max(r.m for r in base)
    sample = [r for r in base if r.m == largest][:INVARIANCE_RUNS]
    try:
        changes = reparameterizations(sample[0].model, tolerances["invariance_alpha"])
    except Exception:  # toy or custom runs without a Sequential model
        changes = []
    if not changes:
        return [CheckResult("invariance", "base", rules.INCONCLUSIVE,
                            "the model is not a Sequential ReLU network; no reparameterization to apply")]
    limit = math.log1p(tolerances["invariance"])
    results = []
    for change in changes:
        worst, errors = 0.0, []
        for run in sample:
            original = values[(run.variant, run.m, run.seed)]
            try:
                changed = as_scalar(subject.to_form(as_scalar(subject.raw(transformed_run(run, change))), run.m))
            except Exception as error:
                errors.append(f"{type(error).__name__}: {error}")
                continue
            if scale == "linear":
                delta = abs(math.log(changed / original)) if changed > 0 and original > 0 else math.inf
            else:
                delta = abs(changed - original)
            worst = max(worst, delta)
        if errors:
            results.append(CheckResult("invariance", change.name, rules.ERROR,
                                       f"the measure failed on a reparameterized run: {errors[0]}"))
            continue
        verdict = rules.STABLE if worst <= limit else rules.FRAGILE
        shown = f"×{math.exp(worst):.3g}" if scale == "linear" else f"Δ {worst:.3g}"
        results.append(CheckResult(
            "invariance", change.name, verdict,
            f"{'unchanged' if verdict == rules.STABLE else 'changed'} under a function-preserving "
            f"reparameterization: worst {shown} over {len(sample)} runs (tolerance {tolerances['invariance']:g})",
            tolerance=tolerances["invariance"], details={"worst_change": worst if math.isfinite(worst) else None}))
    return results


def predictiveness(cells: list[Cell], variants: list[str]) -> dict[str, Any]:
    """Kendall τ with the generalization gap, granulated Ψ, robust sign error (reported)."""
    ok = [c for c in cells if c.converged and not c.error and math.isfinite(c.value)]
    if len(ok) < 2:
        return {"kendall_tau": None, "psi": None, "sign_error": None, "n_runs": len(ok)}
    values = np.array([c.value for c in ok])
    gaps = np.array([c.test_error - c.train_error for c in ok])
    tau = stats.kendall_tau_a(values, gaps)
    granulated = stats.granulated_kendall(values, gaps, {"m": [c.m for c in ok],
                                                         "variant": [c.variant for c in ok]})
    environments = []
    by_key = {(c.variant, c.m, c.seed): c for c in ok}
    for variant in variants[1:]:
        for m in sorted({c.m for c in ok if c.variant == variant}):
            pairs = [(by_key[("base", m, a.seed)], b) for b in ok if b.variant == variant and b.m == m
                     for a in ok if a.variant == "base" and a.m == m]
            if pairs:
                environments.append(stats.Environment(
                    c1=[a.value for a, _ in pairs], c2=[b.value for _, b in pairs],
                    g1=[a.test_error - a.train_error for a, _ in pairs],
                    g2=[b.test_error - b.train_error for _, b in pairs],
                    n_test=[min(a.n_test, b.n_test) for a, b in pairs], name=f"base→{variant} m={m}"))
    sign = stats.robust_sign_error(environments).to_dict() if environments else None
    finite = lambda x: None if x is None or not math.isfinite(x) else float(x)  # noqa: E731
    return {"kendall_tau": finite(tau), "psi": finite(granulated["Psi"]),
            "psi_axes": {k: finite(v) for k, v in granulated["psi"].items()},
            "sign_error": sign, "n_runs": len(ok)}


def predictive_check(predictive: dict[str, Any], tol: dict[str, Any]) -> CheckResult:
    problems, unknowns = [], []
    tests = [("kendall_tau", tol["kendall_min"], ">="), ("psi", tol["psi_min"], ">=")]
    worst = (predictive.get("sign_error") or {}).get("max")
    for key, threshold, _ in tests:
        if threshold is None:
            continue
        got = predictive.get(key)
        if got is None:
            unknowns.append(key)
        elif got < threshold:
            problems.append(f"{key} {got:.3f} < {threshold}")
    if tol["sign_error_max"] is not None:
        if worst is None:
            unknowns.append("sign_error")
        elif worst > tol["sign_error_max"]:
            problems.append(f"worst sign error {worst:.3f} > {tol['sign_error_max']}")
    if problems:
        return CheckResult("predictive", "all", rules.FRAGILE, "not predictive: " + "; ".join(problems))
    if unknowns:
        return CheckResult("predictive", "all", rules.INCONCLUSIVE, f"cannot compute {', '.join(unknowns)}")
    return CheckResult("predictive", "all", rules.STABLE, "predictiveness thresholds met")


class _progress:
    """A rich progress bar over measured runs (no-op when disabled)."""

    def __init__(self, enabled: bool, total: int) -> None:
        self.enabled, self.total, self.bar = enabled and total > 0, total, None

    def __enter__(self) -> Callable[[int], None]:
        if not self.enabled:
            return lambda n: None
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.bar = Progress(TextColumn("measuring"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                            transient=True)
        self.bar.__enter__()
        task = self.bar.add_task("measure", total=self.total)
        return lambda n: self.bar.advance(task, n)

    def __exit__(self, *exc: object) -> None:
        if self.bar is not None:
            self.bar.__exit__(*exc)


def environment() -> dict[str, Any]:
    """Versions and machine for reports and baselines."""
    import importlib.metadata as md

    versions = {}
    for package in ("pytest-fragility", "torch", "numpy", "scipy"):
        try:
            versions[package] = md.version(package)
        except md.PackageNotFoundError:
            versions[package] = None
    return {"python": platform.python_version(), "platform": platform.platform(),
            "machine": platform.machine(), **versions}
