"""What `--fragility-compare` gates beyond each test: baselines left without a test, and
drift that an ``xfail`` would hide.

Comparing two JSON reports (``fragility compare old.json new.json``) flags an audit that
disappeared and any audit that drifted, whatever its test's outcome. These two checks
give ``pytest --fragility --fragility-compare`` the same reach: a baseline whose test was
removed or renamed fails the session, and so does drift of an xfailed test (xfail expects
the test to fail; it does not accept new numbers — declare ``expect_verdict`` for that).
"""

from __future__ import annotations

from pathlib import Path
from typing import Callable, Iterable

import pytest

BaselineFor = Callable[[str], Path]


def partly_collected(config: pytest.Config) -> set[Path]:
    """Modules named with a node id on the command line (``test_m.py::test_a``): their other
    tests were never collected, so their baselines cannot be judged orphaned."""
    here = config.invocation_params.dir
    return {(here / arg.split("::", 1)[0]).resolve() for arg in config.args if "::" in arg}


def orphaned_baselines(items: Iterable[pytest.Item], partial: set[Path], baseline_for: BaselineFor, *,
                       beside_tests: bool) -> list[Path]:
    """Baseline files of collected test modules that belong to none of their tests (`items`:
    every collected item, deselected ones too); with baselines `beside_tests` (the default
    ``__fragility__/<module>/`` layout), also those of a test module that no longer exists."""
    expected: dict[Path, set[Path]] = {}
    for item in items:
        if Path(item.path).resolve() in partial:
            continue
        path = baseline_for(item.nodeid)
        expected.setdefault(path.parent, set()).add(path)
    orphans = [file for folder, wanted in expected.items() if folder.is_dir()
               for file in folder.glob("*.json") if file not in wanted]
    if beside_tests:
        for root in {folder.parent for folder in expected if folder.parent.is_dir()}:
            orphans += [file for module in root.iterdir() if module.is_dir() and module not in expected
                        and not (root.parent / f"{module.name}.py").exists() for file in module.glob("*.json")]
    return sorted(orphans)


def describe(orphans: list[Path], hidden: dict[str, list[str]], root: Path) -> list[str]:
    """The session gate's failures, one line each (drift lines indented under their test)."""
    lines = [f"baseline without a test: {relative(path, root)} (its test was removed or renamed: "
             "delete the file, or restore the test)" for path in orphans]
    for test, drift in sorted(hidden.items()):
        lines.append(f"{test} is xfailed, and its audit drifted from its baseline (xfail hides failures, "
                     "not drift; declare expect_verdict to accept a verdict):")
        lines += [f"  {line}" for line in drift]
    return lines


def relative(path: Path, root: Path) -> str:
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
