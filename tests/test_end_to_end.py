"""A new user's CI gate, replayed in a fresh folder with real training at the smoke budget:
a custom family declared in conftest.py, a fragile measure accepted by its expected verdict,
baselines written and compared, then a regression that `--fragility-compare` fails with a
readable diff."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

EXAMPLES = Path(__file__).resolve().parents[1] / "examples"

TESTS = """
import os

import pytest_fragility as pf

PERTURBATIONS = [pf.perturb.lr(0.5), pf.perturb.optimizer("adam")]


@pf.fragility_check(family="mlp-my-data", perturbations=PERTURBATIONS, checks=("benign", "trend", "value"),
                    expect_verdict={"value": "fragile"})
def test_path_norm_over_lr_is_fragile(run):
    # reads the learning rate, so a benign change of it moves the value: fragile by construction
    regression = run.m ** 0.5 if os.environ.get("REGRESSION") else 1.0  # a change that moves the exponent
    return pf.measures.path_norm(run) / run.recipe.lr * regression
"""


@pytest.fixture
def project(pytester, monkeypatch, tmp_path_factory):
    for name in ("CI", "REGRESSION", "FRAGILITY_CACHE_DIR"):
        monkeypatch.delenv(name, raising=False)
    pytester.makeconftest((EXAMPLES / "conftest.py").read_text())
    pytester.makepyfile(test_measures=TESTS)
    cache = tmp_path_factory.mktemp("e2e-cache")
    return pytester, ("-p", "no:cacheprovider", "--fragility", "--fragility-budget", "smoke",
                      f"--fragility-cache={cache}")  # one token: pytest would take a bare path for the rootdir


def test_a_new_users_gate_accepts_a_known_verdict_and_catches_a_regression(project, monkeypatch):
    pytester, options = project

    update = pytester.runpytest_subprocess(*options, "--fragility-update")
    update.assert_outcomes(passed=1)  # fragile, as declared
    update.stdout.fnmatch_lines([
        "PASSED  FRAGILE      test_measures.py::test_path_norm_over_lr_is_fragile  mlp-my-data · smoke · 36 runs · *",
        "        value [[]lr×0.5[]]: changed: mean ratio ×* vs ×1.5 either way",
        "        expect_verdict value=fragile found fragile (holds); undeclared rows: stable",
        "fragility: wrote 1 baseline(s):",
        "  __fragility__/test_measures/test_path_norm_over_lr_is_fragile.json (fragile, * rows)",
    ])
    stored = pytester.path / "__fragility__/test_measures/test_path_norm_over_lr_is_fragile.json"
    baseline = json.loads(stored.read_text())
    assert baseline["verdict"] == "fragile" and baseline["budget"] == "smoke"

    same = pytester.runpytest_subprocess(*options, "--fragility-compare")
    same.assert_outcomes(passed=1)

    monkeypatch.setenv("REGRESSION", "1")
    regressed = pytester.runpytest_subprocess(*options, "--fragility-compare", "--fragility-json", "report.json")
    regressed.assert_outcomes(failed=1)
    regressed.stdout.fnmatch_lines([
        "fragility baseline drift against */__fragility__/test_measures/test_path_norm_over_lr_is_fragile.json "
        "(two-sided; refresh with --fragility-update):",
        "  lr×0.5: measure exponent +* → +* (worse)",
        "  optimizer=adam: measure exponent +* → +* (worse)",
    ])
    def exponent(audit):
        return next(c["measure_exponent"] for c in audit["checks"]
                    if c["check"] == "trend" and c["variant"] == "lr×0.5")

    audit, = json.loads((pytester.path / "report.json").read_text())["audits"]
    before, after = exponent(baseline), exponent(audit)
    assert after - before == pytest.approx(0.5, abs=1e-3)  # the regression is exactly ×m^0.5
    assert audit["baseline_drift"] and audit["convergence"]["base"]["not_converged"] == 0
