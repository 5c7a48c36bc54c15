"""Measuring: the subject's value on every run, through the value store.

Each run gives one `Measurement` (the audited value, the raw value, test error, or why
there is no value). A measure that raises or returns something that is not a finite
number marks that run's measurement `error`, naming the run, and the audit goes on.
Built-in measures' raw values are cached in the value store, so a rerun (or another
test auditing the same measure) reads them instead of recomputing.
"""

from __future__ import annotations

import hashlib
import math
from dataclasses import dataclass
from typing import Any, Sequence

from pytest_fragility.auditing.subject import Subject, as_scalar, resolve_subject
from pytest_fragility.progress import progress_bar
from pytest_fragility.runs.run import Run


@dataclass
class Measurement:
    """One run's measurement: the audited value, the raw value, or why there is none."""

    variant: str
    kind: str
    m: int
    seed: int
    run: str = ""  # the run named as in error messages
    value: float = math.nan
    raw: float = math.nan
    test_error: float = math.nan
    train_error: float = math.nan
    converged: bool = True
    error: str | None = None
    n_test: int | None = None
    stop: str = "fit"                 # Run.stop_reason: fit, epoch-cap or diverged
    max_epochs: int | None = None     # the epoch cap the run trained under


def measure_runs(subject: Subject, runs: Sequence[Run], kinds: dict[str, str], values: Any,
                 progress: bool) -> list[Measurement]:
    """Measure every converged run; a failure marks that measurement, names the run, and moves on."""
    measurements = []
    with progress_bar(progress, len(runs), "measuring") as advance:
        for run in runs:
            measurement = Measurement(run.variant, kinds.get(run.variant, "perturbation"), run.m, run.seed,
                                      run=run.describe(), test_error=_number(run.test_error),
                                      train_error=_number(run.train_error), converged=bool(run.converged),
                                      n_test=run.n_test, stop=run.stop_reason,
                                      max_epochs=getattr(run.recipe, "max_epochs", None))
            if measurement.converged:
                try:
                    measurement.raw = raw_value(subject, run, values)
                    measurement.value = as_scalar(subject.audited(measurement.raw, run.m))
                except Exception as error:  # any failure of the user's code is reported, not raised
                    measurement.error = f"{type(error).__name__}: {error} (run {measurement.run})"
                    measurement.raw = measurement.value = math.nan
            run.release()  # drop the tensors of a cached run; they reload if asked for again
            measurements.append(measurement)
            advance(1)
    return measurements


def precompute(names: Sequence[str], runs: Sequence[Run], values: Any, *, progress: bool = True,
               measure_options: dict[str, Any] | None = None, executor: Any = None) -> None:
    """Compute many built-in measures in one pass over the runs, into the value store.

    Auditing measures one at a time would load every run once per measure and repeat the
    σ and α searches that several measures share; here each run is loaded once and its
    searches are shared. A failure is left for the audit to report with the run named.
    With an executor that can run functions beside the runs (Ray), the measures that
    declare ``where="cluster"`` are computed there and only the rest here.
    """
    subjects = [resolve_subject(name, None, None, dict(measure_options or {})) for name in names]
    if hasattr(executor, "map"):
        remote = [s for s in subjects if s.spec.where == "cluster"]
        if remote:
            measure_remotely(executor, remote, runs, values, progress)
            subjects = [s for s in subjects if s not in remote]
    with progress_bar(progress, len(runs), "measuring") as advance:
        for run in runs:
            if run.converged:
                pending: dict[str, dict[str, float]] = {}
                for subject in subjects:
                    try:
                        raw_value(subject, run, values, pending)
                    except Exception:  # reported by the audit itself, which recomputes it
                        pass
                for key, computed in pending.items():  # one locked write per value file
                    values.put(key, computed)
            run.release()  # drop the tensors of a cached run; they reload if asked for again
            advance(1)


def _measure_on_worker(run: Run, requests: list[tuple[str, dict[str, Any]]]) -> dict[str, float | str]:
    """Runs beside the runs (a Ray worker): raw values of built-in measures (errors as text)."""
    from pytest_fragility import measures
    from pytest_fragility.runs.guard import guarded

    computed: dict[str, float | str] = {}
    for name, options in requests:
        try:
            compute = measures.get(name).compute
            computed[name] = float(guarded(lambda r, c=compute, o=options: c(r, **o), name)(run))
        except Exception as error:  # the driver recomputes it and reports it with the run named
            computed[name] = f"{type(error).__name__}: {error}"
    return computed


def measure_remotely(executor: Any, subjects: list[Subject], runs: Sequence[Run], values: Any,
                     progress: bool) -> None:
    """Send each run with the measures its value file lacks; store what comes back."""
    work = []
    for run in runs:
        if not run.converged:
            continue
        missing = [s for s in subjects if s.cache_id not in values.get(value_key(s, run) or "")]
        if missing:
            work.append((run, missing))
    arguments = []
    for run, missing in work:
        arguments.append((run.portable(), [(s.spec.name, s.options) for s in missing]))
        run.release()
    for (run, missing), computed in zip(work, executor.map(_measure_on_worker, arguments, progress=progress)):
        if isinstance(computed, BaseException):  # the worker died: the audit computes these itself
            continue
        for subject in missing:
            value = computed.get(subject.spec.name)
            if isinstance(value, float):
                values.put(value_key(subject, run), {subject.cache_id: value})


def value_key(subject: Subject, run: Run) -> str | None:
    """Where a built-in measure's value is cached: per network, or, for a measure that is
    not post-mortem, per training set and architecture (so perturbations that only change
    the optimizer share one computation of the marginal-likelihood bound)."""
    if subject.cache_id is None or not run.key:
        return None
    recipe = run.recipe
    if not subject.data_only or recipe is None:
        return run.key
    data = (recipe.dataset, run.data_fingerprint, recipe.task, recipe.label_noise, recipe.pixel_shuffle,
            recipe.arch, recipe.depth, recipe.dtype, run.m, run.seed)
    return "data-" + hashlib.sha256(repr(data).encode()).hexdigest()


def raw_value(subject: Subject, run: Run, values: Any, pending: dict[str, dict[str, float]] | None = None) -> float:
    """The raw value, from the value store or computed and stored; with `pending`, new
    values are collected there for the caller to write together."""
    key = value_key(subject, run)
    if key is None:
        return as_scalar(subject.raw(run))
    cached = values.get(key).get(subject.cache_id)
    if cached is not None:
        return float(cached)
    value = as_scalar(subject.raw(run))
    if pending is None:
        values.put(key, {subject.cache_id: value})
    else:
        pending.setdefault(key, {})[subject.cache_id] = value
    return value


def _number(value: Any) -> float:
    return math.nan if value is None else float(value)


def settle_scale(declared: str | None, measurements: list[Measurement]) -> tuple[str, str]:
    """The scale the checks use and where it came from.

    A measure declared "positive" whose value is ≤ 0 on a run has no logarithm there: that
    measurement becomes an error naming the run (never a silent drop). An undeclared scale
    is inferred: "positive" when every value is > 0, else "log", and the result says why.
    """
    values = [c for c in measurements if c.converged and not c.error]
    if declared == "positive":
        for c in values:
            if c.value <= 0:
                c.error = f"ValueError: value {c.value:g} is <= 0 under scale 'positive' (run {c.run})"
                c.raw = c.value = math.nan
        return "positive", "declared"
    if declared is not None:
        return declared, "declared"
    nonpositive = sum(1 for c in values if c.value <= 0)
    if nonpositive:
        return "log", f"inferred: {nonpositive} of {len(values)} values are <= 0, so trends are slopes of μ vs ln m"
    return "positive", "inferred: every value is > 0, so trends are exponents of μ vs m"

