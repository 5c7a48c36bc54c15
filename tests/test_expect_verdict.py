"""Declared verdicts (`expect_verdict=`): a known verdict passes, its drift is still compared,
and a declaration that no longer holds fails with a message that says what changed.

The toy family is closed-form (no training): the measures below flip their trend under a
perturbation by construction (m^+0.5 against m^-0.5), so every verdict asserted here
follows from the formulas.
"""

from __future__ import annotations

import json

import matplotlib.figure  # noqa: F401  (the HTML report's figures: matplotlib once per process too)
import pytest

import pytest_fragility.auditing.engine  # noqa: F401  (numpy once per process: see test_plugin.py)
import pytest_fragility.families
import pytest_fragility.plugin.session
import pytest_fragility.report.plots  # noqa: F401
import pytest_fragility.report.terminal  # noqa: F401  (loaded before any inner run)
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.plugin import expectations
from tests.inner import isolate
from tests.inner import run_fragility as run

CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily

pf.families.register(ClosedFormFamily("toy", noise=0.05), replace=True)
"""

FLIPS = """
import math
import os

import pytest
import pytest_fragility as pf
from pytest_fragility.testing import error_draw

FLIPPED = os.environ.get("FLIPPED", "lr×0.5").split(",")
POWER = float(os.environ.get("POWER", "0.5"))


def flipping(run):
    # m^-0.5 on the base runs, m^+POWER under the variants listed in FLIPPED
    beta = POWER if run.variant in FLIPPED else -0.5
    return 3 * run.m ** beta * math.exp(0.05 * error_draw(run))


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5), pf.perturb.optimizer("adam")],
                    checks=("benign", "trend"), expect_verdict={"trend[lr×0.5]": "fragile"})
def test_declared_row(run):
    return flipping(run)


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)], expect_verdict="fragile")
def test_declared_audit(run):
    return flipping(run)


@pytest.mark.xfail(strict=True, reason="known to be fragile")
@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_xfailed(run):
    return flipping(run)
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    isolate(monkeypatch, "FLIPPED", "POWER")


@pytest.fixture
def toy(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_flips=FLIPS)
    return pytester


def summary(result):
    return result.stdout.str().split("= fragility audits =", 1)[1]


# ----------------------------------------------------------------------------- passing and failing


def test_a_declared_fragile_row_passes_and_says_so(toy):
    result = run(toy, "-k", "declared_row")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "PASSED  FRAGILE      test_flips.py::test_declared_row  *",
        "        trend [[]lr×0.5[]]: sign flipped: *",
        "        expect_verdict trend [[]lr×0.5[]]=fragile found fragile (holds); undeclared rows: stable",
    ])


def test_a_declared_row_that_stops_being_fragile_fails_saying_it_improved(toy, monkeypatch):
    monkeypatch.setenv("FLIPPED", "none")  # the measure got fixed
    result = run(toy, "-k", "declared_row")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "declared verdicts do not hold (expect_verdict: trend [[]lr×0.5[]]=fragile):",
        "  trend [[]lr×0.5[]]: expected fragile, got stable — less than declared: if the measure was fixed, "
        "update or remove expect_verdict*",
        "fragility audit of test_declared_row on toy: stable",
    ])


def test_the_json_and_html_reports_say_what_was_declared_and_found(toy):
    run(toy, "-k", "declared_row", "--fragility-json", "out.json", "--fragility-report", "html")
    audit, = json.loads((toy.path / "out.json").read_text())["audits"]
    assert audit["expect_verdict"] == {
        "held": True, "problems": [], "undeclared": "stable",
        "declared": [{"target": "trend [lr×0.5]", "verdicts": ["fragile"], "found": "fragile", "held": True}]}
    page = (toy.path / "html" / "index.html").read_text()
    assert "expect_verdict: trend [lr×0.5]=fragile found fragile (holds)" in page


def test_a_new_fragile_row_beside_the_declared_one_fails(toy, monkeypatch):
    monkeypatch.setenv("FLIPPED", "lr×0.5,optimizer=adam")  # the measure got worse
    result = run(toy, "-k", "declared_row")
    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "declared verdicts do not hold (expect_verdict: trend [[]lr×0.5[]]=fragile):",
        "  trend [[]optimizer=adam[]]: fragile, not declared — sign flipped: *",
    ])
    result.stdout.no_fnmatch_line("  trend [[]lr×0.5[]]: expected*")


def test_a_tuple_accepts_either_verdict(toy):
    toy.makepyfile(test_either="""
        import pytest_fragility as pf

        @pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)],
                            expect_verdict={"trend": ("fragile", "inconclusive")})
        def test_flat(run):
            return 1.0 + run.seed  # no trend at all: inconclusive
    """)
    result = run(toy, "test_either.py")
    result.assert_outcomes(passed=1)
    assert "trend=fragile|inconclusive found inconclusive (holds)" in summary(result)


def test_strict_fails_undeclared_inconclusive_rows_only(toy):
    toy.makepyfile(test_strict="""
        import pytest_fragility as pf

        @pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)], checks=("benign", "trend", "value"),
                            expect_verdict={"trend": "inconclusive"})
        def test_flat(run):
            return 1.0 + run.seed
    """)
    run(toy, "test_strict.py", "--fragility-strict").assert_outcomes(passed=1)  # value is stable: ×1


# ----------------------------------------------------------------------------- drift is still compared


def test_drift_of_an_accepted_verdict_fails_the_compare_where_xfail_hides_it(toy, monkeypatch):
    run(toy, "-k", "declared_audit or xfailed", "--fragility-update").assert_outcomes(passed=1, xfailed=1)
    run(toy, "-k", "declared_audit or xfailed", "--fragility-compare").assert_outcomes(passed=1, xfailed=1)

    monkeypatch.setenv("POWER", "1.5")  # still fragile, and its exponent moved by 1
    drifted = run(toy, "-k", "declared_audit or xfailed", "--fragility-compare")
    drifted.assert_outcomes(failed=1, xfailed=1)
    drifted.stdout.fnmatch_lines([
        "fragility baseline drift against *test_declared_audit.json (two-sided; refresh with --fragility-update):",
        "  lr×0.5: measure exponent +0.5* → +1.5* (worse)",
    ])
    assert "FAILED test_flips.py::test_declared_audit" in drifted.stdout.str()
    assert "XFAILED FRAGILE      test_flips.py::test_xfailed" in summary(drifted)


def test_xfail_keeps_its_pytest_meaning(toy, monkeypatch):
    run(toy, "-k", "xfailed").assert_outcomes(xfailed=1)
    monkeypatch.setenv("FLIPPED", "none")
    fixed = run(toy, "-k", "xfailed")
    fixed.assert_outcomes(failed=1)  # strict xfail: an unexpected pass fails
    fixed.stdout.fnmatch_lines(["*XPASS(strict)*known to be fragile*"])


# ----------------------------------------------------------------------------- declarations


@pytest.mark.parametrize("value, message", [
    ("fragil", "unknown verdict in expect_verdict['audit'] 'fragil'; valid: error, fragile, inconclusive, *"),
    ({"scaling": "fragile"}, "expect_verdict names check 'scaling', which this test does not run; its checks: "
                             "benign, trend"),
    ({"trend[lr×3]": "fragile"}, "unknown perturbation in expect_verdict key 'trend[lr×3]' 'lr×3'; valid: lr×0.5"),
    ({"trend": 3}, "expect_verdict['trend'] must be a verdict or a tuple of verdicts, got 3"),
    (3, "expect_verdict must be a verdict ('fragile'), or a dict of checks or rows to verdicts *"),
])
def test_bad_declarations_are_errors_naming_the_valid_choices(value, message):
    with pytest.raises(ConfigurationError) as raised:
        expectations.parse(value, ("benign", "trend"), ["lr×0.5"])
    assert str(raised.value).startswith(message.rstrip("*")), str(raised.value)


def test_a_bad_declaration_is_a_collection_error(toy):
    toy.makepyfile(test_bad="""
        import pytest_fragility as pf

        @pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)], expect_verdict={"sparkle": "fragile"})
        def test_x(run):
            return 1.0
    """)
    result = toy.runpytest("-p", "no:cacheprovider", "test_bad.py")  # without --fragility too
    result.assert_outcomes(errors=1)
    result.stdout.fnmatch_lines(["E   *ConfigurationError: expect_verdict names check 'sparkle', which this test*"])


ROWS = [
    {"check": "benign", "variant": "lr×2", "verdict": "stable", "reason": "benign"},
    {"check": "trend", "variant": "lr×2", "verdict": "fragile", "reason": "sign flipped"},
    {"check": "scaling", "variant": "lr×2", "verdict": "inconclusive", "reason": "straddles"},
    {"check": "benign", "variant": "adam", "verdict": "not-benign", "reason": "moved"},
    {"check": "trend", "variant": "adam", "verdict": "not-benign", "reason": "not held"},
    {"check": "data", "variant": "ladder", "verdict": "fragile", "reason": "data-blind"},
]


@pytest.mark.parametrize("declared, strict, held", [
    ({"trend": "fragile", "data": "fragile"}, False, True),    # scaling inconclusive: passes unless strict
    ({"trend": "fragile", "data": "fragile"}, True, False),
    ({"trend": "fragile"}, False, False),                       # data fragile and undeclared
    ({"trend[adam]": "not-benign", "trend[lr×2]": "fragile", "data": "fragile", "scaling": "inconclusive"}, True,
     True),
    ("fragile", True, True),                                    # the audit's verdict covers every row
    ("stable", False, False),
])
def test_judgement_of_plain_audits(declared, strict, held):
    parsed = expectations.parse(declared, ("benign", "trend", "scaling", "data"), ["lr×2", "adam"])
    judgement = expectations.judge(parsed, {"verdict": "fragile", "checks": ROWS}, strict=strict)
    assert judgement.held is held, judgement.problems


def test_a_row_key_may_spell_times_in_ascii():
    parsed, = expectations.parse({"trend[lr*0.5]": "fragile"}, ("trend",), ["lr×0.5"])
    assert parsed.target == "trend [lr×0.5]"


def test_a_check_declared_over_rows_takes_its_worst_judged_row():
    assert expectations.combined(["stable", "not-benign", "inconclusive"]) == "inconclusive"
    assert expectations.combined(["not-benign", "not-benign"]) == "not-benign"
    assert expectations.combined(["error", "fragile"]) == "fragile"
