"""Default tolerances of the checks, importable without numpy (decorators validate keys).

Each default and its rationale is documented in docs/method.md; every one can be set
per test (``tolerance={...}``), per audit, or for a whole suite (ini
``fragility_tolerances``).
"""

from __future__ import annotations

from typing import Any, Mapping

from pytest_fragility.errors import ConfigurationError, unknown

TOLERANCES: dict[str, Any] = {
    "benign_exponent": 0.1,      # |β_e(p) − β_e(base)| for a perturbation to count as benign
    "benign_ratio": 1.25,        # median over m of e_p/e_base (either way) for a benign perturbation
    "exponent": 0.25,            # |β_μ(p) − β_μ(base)| beyond which scaling changed
    "exponent_relative": None,   # if set: tolerance = this × |β_e(base)| instead of `exponent`
    "value_ratio": 1.5,          # median over m of μ_p/μ_base (either way) beyond which the value changed
    "data_tau": 0.8,             # mean over m of τ-a(μ, e) across ladder rungs needed
    "invariance": 0.05,          # relative change allowed under a function-preserving reparameterization
    "invariance_alpha": 4.0,     # layer rescaling factor of the invariance check
    "level": 0.95,               # confidence level of every interval
    "n_boot": 2000,              # bootstrap resamples
    "kendall_min": None,         # predictive check: minimum Kendall τ(μ, gap) over all runs
    "psi_min": None,             # predictive check: minimum granulated Ψ
    "sign_error_max": None,      # predictive check: maximum worst-case robust sign error
}


def resolve_tolerances(overrides: Mapping[str, Any] | None) -> dict[str, Any]:
    """Defaults updated by `overrides`; an unknown key lists the valid ones."""
    merged = dict(TOLERANCES)
    for key, value in (overrides or {}).items():
        if key not in TOLERANCES:
            raise unknown("tolerance key", key, list(TOLERANCES))
        if value is not None and (isinstance(value, bool) or not isinstance(value, (int, float))):
            raise ConfigurationError(f"tolerance {key!r} must be a number, got {value!r}")
        if value is not None and value < 0:
            raise ConfigurationError(f"tolerance {key!r} must be >= 0, got {value!r}")
        merged[key] = value
    if not 0 < merged["level"] < 1:
        raise ConfigurationError(f"tolerance 'level' must be in (0, 1), got {merged['level']!r}")
    return merged


def parse_tolerance_lines(lines: list[str]) -> dict[str, Any]:
    """ini ``fragility_tolerances`` lines ("exponent = 0.3") into a dict."""
    parsed: dict[str, Any] = {}
    for line in lines:
        if not line.strip():
            continue
        key, sep, text = line.partition("=")
        if not sep:
            raise ConfigurationError(f"fragility_tolerances: expected 'key = number', got {line!r}")
        try:
            parsed[key.strip()] = None if text.strip().lower() == "none" else float(text)
        except ValueError:
            raise ConfigurationError(f"fragility_tolerances: {key.strip()!r} needs a number, got {text.strip()!r}") from None
    return resolve_tolerances(parsed) and parsed
