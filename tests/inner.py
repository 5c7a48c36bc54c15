"""Running pytest inside pytest (pytester) with the plugin, isolated from the outer run."""

from __future__ import annotations

import pytest

import pytest_fragility.families
import pytest_fragility.plugin.profiles
from pytest_fragility.searching import axes

# Settings an outer environment (a CI, a developer's shell) may carry into the inner runs.
OUTER_ENVIRONMENT = ("CI", "NO_COLOR", "FORCE_COLOR", "FRAGILITY_CACHE_DIR", "FRAGILITY_DEVICE", "FRAGILITY_DATA_DIR")


def isolate(monkeypatch: pytest.MonkeyPatch, *test_variables: str) -> None:
    """Keep the outer environment out of the inner runs, and the families, profiles and search
    axes that inner conftests register out of this process's registries."""
    for name in OUTER_ENVIRONMENT + test_variables:
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pytest_fragility.families, "_USER", dict(pytest_fragility.families._USER))
    monkeypatch.setattr(pytest_fragility.plugin.profiles, "_PROFILES",
                        dict(pytest_fragility.plugin.profiles._PROFILES))
    monkeypatch.setattr(axes, "_registered", dict(axes._registered))


def run_inner(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An in-process run. It finds pytest_fragility already imported by this process, too late
    for assertion rewriting; pytest warns about that, which a real run never sees."""
    return pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", *args)


def run_fragility(pytester: pytest.Pytester, *args: str) -> pytest.RunResult:
    """An in-process run with --fragility."""
    return run_inner(pytester, "--fragility", *args)
