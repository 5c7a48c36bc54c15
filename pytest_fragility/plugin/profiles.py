"""Settings profiles for pytest runs: `default`, `ci` (used when `CI` is set), and yours.

A profile sets defaults that command-line options and ini keys override:

    budget             grid size (smoke, quick, standard, paper)
    device             cpu, cuda, auto
    strict             inconclusive audits fail
    progress           rich progress bars while training and measuring
    missing_baseline   "warn" or "fail" when --fragility-compare finds no baseline

Register your own from conftest.py: ``pf.register_profile("nightly", budget="standard")``
and select it with ``--fragility-profile nightly`` (or ini ``fragility_profile``).
"""

from __future__ import annotations

import dataclasses
import os
import warnings
from dataclasses import dataclass
from typing import Any

from pytest_fragility.errors import ConfigurationError, unknown


@dataclass(frozen=True)
class Profile:
    name: str
    budget: str = "quick"
    device: str = "cpu"
    strict: bool = False
    progress: bool = True
    missing_baseline: str = "warn"

    def __post_init__(self) -> None:
        if self.missing_baseline not in ("warn", "fail"):
            raise ConfigurationError(f"profile {self.name!r}: missing_baseline must be 'warn' or 'fail'")


_PROFILES: dict[str, Profile] = {
    "default": Profile("default"),
    "ci": Profile("ci", progress=False, missing_baseline="fail"),
}


def register_profile(name: str, parent: str = "default", **settings: Any) -> Profile:
    """Add (or replace) a profile: the parent's settings with `settings` changed."""
    base = get_profile(parent)
    if "seed" in settings:
        warnings.warn("profile setting 'seed' has no effect: intervals are Student-t intervals over seeds, "
                      "there is no bootstrap", DeprecationWarning, stacklevel=2)
        settings.pop("seed")
    fields = {f.name for f in dataclasses.fields(Profile)} - {"name"}
    for key in settings:
        if key not in fields:
            raise unknown("profile setting", key, sorted(fields))
    profile = dataclasses.replace(base, name=name, **settings)
    _PROFILES[name] = profile
    return profile


def get_profile(name: str) -> Profile:
    if name not in _PROFILES:
        raise unknown("profile", name, list(_PROFILES))
    return _PROFILES[name]


def default_profile_name() -> str:
    """`ci` when the CI environment variable is set (as CI services do), else `default`."""
    return "ci" if os.environ.get("CI", "").lower() not in ("", "0", "false", "no") else "default"
