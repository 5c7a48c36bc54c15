"""Learning-curve statistics behind the checks: exponents, paired differences, intervals.

A *curve* is ``values[S, M]``: S seeds × M training-set sizes ``m`` (ascending), NaN for a
missing cell (a run that failed or did not converge). Seed s is the same seed id in every
variant of an audit, and it fixes the initialization and the nested training subset for
every m and every variant: one seed is one learning curve, the experimental unit. So
every estimate here is built from one statistic per seed (its slope against ln m, its
mean level, or the paired difference of two variants' curves) and its interval is a
Student-t interval over seeds (`Estimate`). Within-size resampling, which treats the
seeds at different m as independent, under-covers when seeds carry offsets or slopes of
their own; docs/method.md has the measured coverage of both.

numpy and scipy only (no torch); the intervals are closed-form, so the same data always
give the same verdict.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from scipy.special import stdtrit

from pytest_fragility.auditing.estimate import Estimate
from pytest_fragility.auditing.ranking import kendall_tau_a
from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.names import SCALES

Scale = Literal["positive", "log"]


# --------------------------------------------------------------------------- analysis scale


def infer_scale(values: Any) -> Scale:
    """"positive" when every finite value is > 0 (a power law fits), else "log".

    An array with no finite value at all counts as positive (nothing contradicts it).
    """
    arr = np.asarray(values, dtype=float)
    finite = arr[np.isfinite(arr)]
    return "positive" if bool(np.all(finite > 0)) else "log"


def transform(values: Any, scale: Scale) -> np.ndarray:
    """Values on the analysis scale: ln μ for "positive", μ itself for "log".

    Non-finite cells become NaN (missing). A value ≤ 0 under "positive" has no logarithm and
    is an error: the audit marks such a run's measurement before it gets here.
    """
    if scale not in SCALES:
        raise unknown("scale", scale, SCALES)
    arr = np.asarray(values, dtype=float)
    out = np.where(np.isfinite(arr), arr, np.nan)
    if scale == "log":
        return out
    if np.any(out <= 0):
        raise ConfigurationError(f"{int(np.sum(out <= 0))} values are <= 0 and have no logarithm; "
                                 "a measure that can be <= 0 needs scale='log'")
    return np.log(out)


def aggregate(values: Any, scale: Scale) -> np.ndarray:
    """Seed-aggregated curve[M]: the mean over finite seeds of the transformed values
    (ln of the geometric mean for a positive measure). A size with no finite seed gives NaN."""
    cells = transform(_curve_array(values), scale)
    finite = np.isfinite(cells)
    counts = finite.sum(axis=0)
    sums = np.where(finite, cells, 0.0).sum(axis=0)
    return np.where(counts > 0, sums / np.maximum(counts, 1), np.nan)


def slope(m: Any, curve: Any) -> float:
    """Least-squares slope of a 1-D ``curve`` against ln m over its finite points (NaN if < 2)."""
    y = np.asarray(curve, dtype=float)
    if y.ndim != 1:
        raise ConfigurationError(f"curve must be 1-D (one value per size); got shape {y.shape}")
    return float(per_seed_slopes(m, y[None, :])[0])


def trend_kendall(m: Any, values: Any, scale: Scale) -> float:
    """Kendall τ-a of the aggregated curve against m: a trend that assumes no functional form."""
    curve = aggregate(values, scale)
    return kendall_tau_a(_sizes(m, len(curve)), curve)


# --------------------------------------------------------------------------- per-seed statistics


def per_seed_slopes(m: Any, cells: np.ndarray) -> np.ndarray:
    """slopes[S]: each seed's least-squares slope against ln m over its finite sizes (NaN if < 2)."""
    cells = np.asarray(cells, dtype=float)
    x = np.log(_sizes(m, cells.shape[1]))
    finite = np.isfinite(cells)
    count = finite.sum(axis=1)
    weight = finite.astype(float)
    x_mean = (weight * x).sum(axis=1) / np.maximum(count, 1)
    y = np.where(finite, cells, 0.0)
    y_mean = y.sum(axis=1) / np.maximum(count, 1)
    dx = (x[None, :] - x_mean[:, None]) * weight
    sxx = (dx ** 2).sum(axis=1)
    sxy = (dx * (y - y_mean[:, None])).sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where((count >= 2) & (sxx > 0), sxy / sxx, np.nan)


def per_seed_levels(cells: np.ndarray) -> np.ndarray:
    """levels[S]: each seed's mean over its finite sizes (NaN for a seed with none)."""
    cells = np.asarray(cells, dtype=float)
    finite = np.isfinite(cells)
    count = finite.sum(axis=1)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(count > 0, np.where(finite, cells, 0.0).sum(axis=1) / count, np.nan)


def t_quantile(probability: float, df: int) -> float:
    """The Student-t quantile with `df` degrees of freedom."""
    return float(stdtrit(df, probability))


def seed_estimate(statistics: np.ndarray, *, level: float, n_sizes: int) -> Estimate:
    """Mean of the finite per-seed statistics with a Student-t interval at `level`."""
    _check_level(level)
    finite = np.asarray(statistics, dtype=float)
    finite = finite[np.isfinite(finite)]
    n = len(finite)
    if n == 0:
        return Estimate(math.nan, math.nan, math.nan, level, 0, n_sizes)
    mean = float(finite.mean())
    if n < 2:
        return Estimate(mean, math.nan, math.nan, level, n, n_sizes)
    se = float(finite.std(ddof=1) / math.sqrt(n))
    half = t_quantile((1 + level) / 2, n - 1) * se
    return Estimate(mean, mean - half, mean + half, level, n, n_sizes, se)


# --------------------------------------------------------------------------- estimates of curves


def trend(m: Any, values: Any, scale: Scale, *, level: float = 0.95) -> Estimate:
    """The curve's trend: mean over seeds of each seed's slope against ln m (the power-law
    exponent β for a "positive" measure), with a t interval over seeds."""
    cells = transform(_curve_array(values), scale)
    return seed_estimate(per_seed_slopes(m, cells), level=level, n_sizes=_sizes_with_data(cells))


def trend_difference(m: Any, base: Any, other: Any, scale: Scale, *, level: float = 0.95) -> Estimate:
    """slope(other) − slope(base), paired by seed: per seed, the slope of the difference of
    the two curves over the sizes where both have data."""
    diffs = _paired_differences(base, other, scale)
    return seed_estimate(per_seed_slopes(m, diffs), level=level, n_sizes=_sizes_with_data(diffs))


def level_difference(base: Any, other: Any, scale: Scale, *, level: float = 0.95) -> Estimate:
    """Signed mean difference of the two curves, paired by seed: per seed, the mean over
    common sizes of other − base on the analysis scale (a mean log-ratio for "positive")."""
    diffs = _paired_differences(base, other, scale)
    return seed_estimate(per_seed_levels(diffs), level=level, n_sizes=_sizes_with_data(diffs))


# --------------------------------------------------------------------------- what more data would do


def detectable(se: float, n_seeds: int, *, level: float = 0.95, power: float = 0.8) -> float:
    """The effect beyond a threshold that a t interval over `n_seeds` seeds with standard
    error `se` shows with probability `power`: (t_{(1+level)/2} + t_{power}) · se, with
    n − 1 degrees of freedom (NaN when it cannot be computed)."""
    if n_seeds < 2 or not math.isfinite(se):
        return math.nan
    df = n_seeds - 1
    return (t_quantile((1 + level) / 2, df) + t_quantile(power, df)) * se


def seeds_for_half_width(estimate: Estimate, half_width: float) -> int | None:
    """About how many seeds would shrink the interval to ±`half_width`, from the observed
    spread (the t quantile at the larger n; None when no spread was observed)."""
    if not (math.isfinite(estimate.se) and estimate.se > 0 and half_width > 0):
        return None
    sd = estimate.se * math.sqrt(estimate.n_seeds)
    n = max(estimate.n_seeds, 2)
    while t_quantile((1 + estimate.level) / 2, n - 1) * sd / math.sqrt(n) > half_width:
        n += 1
        if n > 1000:
            return None
    return n


# --------------------------------------------------------------------------- inputs


def _check_level(level: float) -> None:
    if not 0 < level < 1:
        raise ConfigurationError(f"level must be between 0 and 1 (e.g. 0.95); got {level!r}")


def _curve_array(values: Any, name: str = "values") -> np.ndarray:
    arr = np.asarray(values, dtype=float)
    if arr.ndim != 2:
        raise ConfigurationError(
            f"{name} must be a 2-D array [seeds, sizes]; got shape {arr.shape} "
            "(wrap a single seed's curve as values[None, :])"
        )
    return arr


def _sizes(m: Any, n_sizes: int) -> np.ndarray:
    sizes = np.asarray(m, dtype=float)
    if sizes.ndim != 1 or len(sizes) != n_sizes:
        raise ConfigurationError(f"m must be 1-D with one entry per size ({n_sizes}); got shape {sizes.shape}")
    if not np.all(np.isfinite(sizes) & (sizes > 0)):
        raise ConfigurationError(f"training-set sizes m must be positive and finite; got {sizes.tolist()}")
    if np.any(np.diff(sizes) <= 0):
        raise ConfigurationError(f"training-set sizes m must be strictly ascending; got {sizes.tolist()}")
    return sizes


def _sizes_with_data(cells: np.ndarray) -> int:
    return int(np.isfinite(cells).any(axis=0).sum())


def _paired_differences(base: Any, other: Any, scale: Scale) -> np.ndarray:
    """Per-seed differences other − base on the analysis scale; NaN where either is missing."""
    b = transform(_curve_array(base, "base"), scale)
    o = transform(_curve_array(other, "other"), scale)
    if b.shape != o.shape:
        raise ConfigurationError(
            f"base and other must have the same [seeds, sizes] shape to be paired by seed; "
            f"got {b.shape} and {o.shape}"
        )
    return o - b
