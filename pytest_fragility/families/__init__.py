"""Model families: built-in ones by name, and user families registered at run time.

    pf.families.get("fcn-mnist5k", width=512)   a family with recipe overrides
    pf.families.available()                     names of every family
    pf.families.register(family)                add a user family (e.g. from conftest.py)

This package imports nothing heavy at import time (decorators validate family
names at collection); the family objects are built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.names import BUILTIN_FAMILIES

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.families.family import Family

_USER: dict[str, "Family"] = {}
_BUILTIN: dict[str, "Family"] = {}


def register(family: "Family", *, replace: bool = False) -> "Family":
    """Make a user family available by name (to `get`, decorators and the CLI).

    Anything with a `name` and a `runs(budget, variants, **options)` method is a family:
    a `pf.Family`, a `ToyFamily`, or your own.
    """
    if not isinstance(getattr(family, "name", None), str) or not callable(getattr(family, "runs", None)):
        raise ConfigurationError(
            f"register() needs a family (e.g. pf.Family) with a name and a runs() method, "
            f"got {type(family).__name__}")
    if (family.name in _USER or family.name in BUILTIN_FAMILIES) and not replace:
        raise ConfigurationError(f"a family named {family.name!r} is already registered")
    _USER[family.name] = family
    return family


def available() -> list[str]:
    """Names of the built-in families and of every registered one."""
    return [*BUILTIN_FAMILIES, *(n for n in _USER if n not in BUILTIN_FAMILIES)]


def get(name: str, **overrides: Any) -> "Family":
    """The family called `name`, with recipe fields overridden (``width=512``, ``lr=0.1``)."""
    if name in _USER:
        family = _USER[name]
        return family.with_overrides(**overrides) if overrides else family
    if name not in BUILTIN_FAMILIES:
        raise unknown("family", name, available())
    if not _BUILTIN:
        from pytest_fragility.families.builtin import builtin_families

        _BUILTIN.update(builtin_families())
    return _BUILTIN[name].with_overrides(**overrides)


def __getattr__(name: str) -> Any:
    # Family, Recipe, Budget and Dataset are importable from here without an eager import.
    lazy = {"Family": "family", "Recipe": "recipe", "Budget": "budgets", "Dataset": "datasets",
            "register_dataset": "datasets"}
    if name in lazy:
        import importlib

        return getattr(importlib.import_module(f"pytest_fragility.families.{lazy[name]}"), name)
    raise AttributeError(f"pytest_fragility.families has no attribute {name!r}")
