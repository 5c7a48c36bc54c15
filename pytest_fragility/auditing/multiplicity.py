"""Multiplicity: the per-row level that keeps an audit's family-wise false-`fragile` rate ≤ α.

An audit asks one question per row (trend, scaling and value per perturbation, the ladder,
tracking per variant), so its chance of at least one false `fragile` grows with the rows.
Measured (docs/method.md, benchmarks/bench_calibration.py): with 4 seeds or more the
nominal per-row level already keeps that chance below α on every grid, because intervals
are then narrow next to the tolerances and a null effect almost never lies beyond them;
with 2 or 3 seeds intervals are wide, "beyond the tolerance" becomes "beyond zero", and the
rows add up (up to 15% at the smoke budget). There, every row uses Bonferroni's level
1 − (1 − level)/k over the k rows that can say `fragile`.
"""

from __future__ import annotations

from typing import Sequence

FEW_SEEDS = 3  # at or below this many seeds the rows are corrected for multiplicity
PER_PERTURBATION = ("trend", "scaling", "value")


def fragile_rows(chosen: Sequence[str], perturbations: int, rungs: int, variants: int) -> int:
    """How many rows of an audit can say `fragile`."""
    rows = perturbations * sum(1 for c in PER_PERTURBATION if c in chosen)
    rows += 1 if "data" in chosen and rungs else 0
    rows += variants if "tracking" in chosen else 0
    return rows


def row_level(level: float, rows: int, seeds: int) -> tuple[float, str]:
    """The confidence level of every row's interval, and how it was chosen."""
    if seeds > FEW_SEEDS or rows <= 1:
        return level, f"per-row level {level:g} (no correction needed with {seeds} seeds)"
    corrected = 1 - (1 - level) / rows
    return corrected, f"per-row level {corrected:.4g}: Bonferroni over {rows} rows (only {seeds} seeds)"
