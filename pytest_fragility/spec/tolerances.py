"""The checks' tolerances: one frozen value object, importable without numpy.

Each default and its rationale is documented in docs/method.md; every one can be set
per test (``tolerance={...}``), per audit, or for a whole suite (ini
``fragility_tolerances``). Decorators validate the keys at import.
"""

from __future__ import annotations

import dataclasses
import math
import warnings
from dataclasses import dataclass
from typing import Any, Mapping

from pytest_fragility.errors import ConfigurationError, unknown


@dataclass(frozen=True)
class Tolerances:
    """What each check allows, and the statistical settings of every interval."""

    benign_exponent: float = 0.1         # |Δβ_e| shown within this: the perturbation is benign (exponent)
    benign_ratio: float = 1.25           # test error's level ratio shown within ×this (either way): benign
    exponent: float = 0.25               # |β_μ(p) − β_μ(base)| beyond which scaling changed
    exponent_relative: float | None = None  # if set: tolerance = this × |β_e(base)| instead of `exponent`
    value_ratio: float = 1.5             # μ_p/μ_base (mean over m, either way) beyond which the value changed
    data_fraction: float = 0.25          # a rung difference inside ±this × test error's is "not separated"
    max_non_converged: float = 0.25      # a variant losing more of its runs than this is not judged
    invariance: float = 0.05             # relative change allowed under a function-preserving reparameterization
    invariance_alpha: float = 4.0        # layer rescaling factor of the invariance check
    level: float = 0.95                  # confidence level of every interval
    power: float = 0.8                   # the power at which the audit states what it could detect
    kendall_min: float | None = None     # predictive check: minimum Kendall τ(μ, gap) over all runs
    psi_min: float | None = None         # predictive check: minimum granulated Ψ
    sign_error_max: float | None = None  # predictive check: maximum worst-case robust sign error

    def __post_init__(self) -> None:
        for item in dataclasses.fields(self):
            value = getattr(self, item.name)
            if value is None and _optional(item.name):
                continue
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                raise ConfigurationError(f"tolerance {item.name!r} must be a number, got {value!r}")
            if not math.isfinite(value):
                raise ConfigurationError(f"tolerance {item.name!r} must be finite, got {value!r}")
            if value < 0:
                raise ConfigurationError(f"tolerance {item.name!r} must be >= 0, got {value!r}")
        for name in ("level", "power"):
            if not 0 < getattr(self, name) < 1:
                raise ConfigurationError(f"tolerance {name!r} must be in (0, 1), got {getattr(self, name)!r}")
        if self.max_non_converged >= 1:
            raise ConfigurationError(f"tolerance 'max_non_converged' must be < 1, got {self.max_non_converged!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _optional(name: str) -> bool:
    return name in {f.name for f in dataclasses.fields(Tolerances) if f.default is None}


KEYS = tuple(f.name for f in dataclasses.fields(Tolerances))

# Keys of the first version whose rules are gone: accepted with a warning, without effect.
RETIRED = {
    "n_boot": "intervals are Student-t intervals over seeds now; there is no bootstrap",
    "data_tau": "the data check judges each rung pair by its interval; Kendall τ is reported, not gated on",
}


def resolve_tolerances(overrides: Mapping[str, Any] | None) -> Tolerances:
    """The defaults with `overrides` applied; an unknown key lists the valid ones."""
    chosen = dict(overrides or {})
    for key in list(chosen):
        if key in RETIRED:
            warnings.warn(f"tolerance {key!r} no longer has an effect: {RETIRED[key]}", DeprecationWarning,
                          stacklevel=3)
            del chosen[key]
        elif key not in KEYS:
            raise unknown("tolerance key", key, KEYS)
    return Tolerances(**chosen)


def parse_tolerance_lines(lines: list[str]) -> dict[str, Any]:
    """ini ``fragility_tolerances`` lines ("exponent = 0.3") into validated overrides."""
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
            raise ConfigurationError(
                f"fragility_tolerances: {key.strip()!r} needs a number, got {text.strip()!r}") from None
    resolve_tolerances(parsed)
    return parsed
