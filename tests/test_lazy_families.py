"""Families declared through the `pytest_fragility_families` hook: known by name at collection,
built on first use, so collecting (and skipping) fragility tests stays light; a budget a
family lacks is a usage error before any training, naming the budgets it has."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

import pytest_fragility.families as families
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.testing import ClosedFormFamily

ROOT = Path(__file__).resolve().parents[1]
HEAVY = {"torch", "numpy", "sklearn", "scipy", "pandas", "rich", "matplotlib"}


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(families, "_USER", dict(families._USER))
    monkeypatch.setattr(families, "_LAZY", dict(families._LAZY))


def pytest_in_subprocess(*args: str, cwd: Path = ROOT) -> tuple[int, str, set[str]]:
    """Run pytest in a fresh interpreter; its exit code, output and the top-level modules it imported."""
    script = ("import json, sys, pytest\n"
              f"code = pytest.main({list(args)!r})\n"
              "print('MODULES=' + json.dumps(sorted({m.split('.')[0] for m in sys.modules})))\n"
              "sys.exit(code)\n")
    done = subprocess.run([sys.executable, "-c", script], cwd=cwd, capture_output=True, text=True, timeout=300)
    out = done.stdout + done.stderr
    modules = json.loads(out.split("MODULES=", 1)[1].splitlines()[0]) if "MODULES=" in out else []
    return done.returncode, out, set(modules)


def test_the_example_family_keeps_a_plain_run_light():
    code, out, modules = pytest_in_subprocess("-p", "no:cacheprovider", "-q", "examples")
    assert code == 0, out
    assert "2 skipped" in out
    assert not modules & HEAVY, f"collecting the examples imported {sorted(modules & HEAVY)}"


@pytest.mark.parametrize("parallel", [(), ("-n", "2")], ids=["serial", "xdist"])
def test_a_budget_the_family_lacks_is_a_collection_error_naming_its_budgets(tmp_path, parallel):
    code, out, modules = pytest_in_subprocess("-p", "no:cacheprovider", "-q", "--fragility", "--fragility-budget",
                                              "standard", f"--fragility-cache={tmp_path}", *parallel, "examples")
    assert code in (pytest.ExitCode.INTERRUPTED, pytest.ExitCode.TESTS_FAILED), out  # xdist reports it as failed
    assert ("test_marginal_likelihood_bound_is_robust: family 'mlp-my-data' has no budget 'standard'; "
            "its budgets: smoke, quick") in out
    assert "ERROR examples/test_my_measure.py" in out
    assert "Traceback" not in out and "INTERNALERROR" not in out
    assert not list(tmp_path.rglob("*.safetensors"))  # nothing trained


NESTED_CONFTEST = """
from pytest_fragility.testing import ClosedFormFamily

BUILT = []


def build():
    BUILT.append(1)
    return ClosedFormFamily("toy-nested")


def pytest_fragility_families(config):
    return {"toy-nested": build}


def pytest_sessionfinish(session):
    print(f"built {len(BUILT)} time(s)")
"""

NESTED_TEST = """
import pytest_fragility as pf


@pf.fragility_check(family="toy-nested", perturbations=[pf.perturb.lr(0.5)])
def test_one(run):
    return 5 * run.test_error


@pf.fragility_check(family="toy-nested", perturbations=[pf.perturb.optimizer("adam")])
def test_two(run):
    return 5 * run.test_error
"""


def test_a_conftest_below_the_rootdir_declares_families_for_its_folder(pytester):
    sub = pytester.mkpydir("sub")
    (sub / "conftest.py").write_text(NESTED_CONFTEST)
    (sub / "test_nested.py").write_text(NESTED_TEST)
    args = ("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning", "-s")
    skipped = pytester.runpytest(*args)
    skipped.assert_outcomes(skipped=2)
    skipped.stdout.fnmatch_lines(["*built 0 time(s)"])  # declared, not built
    ran = pytester.runpytest(*args, "--fragility")
    ran.assert_outcomes(passed=2)
    ran.stdout.fnmatch_lines(["*built 1 time(s)"])  # built once, on first use


def test_register_lazy_builds_on_first_get_and_checks_the_name():
    built = []

    def build():
        built.append(1)
        return ClosedFormFamily("toy-lazy")

    families.register_lazy("toy-lazy", build)
    assert "toy-lazy" in families.available() and not built
    assert families.get("toy-lazy").name == "toy-lazy" and families.get("toy-lazy") is families.get("toy-lazy")
    assert built == [1]
    families.register_lazy("toy-misnamed", lambda: ClosedFormFamily("toy-other"))
    with pytest.raises(ConfigurationError, match="the function registered for family 'toy-misnamed' built "
                                                 "'toy-other'; return a family of that name"):
        families.get("toy-misnamed")
    with pytest.raises(ConfigurationError, match="a family named 'toy-lazy' is already registered"):
        families.register_lazy("toy-lazy", build)
