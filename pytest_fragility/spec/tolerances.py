"""The checks' tolerances: one frozen value object, importable without numpy.

Each default and its rationale is documented in docs/method.md; every one can be set
per test (``tolerance={...}``), per audit, or for a whole suite (ini
``fragility_tolerances``). Decorators validate the keys at import.
"""

from __future__ import annotations

import dataclasses
import math
from dataclasses import dataclass
from typing import Any, Mapping

from pytest_fragility.errors import ConfigurationError, unknown


@dataclass(frozen=True)
class Tolerances:
    """What each check allows, and the statistical settings of every interval."""

    benign_exponent: float = 0.1         # |β_e(p) − β_e(base)| for a perturbation to count as benign
    benign_ratio: float = 1.25           # median over m of e_p/e_base (either way) for a benign perturbation
    exponent: float = 0.25               # |β_μ(p) − β_μ(base)| beyond which scaling changed
    exponent_relative: float | None = None  # if set: tolerance = this × |β_e(base)| instead of `exponent`
    value_ratio: float = 1.5             # median over m of μ_p/μ_base (either way) beyond which the value changed
    data_tau: float = 0.8                # mean over m of τ-a(μ, e) across ladder rungs needed
    invariance: float = 0.05             # relative change allowed under a function-preserving reparameterization
    invariance_alpha: float = 4.0        # layer rescaling factor of the invariance check
    level: float = 0.95                  # confidence level of every interval
    n_boot: int = 2000                   # bootstrap resamples
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
        if not 0 < self.level < 1:
            raise ConfigurationError(f"tolerance 'level' must be in (0, 1), got {self.level!r}")
        if self.n_boot < 1 or int(self.n_boot) != self.n_boot:
            raise ConfigurationError(f"tolerance 'n_boot' must be a positive integer, got {self.n_boot!r}")

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


def _optional(name: str) -> bool:
    return name in {f.name for f in dataclasses.fields(Tolerances) if f.default is None}


KEYS = tuple(f.name for f in dataclasses.fields(Tolerances))


def resolve_tolerances(overrides: Mapping[str, Any] | None) -> Tolerances:
    """The defaults with `overrides` applied; an unknown key lists the valid ones."""
    for key in overrides or {}:
        if key not in KEYS:
            raise unknown("tolerance key", key, KEYS)
    return Tolerances(**dict(overrides or {}))


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
