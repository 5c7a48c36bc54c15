"""The invariance rule: function-preserving reparameterizations must not change the measure.

A few converged base runs (at the largest m) are rescaled layer by layer or have hidden
units permuted (`pytest_fragility.runs.reparameterize`) and measured again; no
retraining is involved.
"""

from __future__ import annotations

import math
from typing import Sequence

from pytest_fragility.auditing.measuring import Measurement
from pytest_fragility.auditing.rules.bands import ratio
from pytest_fragility.auditing.subject import Subject, as_scalar
from pytest_fragility.auditing.verdict import ERROR, FRAGILE, INCONCLUSIVE, STABLE, CheckResult
from pytest_fragility.runs.run import Run
from pytest_fragility.spec.tolerances import Tolerances

INVARIANCE_RUNS = 3


def invariance_checks(subject: Subject, runs: Sequence[Run], measurements: Sequence[Measurement],
                      scale: str, tolerances: Tolerances) -> list[CheckResult]:
    """One row per reparameterization of the model: the worst change over the sampled runs."""
    values = {(c.variant, c.m, c.seed): c.value for c in measurements}
    base = [r for r in runs if r.variant == "base" and r.converged
            and math.isfinite(values.get((r.variant, r.m, r.seed), math.nan))]
    if not base:
        return [CheckResult("invariance", "base", INCONCLUSIVE,
                            "no converged base run with a measure value to transform")]
    largest = max(r.m for r in base)
    sample = [r for r in base if r.m == largest][:INVARIANCE_RUNS]
    from pytest_fragility.runs.reparameterize import reparameterizations, transformed_run  # torch, on demand

    changes = reparameterizations(sample[0].model, tolerances.invariance_alpha)
    if not changes:
        return [CheckResult("invariance", "base", INCONCLUSIVE,
                            "the model is not a Sequential ReLU network; no reparameterization to apply")]
    limit = math.log1p(tolerances.invariance)
    results = []
    for change in changes:
        worst, errors = 0.0, []
        for run in sample:
            original = values[(run.variant, run.m, run.seed)]
            try:
                changed = as_scalar(subject.audited(as_scalar(subject.raw(transformed_run(run, change))), run.m))
            except Exception as error:  # the user's measure on a transformed run: reported, not raised
                errors.append(f"{type(error).__name__}: {error}")
                continue
            if scale == "positive":
                delta = abs(math.log(changed / original)) if changed > 0 and original > 0 else math.inf
            else:
                delta = abs(changed - original)
            worst = max(worst, delta)
        if errors:
            results.append(CheckResult("invariance", change.name, ERROR,
                                       f"the measure failed on a reparameterized run: {errors[0]}"))
            continue
        verdict = STABLE if worst <= limit else FRAGILE
        shown = ratio(worst) if scale == "positive" else f"Δ {worst:.3g}"
        results.append(CheckResult(
            "invariance", change.name, verdict,
            f"{'unchanged' if verdict == STABLE else 'changed'} under a function-preserving "
            f"reparameterization: worst {shown} over {len(sample)} runs (tolerance {tolerances.invariance:g})",
            tolerance=tolerances.invariance, details={"worst_change": worst}))
    return results
