"""The pytest_fragility_* hooks: families, measures, named variants and JSON fields from plugins."""

from __future__ import annotations

import json

import pytest

import pytest_fragility as pf
import pytest_fragility.families
import pytest_fragility.measures
import pytest_fragility.plugin.session
from pytest_fragility import cli
from pytest_fragility.measures import registry

HOOK_CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily, error_draw
from pytest_fragility.measures.registry import MeasureSpec


def pytest_fragility_families(config):
    return [ClosedFormFamily("toy-from-hook", noise=0.02)]


def pytest_fragility_measures(config):
    return [MeasureSpec("toy_error_measure", compute=lambda run: 5 * run.test_error,
                        description="five times the toy test error", reference="tests")]


def pytest_fragility_update_json(config, report):
    report["commit"] = "abc123"
"""

HOOK_TESTS = """
import pytest_fragility as pf


@pf.fragility_check(family="toy-from-hook", perturbations=[pf.perturb.lr(0.5)])
def test_family_from_hook(run):
    return pf.measures.get("toy_error_measure")(run)
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(pytest_fragility.families, "_USER", dict(pytest_fragility.families._USER))
    monkeypatch.setattr(registry, "_REGISTRY", dict(registry._REGISTRY))


def test_hooks_register_a_family_a_measure_and_json_fields(pytester):
    pytester.makeconftest(HOOK_CONFTEST)
    pytester.makepyfile(test_hooked=HOOK_TESTS)
    # the family is registered by the hook at configure time, before the module is imported
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                "--fragility", "--fragility-json", "out.json")
    result.assert_outcomes(passed=1)
    report = json.loads((pytester.path / "out.json").read_text())
    assert report["commit"] == "abc123"
    assert [a["family"] for a in report["audits"]] == ["toy-from-hook"]
    assert report["audits"][0]["verdict"] == "stable"


class HookPlugin:
    """What an extension package exposes under the `pytest_fragility` entry-point group."""

    @staticmethod
    def pytest_fragility_perturbations(config):
        return {"tiny-batch": pf.perturb.batch_size(8)}

    @staticmethod
    def pytest_fragility_families(config):
        from pytest_fragility.testing import ClosedFormFamily

        return [ClosedFormFamily("toy-cli")]


def test_the_command_loads_extension_packages_through_entry_points(monkeypatch, capsys):
    import pluggy

    loaded = []

    def load(self, group, name=None):
        loaded.append(group)
        self.register(HookPlugin(), "hook-plugin")
        return 1

    monkeypatch.setattr(pluggy.PluginManager, "load_setuptools_entrypoints", load)
    assert cli.main(["families"]) == 0
    assert loaded == ["pytest_fragility"] and "toy-cli" in capsys.readouterr().out
    named = cli._named_variants(cli._plugin_manager())
    assert cli.parse_variant("tiny-batch", named) == pf.perturb.batch_size(8)
