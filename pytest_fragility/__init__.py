"""pytest-fragility: audit generalization measures for fragility.

Only the public API lives here. Attributes are imported on first use so that
loading the pytest plugin (which imports this package) stays cheap: no torch,
no numpy until a fragility check actually runs.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_LAZY = {
    "fragility_check": ("pytest_fragility.check", "fragility_check"),
    "audit": ("pytest_fragility.engine", "audit"),
    "AuditResult": ("pytest_fragility.engine", "AuditResult"),
    "Run": ("pytest_fragility.run", "Run"),
    "Recipe": ("pytest_fragility.families.recipe", "Recipe"),
    "Family": ("pytest_fragility.families.family", "Family"),
    "Budget": ("pytest_fragility.families.budgets", "Budget"),
    "register_profile": ("pytest_fragility.settings", "register_profile"),
    "FragilityError": ("pytest_fragility.errors", "FragilityError"),
}
_SUBMODULES = ("measures", "families", "perturb", "data", "stats", "errors")

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility import data, errors, families, measures, perturb, stats
    from pytest_fragility.check import fragility_check
    from pytest_fragility.engine import AuditResult, audit
    from pytest_fragility.errors import FragilityError
    from pytest_fragility.families.budgets import Budget
    from pytest_fragility.families.family import Family
    from pytest_fragility.families.recipe import Recipe
    from pytest_fragility.run import Run
    from pytest_fragility.settings import register_profile


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(f"pytest_fragility.{name}")
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pytest_fragility' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
