"""Model families: built-in ones by name, and user families registered at run time.

    pf.families.get("fcn-mnist5k", width=512)   a family with recipe overrides
    pf.families.available()                     names of every family
    pf.families.register(family)                add a user family (e.g. from conftest.py)
    pf.families.register_lazy(name, build)      declare one by name; build() runs on first use

This package imports nothing heavy at import time (decorators validate family
names at collection); the family objects are built on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, Callable, Iterable, Mapping

from pytest_fragility.errors import ConfigurationError, unknown
from pytest_fragility.spec.names import BUILTIN_FAMILIES

if TYPE_CHECKING:  # pragma: no cover
    from pytest_fragility.families.family import Family

_USER: dict[str, "Family"] = {}
_LAZY: dict[str, Callable[[], Any]] = {}   # declared by name, built on first `get`
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
    if (family.name in _USER or family.name in _LAZY or family.name in BUILTIN_FAMILIES) and not replace:
        raise ConfigurationError(f"a family named {family.name!r} is already registered")
    _USER[family.name] = family
    return family


def register_lazy(name: str, build: Callable[[], Any], *, replace: bool = False) -> None:
    """Declare a family by name; ``build()`` makes it on first use (`get`).

    Decorators validate family names at import, so a declared name is enough to collect
    tests: the family's dataset and model (torch, your data) load only when a fragility
    test runs.
    """
    if not isinstance(name, str) or not callable(build):
        raise ConfigurationError(f"register_lazy() needs a name and a function that builds the family, got "
                                 f"{name!r}: {type(build).__name__}")
    if (name in _USER or name in _LAZY or name in BUILTIN_FAMILIES) and not replace:
        raise ConfigurationError(f"a family named {name!r} is already registered")
    _USER.pop(name, None)
    _LAZY[name] = build


def register_returned(returned: Iterable[Any] | Mapping[str, Callable[[], Any]] | None) -> None:
    """Register what a `pytest_fragility_families` hook returned: families, or a dict of
    names to functions that build them (the light way: nothing is built until used)."""
    if isinstance(returned, Mapping):
        for name, build in returned.items():
            register_lazy(name, build, replace=True)
        return
    for family in returned or []:
        register(family, replace=True)


def available() -> list[str]:
    """Names of the built-in families and of every registered one."""
    registered = [*_USER, *(n for n in _LAZY if n not in _USER)]
    return [*BUILTIN_FAMILIES, *(n for n in registered if n not in BUILTIN_FAMILIES)]


def get(name: str, **overrides: Any) -> "Family":
    """The family called `name`, with recipe fields overridden (``width=512``, ``lr=0.1``)."""
    if name in _LAZY and name not in _USER:
        family = _LAZY[name]()
        if getattr(family, "name", None) != name:
            raise ConfigurationError(f"the function registered for family {name!r} built "
                                     f"{getattr(family, 'name', family)!r}; return a family of that name")
        register(family, replace=True)
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
