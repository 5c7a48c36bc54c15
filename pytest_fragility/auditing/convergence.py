"""Runs that did not count: per variant, how many networks missed the stopping rule, and why.

A network that does not reach the stopping rule (100% training accuracy by default) is
left out of the curves, measure and test error alike, so a variant that loses runs is
judged on fewer seeds, or not at all. Every report shows these counts per variant; a
variant that loses more than `WARN_FRACTION` of its runs is flagged with a warning and
the fix (reports word it: `pytest_fragility.report.convergence`).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Sequence

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.auditing.measuring import Measurement

WARN_FRACTION = 0.1  # more than this share of a variant's runs lost → a warning


def by_variant(measurements: Sequence["Measurement"]) -> dict[str, dict[str, Any]]:
    """{variant: {runs, not_converged, epoch_cap, diverged, max_epochs, warning}}, in run order."""
    summary: dict[str, dict[str, Any]] = {}
    for m in measurements:
        entry = summary.setdefault(m.variant, {"runs": 0, "not_converged": 0, "epoch_cap": 0, "diverged": 0,
                                               "max_epochs": None, "warning": False})
        entry["runs"] += 1
        if m.max_epochs is not None:
            entry["max_epochs"] = max(entry["max_epochs"] or 0, m.max_epochs)
        if not m.converged:
            entry["not_converged"] += 1
            entry["diverged" if m.stop == "diverged" else "epoch_cap"] += 1
    for entry in summary.values():
        entry["warning"] = entry["not_converged"] > WARN_FRACTION * entry["runs"]
    return summary
