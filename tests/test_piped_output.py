"""Output that reads well in a CI log: piped (not a terminal) at 80 and 200 columns, the
plugin's text has no blank lines, no escapes, no progress artefacts, and no name, value or
interval broken across lines."""

from __future__ import annotations

import re

import pytest

import pytest_fragility.families

CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily

pf.families.register(ClosedFormFamily("toy-with-a-rather-long-family-name", noise=0.05, lost={"lr×2": 0.2}),
                     replace=True)
"""

TESTS = """
import math

import pytest
import pytest_fragility as pf
from pytest_fragility.testing import error_draw

FAMILY = "toy-with-a-rather-long-family-name"
PERTURBATIONS = [pf.perturb.lr(0.5), pf.perturb.lr(2), pf.perturb.optimizer("sgd-momentum")]


@pf.fragility_check(family=FAMILY, perturbations=PERTURBATIONS, data=[pf.data.label_noise(0.2)])
def test_weightwatcher_alpha_of_the_last_layer_against_its_initial_value(run):
    beta = 0.5 if run.variant == "lr×0.5" else -0.5
    return 3 * run.m ** beta * math.exp(0.05 * error_draw(run))


@pf.fragility_check(family=FAMILY, perturbations=PERTURBATIONS, expect_verdict={"trend": "fragile"})
def test_declared_fragile_but_fixed(run):
    return 5 * run.test_error


@pytest.mark.parametrize("power", [0.5, 1.0])
@pf.fragility_check(family=FAMILY, perturbations=PERTURBATIONS)
def test_log_prod_of_fro_over_margin_tracks_test_error_as_a_power(run, power):
    return 5 * run.test_error ** power
"""

LONG_NAMES = ["declared verdicts do not hold (expect_verdict: trend=fragile):",
              "test_weightwatcher_alpha_of_the_last_layer_against_its_initial_value",
              "test_log_prod_of_fro_over_margin_tracks_test_error_as_a_power[0.5]",
              "test_log_prod_of_fro_over_margin_tracks_test_error_as_a_power[1.0]",
              "toy-with-a-rather-long-family-name"]
INTERVAL = re.compile(r"\[[+-]?[\d.]+, [+-]?[\d.]+\]|\[×[\d.]+, ×[\d.]+\]")


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    for name in ("CI", "NO_COLOR", "FORCE_COLOR"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setattr(pytest_fragility.families, "_USER", dict(pytest_fragility.families._USER))


def section(output: str, title: str) -> list[str]:
    """The lines of pytest's section `title`, up to the next section."""
    lines = output.split(f" {title} ", 1)[1].splitlines()[1:]
    end = next((i for i, line in enumerate(lines) if re.match(r"^={3,} .* ={3,}$", line)), len(lines))
    return lines[:end]


def plugin_text(output: str) -> list[str]:
    """The plugin's lines: the failure diffs (less pytest's test headers) and its summary."""
    failures = [line for line in section(output, "FAILURES") if not re.match(r"^_{3,} .* _{3,}$", line)]
    return failures + section(output, "fragility audits")


@pytest.mark.parametrize("columns", [80, 200])
def test_piped_output_keeps_lines_whole(pytester, monkeypatch, columns):
    monkeypatch.setenv("COLUMNS", str(columns))
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_logs=TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider", "--fragility", "-rA")
    result.assert_outcomes(failed=2, passed=2)
    output = result.stdout.str()
    assert "\x1b[" not in output and "\r" not in output  # no colour and no redrawn progress bars

    lines = plugin_text(output)
    assert all(line.strip() for line in lines), "a blank line in the plugin's output"
    for name in LONG_NAMES:
        assert any(name in line for line in lines), f"{name} is never shown whole"
    for line in lines:  # every interval opens and closes on its line
        assert line.count("[") == line.count("]"), line
    shown = [m.group(0) for line in lines for m in INTERVAL.finditer(line)]
    assert len(shown) > 10  # the intervals checked above are really there

    summary = section(output, "fragility audits")
    verdicts = [line for line in summary if line.startswith(("PASSED", "FAILED"))]
    assert len(verdicts) == 4 and all("toy-with-a-rather-long-family-name" in line for line in verdicts)
    assert "        not converged (left out of the curves): lr×2 6/30 (6 at the epoch cap (300))" in summary
