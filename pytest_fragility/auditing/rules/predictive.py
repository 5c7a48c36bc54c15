"""Predictiveness: how well the measure ranks networks by their generalization gap.

Reported beside every audit (Kendall τ-a over all runs, granulated Ψ over m and variant,
Dziugaite et al.'s worst-case robust sign error over base→variant interventions); the
opt-in "predictive" check asserts thresholds on them.
"""

from __future__ import annotations

import math
from typing import Any, Sequence

import numpy as np

from pytest_fragility.auditing import ranking
from pytest_fragility.auditing.measuring import Measurement
from pytest_fragility.auditing.verdict import FRAGILE, INCONCLUSIVE, STABLE, CheckResult
from pytest_fragility.files import plain
from pytest_fragility.spec.tolerances import Tolerances

THRESHOLDS = ("kendall_min", "psi_min", "sign_error_max")


def predictiveness(measurements: Sequence[Measurement], variants: list[str]) -> dict[str, Any]:
    """Kendall τ with the generalization gap, granulated Ψ, robust sign error (reported)."""
    ok = [c for c in measurements if c.converged and not c.error and math.isfinite(c.value)]
    if len(ok) < 2:
        return {"kendall_tau": None, "psi": None, "sign_error": None, "n_runs": len(ok)}
    values = np.array([c.value for c in ok])
    gaps = np.array([c.test_error - c.train_error for c in ok])
    granulated = ranking.granulated_kendall(values, gaps, {"m": [c.m for c in ok],
                                                           "variant": [c.variant for c in ok]})
    environments = _interventions(ok, variants)
    sign = ranking.robust_sign_error(environments).to_dict() if environments else None
    return plain({"kendall_tau": ranking.kendall_tau_a(values, gaps), "psi": granulated["Psi"],
                  "psi_axes": granulated["psi"], "sign_error": sign, "n_runs": len(ok)})


def _interventions(ok: list[Measurement], variants: list[str]) -> list[ranking.Environment]:
    """One coupled environment per (variant, m): every base seed against every variant seed.
    Runs that do not know their test-set size cannot be weighted and are left out."""
    environments = []
    by_key = {(c.variant, c.m, c.seed): c for c in ok}
    for variant in variants[1:]:
        for m in sorted({c.m for c in ok if c.variant == variant}):
            pairs = [(by_key[("base", m, a.seed)], b) for b in ok if b.variant == variant and b.m == m
                     for a in ok if a.variant == "base" and a.m == m]
            pairs = [(a, b) for a, b in pairs if a.n_test and b.n_test]
            if pairs:
                environments.append(ranking.Environment(
                    c1=[a.value for a, _ in pairs], c2=[b.value for _, b in pairs],
                    g1=[a.test_error - a.train_error for a, _ in pairs],
                    g2=[b.test_error - b.train_error for _, b in pairs],
                    n_test=[min(a.n_test, b.n_test) for a, b in pairs], name=f"base→{variant} m={m}"))
    return environments


def wanted(tolerances: Tolerances) -> bool:
    """Whether any predictiveness threshold is set (the check is opt-in)."""
    return any(getattr(tolerances, key) is not None for key in THRESHOLDS)


def predictive_check(predictive: dict[str, Any], tol: Tolerances) -> CheckResult:
    problems, unknowns = [], []
    for key, threshold in (("kendall_tau", tol.kendall_min), ("psi", tol.psi_min)):
        if threshold is None:
            continue
        got = predictive.get(key)
        if got is None:
            unknowns.append(key)
        elif got < threshold:
            problems.append(f"{key} {got:.3f} < {threshold}")
    worst = (predictive.get("sign_error") or {}).get("max")
    if tol.sign_error_max is not None:
        if worst is None:
            unknowns.append("sign_error")
        elif worst > tol.sign_error_max:
            problems.append(f"worst sign error {worst:.3f} > {tol.sign_error_max}")
    if problems:
        return CheckResult("predictive", "all", FRAGILE, "not predictive: " + "; ".join(problems))
    if unknowns:
        return CheckResult("predictive", "all", INCONCLUSIVE, f"cannot compute {', '.join(unknowns)}")
    return CheckResult("predictive", "all", STABLE, "predictiveness thresholds met")
