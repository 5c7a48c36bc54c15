"""Runs that did not count: per variant, how many networks missed the stopping rule, and why.

A network that does not reach the stopping rule (100% training accuracy by default) is
left out of the curves, measure and test error alike, so a variant that loses runs is
judged on fewer seeds, or not at all. Every report shows these counts per variant; a
variant that loses more than `WARN_FRACTION` of its runs is flagged with a warning and
the fix (reports word it: `pytest_fragility.report.convergence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.auditing.curves import Curve

WARN_FRACTION = 0.1  # more than this share of a variant's runs lost → a warning


def by_variant(curves: dict[str, "Curve"]) -> dict[str, dict[str, Any]]:
    """{variant: {runs, not_converged, epoch_cap, diverged, max_epochs, warning}}, from the
    counts each curve keeps of its runs (`curves.VariantRuns`)."""
    summary = {}
    for variant, curve in curves.items():
        counts = curve.runs
        runs = counts.planned - counts.failed_training
        summary[variant] = {"runs": runs, "not_converged": counts.non_converged, "epoch_cap": counts.epoch_cap,
                            "diverged": counts.diverged, "max_epochs": counts.max_epochs,
                            "warning": counts.non_converged > WARN_FRACTION * runs}
    return summary
