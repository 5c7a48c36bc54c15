"""The search in pytest: search=..., --fragility-search, replay of saved counterexamples first,
a fixed measure clearing its entry, the search page of --fragility-report.

The toy family is closed-form, and the toy measure's trend flips at lr × FLIP (an environment
variable, so one run can "fix" the measure by moving the flip out of the searched range).
"""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap

import matplotlib.figure  # noqa: F401  (loaded before in-process runs: see test_plugin.py)
import pytest

import pytest_fragility.families
import pytest_fragility.plugin.session  # noqa: F401
import pytest_fragility.report.search_html  # noqa: F401
import pytest_fragility.report.search_plots  # noqa: F401
import pytest_fragility.report.search_terminal  # noqa: F401
import pytest_fragility.searching.engine  # noqa: F401
from tests.inner import isolate
from tests.inner import run_fragility as run

CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily

pf.families.register(ClosedFormFamily("toy-search"), replace=True)
"""

TESTS = """
import math
import os

import pytest_fragility as pf
from pytest_fragility.testing import error_draw

BASE_LR = pf.families.get("toy-search").recipe.lr


def flipping(run):
    flip = float(os.environ.get("TOY_FLIP", "3"))
    beta = -0.3 if run.recipe.lr >= flip * BASE_LR else 0.3
    return run.m ** beta * math.exp(0.05 * error_draw(run))


@pf.fragility_check(family="toy-search", perturbations=[pf.perturb.lr(0.5)], search=["lr"])
def test_searched(run):
    return flipping(run)


@pf.fragility_check(family="toy-search", perturbations=[pf.perturb.lr(0.5)])
def test_nightly(run):
    return flipping(run)


@pf.fragility_check(family="toy-search", perturbations=[pf.perturb.lr(0.5)], search=False)
def test_never_searched(run):
    return flipping(run)
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    isolate(monkeypatch, "TOY_FLIP")


@pytest.fixture
def toy(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_toy=TESTS)
    return pytester


def saved(pytester):
    return {json.loads(p.read_text())["measure"]: json.loads(p.read_text())
            for p in (pytester.path / ".fragility" / "examples").glob("*.json")}


def test_a_search_fails_the_test_with_the_falsifying_perturbation_and_saves_it(toy):
    result = run(toy, "-k", "searched", "--fragility-json", "out.json", "--fragility-report", "report")
    result.assert_outcomes(failed=1, passed=1, deselected=1)
    result.stdout.fnmatch_lines(["*fragility search of test_toy.py::test_searched on toy-search: COUNTEREXAMPLE*",
                                 "*Falsifying perturbation: lr×3.0*", "*trend*FRAGILE*sign flipped*"])
    examples = saved(toy)["test_toy.py::test_searched"]["examples"]
    assert [e["axis"] for e in examples] == ["lr"] and 3 <= examples[0]["strength"] <= 3.3
    audits = {a["test"]: a for a in json.loads((toy.path / "out.json").read_text())["audits"]}
    assert audits["test_toy.py::test_searched"]["search"]["verdict"] == "counterexample"
    assert "search" not in audits["test_toy.py::test_never_searched"]
    assert "Falsifying perturbation" in (toy.path / "report" / "search.html").read_text()


def test_the_next_run_replays_the_saved_counterexample_first_and_a_fix_clears_it(toy, monkeypatch):
    run(toy, "-k", "nightly", "--fragility-search").assert_outcomes(failed=1)
    assert "test_toy.py::test_nightly" in saved(toy)

    replayed = run(toy, "-k", "nightly")  # no search: CI replays what the nightly run found
    replayed.assert_outcomes(failed=1)
    replayed.stdout.fnmatch_lines(["*fragility replay of test_toy.py::test_nightly on toy-search: COUNTEREXAMPLE*",
                                   "*Falsifying perturbation: lr×3.0*replayed from the example database*"])
    replayed.stdout.no_fnmatch_line("*fragility search of*")

    monkeypatch.setenv("TOY_FLIP", "100")  # the measure is fixed: nothing within ×8 breaks it
    run(toy, "-k", "nightly").assert_outcomes(passed=1)
    assert "test_toy.py::test_nightly" not in saved(toy)


def test_search_false_is_never_searched_even_in_a_searching_run(toy):
    result = run(toy, "-k", "never", "--fragility-search", "--fragility-json", "out.json")
    result.assert_outcomes(passed=1, deselected=2)
    (audit,) = json.loads((toy.path / "out.json").read_text())["audits"]
    assert "search" not in audit and not saved(toy)


def test_the_network_cap_of_a_searching_run_is_an_option(toy):
    run(toy, "-k", "nightly", "--fragility-search", "--fragility-search-networks", "90",
        "--fragility-json", "out.json").assert_outcomes(passed=1)  # base + 2 points: the break at ×3 is not reached
    (audit,) = json.loads((toy.path / "out.json").read_text())["audits"]
    assert audit["search"]["networks"]["used"] <= 90 and audit["search"]["verdict"] == "no counterexample"


def test_an_unknown_axis_is_a_collection_error_naming_the_valid_ones(toy):
    toy.makepyfile(test_bad="import pytest_fragility as pf\n\n"
                            "@pf.fragility_check(family='toy-search', search=['learning-rate'])\n"
                            "def test_x(run):\n    return 1.0\n")
    result = run(toy, "test_bad.py")
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["*unknown search axis 'learning-rate'; valid: batch, init, lr, momentum, optimizer, "
                                 "train-after-fit, wd, width*"])


def test_declaring_a_search_imports_no_torch_without_the_flag(tmp_path):
    (tmp_path / "test_light.py").write_text(textwrap.dedent("""
        import sys
        import pytest_fragility as pf

        @pf.fragility_check(family="fcn-mnist5k", search=["lr", pf.axes.momentum(0.9)])
        def test_x(run):
            return 1.0

        def test_modules():
            assert not {m.split(".")[0] for m in sys.modules} & {"torch", "numpy"}
    """))
    result = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider"], cwd=tmp_path,
                            capture_output=True, text=True, env={"PATH": "", "HOME": str(tmp_path)})
    assert result.returncode == 0, result.stdout + result.stderr
    assert "1 passed, 1 skipped" in result.stdout


HOOK_CONFTEST = CONFTEST + """

def pytest_fragility_search_axes(config):
    return [pf.Axis("init-wide", pf.perturb.init_scale, 0.1, 10.0, field="init_scale")]
"""


def test_a_plugin_axis_is_usable_by_name_with_and_without_the_flag(pytester):
    pytester.makeconftest(HOOK_CONFTEST)
    pytester.makepyfile(test_hooked="""
        import math
        import pytest_fragility as pf
        from pytest_fragility.testing import error_draw

        @pf.fragility_check(family="toy-search", perturbations=[pf.perturb.lr(0.5)], search=["init-wide"])
        def test_init(run):
            return run.m ** (0.3 if run.recipe.init_scale < 4 else -0.3) * math.exp(0.05 * error_draw(run))
    """)
    pytester.runpytest("-p", "no:cacheprovider").assert_outcomes(skipped=1)  # collected: the name is known
    result = run(pytester)
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines(["*Falsifying perturbation: init×4*axis init-wide*"])
