"""The figure of a search: exponents against strength, one column per axis.

Top row: the measure's exponent (trend) at every strength tried, with its interval, the
base's as a dashed line, and 0 (where a trend flips). Bottom row: test error's exponent,
with the benign band (the base's exponent ± `benign_exponent`) shaded. Marker colours are the points' states; a red line
marks the axis's nearest counterexample. Works on the plain-dict form (`SearchResult.to_dict()`).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

STATE_COLORS = {"counterexample": "#d62728", "holds": "#2ca02c", "not-benign": "#1f77b4", "unresolved": "#ff7f0e"}


def _exponents(point: dict[str, Any]) -> dict[str, Any]:
    """The measure's and test error's exponents (with intervals) of a point and of the base."""
    rows = {row["check"]: row for row in point["rows"]}
    row = rows.get("trend") or rows.get("scaling") or next(iter(rows.values()), {})
    benign = point["benign"]
    return {"measure": (row.get("measure_exponent"), row.get("measure_exponent_ci")),
            "error": (benign.get("error_exponent"), benign.get("error_exponent_ci")),
            "base_measure": (row.get("base_measure_exponent") or {}).get("value"),
            "base_error": (benign.get("base_error_exponent") or {}).get("value")}


def _x(axis: dict[str, Any], strength: Any, options: list[Any]) -> float:
    """Where a strength sits on the axis's horizontal scale."""
    if axis["categorical"]:
        return float(options.index(strength))
    if axis["scale"] == "effective-step":
        return 1 / (1 - strength)
    return float(strength)


def _panel(ax: Any, axis: dict[str, Any], points: list[dict[str, Any]], key: str, band: float | None,
           nearest: dict[str, Any] | None, options: list[Any]) -> None:
    base_value = None
    for point in points:
        found = _exponents(point)
        value, interval = found[key]
        base_value = found[f"base_{key}"] if base_value is None else base_value
        if value is None:
            continue
        x = _x(axis, point["strength"], options)
        errors = None if not interval else [[value - interval[0]], [interval[1] - value]]
        ax.errorbar([x], [value], yerr=errors, fmt="o", markersize=5, capsize=2,
                    color=STATE_COLORS.get(point["state"], "#555"))
    if base_value is not None:
        base_x = _x(axis, axis["base"], options)
        ax.axhline(base_value, color="#555", linestyle="--", linewidth=1)
        ax.plot([base_x], [base_value], marker="s", color="#555", markersize=6)
        if band is not None:
            ax.axhspan(base_value - band, base_value + band, color="#2ca02c", alpha=0.12, linewidth=0)
    if nearest is not None:
        ax.axvline(_x(axis, nearest["strength"], options), color=STATE_COLORS["counterexample"], linewidth=1.5)
    if key == "measure":
        ax.axhline(0.0, color="#999", linewidth=0.8)  # a trend flips where the exponent crosses 0
    if axis["categorical"]:
        ax.set_xticks(range(len(options)), [str(o) for o in options], rotation=30, fontsize=7)
    elif axis["scale"] == "log" or axis["scale"] == "effective-step":
        from matplotlib.ticker import FuncFormatter, LogLocator, NullFormatter

        ax.set_xscale("log")
        ax.xaxis.set_major_locator(LogLocator(base=10, subs=(1.0, 2.0, 5.0)))
        ax.xaxis.set_major_formatter(FuncFormatter(lambda value, _: f"{value:g}"))
        ax.xaxis.set_minor_formatter(NullFormatter())
    elif axis["grid"] and axis["grid"][0] == 0:
        positive = [g for g in axis["grid"] if g > 0]
        ax.set_xscale("symlog", linthresh=min(positive) if positive else 1.0)
    ax.grid(True, which="both", alpha=0.25)


def search_figure(search: dict[str, Any], path: str | Path | None = None, dpi: int = 80) -> Any:
    """The figure of one search (plain-dict form); saved as PNG when `path` is given."""
    from matplotlib.figure import Figure  # no pyplot: drawing never switches the process's backend
    from matplotlib.lines import Line2D

    axes = search["axes"]
    figure = Figure(figsize=(max(7.0, 4.2 * len(axes)), 6.0))
    figure.subplots_adjust(left=0.08, right=0.98, bottom=0.16, top=0.88, wspace=0.3, hspace=0.35)
    grid = figure.subplots(2, max(1, len(axes)), squeeze=False)
    band = search.get("tolerances", {}).get("benign_exponent")
    for column, axis in enumerate(axes):
        mine = [p for p in search["points"] if p["axis"] == axis["name"]]
        breaks = [p for p in mine if p["state"] == "counterexample"]
        nearest = min(breaks, key=lambda p: p["distance"]) if breaks else None
        options = [axis["base"], *(o for o in axis["grid"] if o != axis["base"])] if axis["categorical"] else []
        _panel(grid[0, column], axis, mine, "measure", None, nearest, options)
        _panel(grid[1, column], axis, mine, "error", band, nearest, options)
        grid[0, column].set_title(f"{search['measure']} exponent — {axis['name']}", fontsize=9)
        grid[1, column].set_title(f"test-error exponent — {axis['name']}", fontsize=9)
        label = "1/(1 − momentum)" if axis["scale"] == "effective-step" else axis["name"]
        grid[1, column].set_xlabel(label if not axis["categorical"] else "")
    handles = [Line2D([], [], marker="o", linestyle="", color=c, label=s) for s, c in STATE_COLORS.items()]
    handles.append(Line2D([], [], marker="s", linestyle="--", color="#555", label="base"))
    figure.legend(handles=handles, loc="lower center", ncol=len(handles), fontsize=7, frameon=False)
    verdict = "counterexample " + search["counterexample"]["name"] if search["counterexample"] else "no counterexample"
    figure.suptitle(f"search: {search['measure']} on {search['family']} — {verdict}"
                    + ("" if band is None or math.isnan(band) else f" (green band: benign ±{band:g})"), fontsize=10)
    if path is not None:
        figure.savefig(path, dpi=dpi)
    return figure
