"""Built-in generalization measures and their registry.

Every measure is available as ``pf.measures.<name>(run, form="raw")``, through
``pf.measures.get(name)`` and listed by ``pf.measures.available()``. Importing this
package registers the built-in suite.
"""

from __future__ import annotations

from pytest_fragility.measures import (  # noqa: F401  (imported to register)
    margin,
    marginal_likelihood,
    norms,
    pacbayes,
    path,
    sharpness,
    spectral,
)
from pytest_fragility.measures.registry import MeasureSpec, available, get, measure, register

__all__ = ["MeasureSpec", "available", "get", "measure", "register"]


def __getattr__(name: str) -> object:
    # pf.measures.path_norm and friends resolve through the registry, so measures
    # registered later by plugins are reachable the same way.
    try:
        return get(name)
    except Exception:
        raise AttributeError(f"pytest_fragility.measures has no attribute {name!r}") from None
