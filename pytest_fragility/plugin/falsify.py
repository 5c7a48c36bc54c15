"""Replay and search for one fragility test; the session calls these around its audit.

Replay, always first: the test's saved counterexamples (the example database in the cache,
keyed by the test id and its family) are audited before anything else. One that still breaks
the measure fails the test at once — CI catches the regression in seconds, without
searching — and one that no longer does is removed from the database.

Search, after the audit, when the test asks for it (``search=True`` or a list of axes) or the
run does (``--fragility-search``, for nightly jobs) and the test does not refuse
(``search=False``): a counterexample fails the test with the falsifying-perturbation block
and is saved for the next run to replay.
"""

from __future__ import annotations

import inspect
from pathlib import Path
from typing import Any

import pytest

DEFAULT_NETWORKS = 600  # per test: the base and 19 points at the quick budget (30 networks each)


def _measure(item: pytest.Function, spec: Any) -> Any:
    """What the test audits: the built-in measure it names, or its body called per run."""
    if spec.measure is not None:
        return spec.measure
    function = item.obj
    fixtures = {name: item.funcargs[name] for name in inspect.signature(function).parameters if name in item.funcargs}

    def measure(run: Any) -> Any:
        return function(run=run, **fixtures)
    measure.__name__ = function.__name__
    return measure


def _options(session: Any, spec: Any, progress: bool) -> dict[str, Any]:
    return {"tolerance": {**session.tolerances, **spec.tolerance}, "device": session.device, "cache": session.cache,
            "data_dir": session.data_dir, "scale": spec.scale, "form": spec.form, "executor": session._executor(),
            "progress": progress}


def replay_failure(session: Any, item: pytest.Function, spec: Any, test_id: str) -> str | None:
    """The failure text when a saved counterexample still breaks the measure, else None."""
    from pytest_fragility.searching.examples import ExampleDatabase

    if not ExampleDatabase(session.cache).load(test_id, spec.family):
        return None  # nothing saved: no family is loaded, no torch is imported
    from pytest_fragility.report.search_terminal import render_replay
    from pytest_fragility.searching.engine import replay

    with session._visible_progress() as progress:
        points = replay(_measure(item, spec), spec.family, spec.budget or session.budget, key=test_id,
                        **_options(session, spec, progress))
    broken = [p.to_dict() for p in points if p.state == "counterexample"]
    if not broken:
        return None
    return render_replay(test_id, spec.family, broken, color=session.color())


def axes_wanted(session: Any, spec: Any) -> Any:
    """The axes to search for this test, or None."""
    from pytest_fragility.searching.axes import DEFAULT_AXES, resolve

    if spec.search is False or (spec.search is None and not session._setting("fragility_search")):
        return None
    return resolve(DEFAULT_AXES) if spec.search is None else spec.search


def search_failure(session: Any, item: pytest.Function, spec: Any, payload: dict[str, Any]) -> str | None:
    """Search when wanted; the result rides on the payload, and a counterexample is a failure text."""
    chosen = axes_wanted(session, spec)
    if chosen is None:
        return None
    from pytest_fragility.report.search_terminal import render_search
    from pytest_fragility.searching.engine import search

    networks = session._setting("fragility_search_networks")
    with session._visible_progress() as progress:
        result = search(_measure(item, spec), spec.family, chosen, spec.budget or session.budget,
                        int(networks) if networks else DEFAULT_NETWORKS, key=payload["test"],
                        **_options(session, spec, progress))
    payload["search"] = result.to_dict()
    if result.passed():
        return None
    return render_search(payload["search"], color=session.color())


def write_search_report(directory: str | Path, payloads: list[dict[str, Any]], command: str) -> None:
    """The search page beside the HTML report, when any test searched."""
    searches = [{**p["search"], "measure": p["test"]} for p in payloads if p.get("search")]
    if searches:
        from pytest_fragility.report.search_html import write_search_html

        write_search_html(Path(directory), searches, command)
