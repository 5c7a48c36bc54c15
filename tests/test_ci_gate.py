"""One step is enough: every regression the two-step gate (pytest, then `fragility compare
old.json new.json`) catches, `pytest --fragility --fragility-compare` catches on its own.

Each scenario changes a closed-form suite after its baselines (and an old JSON report) were
written, then runs both gates on the new state: the compare command must see a regression,
and the one-step pytest run must fail too, saying why.
"""

from __future__ import annotations

import pytest

import pytest_fragility.auditing.engine  # noqa: F401  (numpy once per process: see test_plugin.py)
from pytest_fragility import cli
from tests.inner import isolate
from tests.inner import run_fragility as run

CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily

pf.families.register(ClosedFormFamily("toy-gate", noise=0.05), replace=True)
"""

SUITE = """
import math
import os

import pytest
import pytest_fragility as pf
from pytest_fragility.testing import error_draw

POWER = float(os.environ.get("POWER", "1"))
FLIP = os.environ.get("FLIP") == "1"
CHECKS = tuple(os.environ.get("CHECKS", "benign,trend,scaling,value").split(","))


def noisy(value, run):
    return value * math.exp(0.05 * error_draw(run))


@pf.fragility_check(family="toy-gate", perturbations=[pf.perturb.lr(0.5)], checks=CHECKS)
def test_tracks(run):
    beta = 0.5 if FLIP and run.variant == "lr×0.5" else -0.5 * POWER
    return noisy(3 * run.m ** beta, run)


@pf.fragility_check(family="toy-gate", perturbations=[pf.perturb.lr(0.5)], expect_verdict="fragile")
def test_accepted(run):
    beta = 0.5 * POWER if run.variant == "lr×0.5" else -0.5
    return noisy(3 * run.m ** beta, run)


@pytest.mark.xfail(strict=True, reason="known to be fragile")
@pf.fragility_check(family="toy-gate", perturbations=[pf.perturb.lr(0.5)])
def test_xfailed(run):
    beta = 0.5 * POWER if run.variant == "lr×0.5" else -0.5
    return noisy(3 * run.m ** beta, run)
"""

SCENARIOS = {
    # name: (environment, suite edit, what the one-step run says)
    "exponent drift": ({"POWER": "1.6"}, None, "  lr×0.5: measure exponent -0.4* → -0.7* (worse)"),
    "verdict worse": ({"FLIP": "1"}, None, "  trend [[]lr×0.5[]]: verdict stable → fragile (worse)"),
    "accepted verdict drifted": ({"POWER": "2"}, None, "  lr×0.5: measure exponent +0.5* → +1.0* (worse)"),
    "xfailed audit drifted": ({"POWER": "2"}, None, "  test_gate.py::test_xfailed is xfailed, and its audit drifted*"),
    "check dropped": ({"CHECKS": "benign,trend"}, None, "  scaling [[]lr×0.5[]]: check present → missing (worse)"),
    "test removed": ({}, ("def test_tracks", "def helper_tracks"),
                     "  baseline without a test: __fragility__/test_gate/test_tracks.json *"),
}


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    isolate(monkeypatch, "POWER", "FLIP", "CHECKS")


@pytest.mark.parametrize("scenario", list(SCENARIOS))
def test_the_one_step_gate_fails_wherever_the_two_step_gate_does(pytester, monkeypatch, capsys, scenario):
    environment, edit, says = SCENARIOS[scenario]
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate=SUITE)
    before = run(pytester, "--fragility-update", "--fragility-json", "old.json")
    before.assert_outcomes(passed=2, xfailed=1)
    run(pytester, "--fragility-compare").assert_outcomes(passed=2, xfailed=1)  # no change: both gates pass

    for name, value in environment.items():
        monkeypatch.setenv(name, value)
    if edit:
        path = pytester.path / "test_gate.py"
        path.write_text(path.read_text().replace(*edit))
    one_step = run(pytester, "--fragility-compare", "--fragility-json", "new.json")
    capsys.readouterr()
    two_step = cli.main(["compare", str(pytester.path / "old.json"), str(pytester.path / "new.json")])
    assert "regression" in capsys.readouterr().out and two_step == 1  # the two-step gate sees it…
    assert one_step.ret == pytest.ExitCode.TESTS_FAILED            # …and so does the one-step gate
    one_step.stdout.fnmatch_lines([says])


def test_removing_a_test_fails_only_where_the_whole_module_was_collected(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "--fragility-update").assert_outcomes(passed=2, xfailed=1)
    run(pytester, "--fragility-compare", "-k", "accepted").assert_outcomes(passed=1)  # deselected: still known
    run(pytester, "--fragility-compare", "test_gate.py::test_accepted").assert_outcomes(passed=1)
    (pytester.path / "test_gate.py").unlink()
    pytester.makepyfile(test_other="def test_plain():\n    pass\n")
    gone = run(pytester, "--fragility-compare")
    assert gone.ret == pytest.ExitCode.TESTS_FAILED  # a whole module removed: its baselines are orphans
    gone.stdout.fnmatch_lines(["fragility: --fragility-compare fails the session:",
                               "  baseline without a test: __fragility__/test_gate/test_accepted.json *"])


def test_under_xdist_the_workers_report_orphans_to_the_controller(pytester):
    pytest.importorskip("xdist")
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_gate=SUITE)
    run(pytester, "--fragility-update").assert_outcomes(passed=2, xfailed=1)
    path = pytester.path / "test_gate.py"
    path.write_text(path.read_text().replace("def test_tracks", "def helper_tracks"))
    parallel = run(pytester, "--fragility-compare", "-n", "2")
    assert parallel.ret == pytest.ExitCode.TESTS_FAILED
    parallel.stdout.fnmatch_lines(["  baseline without a test: __fragility__/test_gate/test_tracks.json *"])
