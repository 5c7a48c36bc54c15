"""Learning-curve figures of an audit (matplotlib `Figure` objects, no display or pyplot needed).

One figure per audit: a row for the base and its perturbations and, when there is a
data ladder, a row for the rungs. Columns: the audited form of the measure, its raw
form (for built-in measures audited in bound form), and test error. Lines are the
seed-aggregated curves (geometric mean for positive measures); bands span the seeds.
"""

from __future__ import annotations

import warnings
from pathlib import Path
from typing import Any

import numpy as np

VERSION = 2  # part of the figure cache key: bump when the drawing changes
COLORS = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#8c564b", "#e377c2", "#17becf"]


def _array(rows: list[list[float | None]]) -> np.ndarray:
    return np.array([[np.nan if v is None else v for v in row] for row in rows], dtype=float)


def _panel(ax: Any, curves: list[dict[str, Any]], key: str, log_values: bool, title: str) -> None:
    for i, curve in enumerate(curves):
        m = np.array(curve["m"], dtype=float)
        values = _array(curve[key])
        if log_values:
            values = np.where(values > 0, values, np.nan)
        if not np.isfinite(values).any():
            continue
        with np.errstate(all="ignore"), warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a size with no finite seed is simply not drawn
            centre = np.exp(np.nanmean(np.log(values), axis=0)) if log_values else np.nanmean(values, axis=0)
            low, high = np.nanmin(values, axis=0), np.nanmax(values, axis=0)
        color = COLORS[i % len(COLORS)]
        ax.plot(m, centre, marker="o", markersize=3, color=color, label=curve["variant"], linewidth=1.5)
        ax.fill_between(m, low, high, color=color, alpha=0.18, linewidth=0)
    ax.set_xscale("log")
    if log_values:
        ax.set_yscale("log")
    ax.set_xlabel("training-set size m")
    ax.set_title(title, fontsize=9)
    ax.grid(True, which="both", alpha=0.25)


def audit_figure(audit: dict[str, Any], path: str | Path | None = None, dpi: int = 80) -> Any:
    """The figure of one audit (plain-dict form); saved as PNG when `path` is given."""
    from matplotlib.figure import Figure  # no pyplot: drawing never switches the process's backend

    curves = list(audit["curves"].values())
    rows = [("variants", [c for c in curves if c["kind"] != "rung"])]
    ladder = [c for c in curves if c["kind"] in ("base", "rung")]
    if len(ladder) > 1:
        rows.append(("data ladder", ladder))
    show_raw = audit["form"] == "bound"
    columns = 3 if show_raw else 2
    figure = Figure(figsize=(4.2 * columns, 3.2 * len(rows)))
    figure.subplots_adjust(left=0.07, right=0.98, bottom=0.1, top=0.9, wspace=0.25, hspace=0.45)
    axes = np.atleast_2d(figure.subplots(len(rows), columns, squeeze=False))
    positive = audit["scale"] == "positive"
    for r, (label, group) in enumerate(rows):
        form = "bound form" if show_raw else "as returned"
        _panel(axes[r, 0], group, "values", positive, f"{audit['measure']} ({form}) — {label}")
        if show_raw:
            raw = _array(sum((c["raw"] for c in group), []))
            raw_positive = positive and np.isfinite(raw).any() and bool(np.nanmin(raw) > 0)
            _panel(axes[r, 1], group, "raw", raw_positive, f"{audit['measure']} (raw) — {label}")
        _panel(axes[r, columns - 1], group, "test_error", True, f"test error — {label}")
        if axes[r, columns - 1].get_legend_handles_labels()[0]:  # no curve when every run was left out
            axes[r, columns - 1].legend(fontsize=7, loc="best")
    figure.suptitle(f"{audit['measure']} on {audit['family']}: {audit['verdict']}", fontsize=11)
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure
