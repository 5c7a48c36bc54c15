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
    "fragility_check": ("pytest_fragility.plugin.decorator", "fragility_check"),
    "audit": ("pytest_fragility.auditing.engine", "audit"),
    "AuditResult": ("pytest_fragility.auditing.result", "AuditResult"),
    "search": ("pytest_fragility.searching.engine", "search"),
    "SearchResult": ("pytest_fragility.searching.result", "SearchResult"),
    "Axis": ("pytest_fragility.searching.axes", "Axis"),
    "Run": ("pytest_fragility.runs.run", "Run"),
    "Recipe": ("pytest_fragility.families.recipe", "Recipe"),
    "Family": ("pytest_fragility.families.family", "Family"),
    "Budget": ("pytest_fragility.families.budgets", "Budget"),
    "register_profile": ("pytest_fragility.plugin.profiles", "register_profile"),
    "FragilityError": ("pytest_fragility.errors", "FragilityError"),
}
_SUBMODULES = {
    "measures": "pytest_fragility.measures",
    "families": "pytest_fragility.families",
    "perturb": "pytest_fragility.spec.perturb",
    "axes": "pytest_fragility.searching.axes",
    "data": "pytest_fragility.spec.ladder",
    "stats": "pytest_fragility.auditing.stats",
    "errors": "pytest_fragility.errors",
    "testing": "pytest_fragility.testing",
}

__all__ = sorted([*_LAZY, *_SUBMODULES, "__version__"])

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility import errors, families, measures, testing
    from pytest_fragility.auditing import stats
    from pytest_fragility.auditing.engine import audit
    from pytest_fragility.auditing.result import AuditResult
    from pytest_fragility.errors import FragilityError
    from pytest_fragility.families.budgets import Budget
    from pytest_fragility.families.family import Family
    from pytest_fragility.families.recipe import Recipe
    from pytest_fragility.plugin.decorator import fragility_check
    from pytest_fragility.plugin.profiles import register_profile
    from pytest_fragility.runs.run import Run
    from pytest_fragility.searching import axes
    from pytest_fragility.searching.axes import Axis
    from pytest_fragility.searching.engine import search
    from pytest_fragility.searching.result import SearchResult
    from pytest_fragility.spec import ladder as data
    from pytest_fragility.spec import perturb


def __getattr__(name: str) -> Any:
    if name in _SUBMODULES:
        return importlib.import_module(_SUBMODULES[name])
    if name in _LAZY:
        module, attr = _LAZY[name]
        return getattr(importlib.import_module(module), attr)
    raise AttributeError(f"module 'pytest_fragility' has no attribute {name!r}")


def __dir__() -> list[str]:
    return __all__
