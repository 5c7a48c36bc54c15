"""Hooks other packages implement to extend pytest-fragility (names `pytest_fragility_*`).

Implement them in a pytest plugin or conftest.py; for the ``fragility`` command, also
expose the module under the ``pytest_fragility`` entry-point group. Hooks are called
with keyword arguments, and implementations may accept any subset of them.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:  # pragma: no cover
    import pytest

hookspec = pluggy.HookspecMarker("pytest")


@hookspec
def pytest_fragility_families(config: "pytest.Config | None") -> list[Any] | dict[str, Any]:
    """Return families to register by name: a dict of names to functions that build them
    (built on first use, so collecting tests imports nothing heavy), or a list of families.

    Called with or without ``--fragility`` (decorators check family names at import), once
    per implementation, before the test modules of its conftest's folder are imported.

    Example::

        def pytest_fragility_families(config):
            return {"fcn-mydata": lambda: pf.Family("fcn-mydata", pf.Recipe(dataset="mydata"), dataset=load_mine())}
    """


@hookspec
def pytest_fragility_measures(config: "pytest.Config | None") -> list[Any]:
    """Return measures (``pf.measures.MeasureSpec``) to add to the registry.

    Example::

        def pytest_fragility_measures(config):
            return [MeasureSpec("my_norm", compute=my_norm, description="...", reference="...")]
    """


@hookspec
def pytest_fragility_perturbations(config: "pytest.Config | None") -> dict[str, Any]:
    """Return named perturbations or data rungs (``pf.perturb.*`` / ``pf.data.*`` values),
    usable by name in ``fragility audit --perturbations`` and ``--ladder``.

    Example::

        def pytest_fragility_perturbations(config):
            return {"tiny-batch": pf.perturb.batch_size(8)}
    """


@hookspec
def pytest_fragility_search_axes(config: "pytest.Config | None") -> list[Any]:
    """Return search axes (``pf.Axis``) to make available by name, in ``fragility search
    --axes`` and ``@fragility_check(search=[...])``.

    Example::

        def pytest_fragility_search_axes(config):
            return [pf.Axis("label-smoothing", build=my_variant, low=0.0, high=0.2, base=0.0,
                            scale="linear", precision=0.01)]
    """


@hookspec
def pytest_fragility_update_json(config: "pytest.Config | None", report: dict[str, Any]) -> None:
    """Add fields to the JSON report (change ``report`` in place) before it is written.

    Example::

        def pytest_fragility_update_json(config, report):
            report["commit"] = os.environ.get("GIT_COMMIT")
    """
