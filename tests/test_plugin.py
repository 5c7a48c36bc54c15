"""The pytest plugin end to end, with pytester and closed-form toy families.

A `ClosedFormFamily` has power-law test error and no training, and the toy measures below
are closed forms of ``run.m``, ``run.test_error`` and its noise draw, so every verdict asserted here follows
from the formulas (a trend of m^+0.5 against m^-0.5 flips; 5·error tracks error),
not from the code under test. Runs are in-process (`runpytest`) except where a fresh
interpreter matters: which modules get imported, and pytest-xdist workers.
"""

from __future__ import annotations

import datetime
import fnmatch
import importlib.metadata
import json
import platform
import re

import pytest

import pytest_fragility.auditing.engine  # noqa: F401  (numpy, scipy: see below)
import pytest_fragility.families
import pytest_fragility.plugin.profiles
import pytest_fragility.plugin.session
import pytest_fragility.report.terminal
from pytest_fragility import cli
from tests.inner import isolate
from tests.inner import run_inner as run

# pytester restores sys.modules after each in-process run, and numpy cannot be imported
# twice in one process: the audit engine (which imports it), the plugin's session and the
# modules tests patch are loaded here, before any run, so every run shares them.

TOY_CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily, PowerLaw, error_draw

# Test error 2·m^-0.5 for every variant but lr×2, whose error is 1.5 times higher:
# lr×2 is a perturbation that is not benign.
pf.families.register(ClosedFormFamily("toy", noise=0.05, errors={"lr×2": PowerLaw(3.0, -0.5)}), replace=True)
"""

TOY_TESTS = """
import math
import os

import pytest_fragility as pf
from pytest_fragility.testing import error_draw


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_fragile(run):
    # m^-0.5 on the base runs, m^+0.5 under lr×0.5 (whose test error does not move)
    beta = 0.5 if run.variant == "lr×0.5" else -0.5
    return 3 * run.m ** beta * math.exp(0.05 * error_draw(run))


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_robust(run):
    return 5 * run.test_error


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_flat(run):
    # a spread across seeds and no dependence on m: the trend cannot be resolved
    return 1.0 + run.seed


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(2.0)])
def test_not_benign(run):
    # would flip like test_fragile, but lr×2 moves test error, so it is not held against it
    return 3 * run.m ** (0.5 if run.variant == "lr×2" else -0.5)


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_errors(run):
    if (run.variant, run.m, run.seed) == ("lr×0.5", 400, 2):
        raise RuntimeError("boom")
    if (run.variant, run.m, run.seed) == ("base", 800, 1):
        return float("nan")
    if (run.variant, run.m, run.seed) == ("base", 100, 3):
        return [1.0, 2.0]
    return 5 * run.test_error


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_env(run):
    # TOY_POWER changes the measure between runs (baseline drift)
    return 5 * run.test_error ** float(os.environ.get("TOY_POWER", "1"))
"""

VERDICTS = {"test_fragile": "fragile", "test_robust": "stable", "test_flat": "inconclusive",
            "test_not_benign": "inconclusive", "test_errors": "error", "test_env": "stable"}
SIZES = [100, 200, 400, 800, 1600]
SEEDS = [0, 1, 2, 3, 4, 5]
ANSI = "\x1b["


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    isolate(monkeypatch, "TOY_POWER")


@pytest.fixture
def toy(pytester):
    """A pytester folder holding the toy family and the six toy tests (test_toy.py)."""
    pytester.makeconftest(TOY_CONFTEST)
    pytester.makepyfile(test_toy=TOY_TESTS)
    return pytester


def read_json(path):
    return json.loads(path.read_text())


def section(text, start, end):
    """The lines of pytest's output between two separator titles."""
    return text.split(start, 1)[1].split(end, 1)[0]


def check_of(audit, check, variant):
    return next(c for c in audit["checks"] if c["check"] == check and c["variant"] == variant)


def numbers(text):
    return [float(x) for x in re.findall(r"[+-]\d+\.\d+", text)]


# ----------------------------------------------------------------------------- without --fragility


def test_without_the_flag_marked_tests_are_skipped_with_the_reason(toy):
    toy.makepyfile(test_plain="def test_plain():\n    assert True\n")
    result = run(toy, "-rs")
    result.assert_outcomes(passed=1, skipped=len(VERDICTS))
    reason = "SKIPPED [[]1[]] test_toy.py:*: fragility checks are disabled; run pytest with --fragility"
    assert len([line for line in result.outlines if fnmatch.fnmatch(line, reason)]) == len(VERDICTS)
    result.stdout.no_fnmatch_line("*fragility audits*")


NO_HEAVY_CONFTEST = TOY_CONFTEST + """
import json
import os
import sys

import pytest


@pytest.fixture
def expensive():
    open("fixture-ran", "w").close()


def pytest_sessionfinish(session):
    with open(os.environ["MODULES_OUT"], "w") as out:
        json.dump(sorted(sys.modules), out)
"""

NO_HEAVY_TESTS = """
import pytest_fragility as pf


@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5), pf.perturb.optimizer("adam")],
                    data=[pf.data.label_noise(0.2)], checks=("trend", "data"), tolerance={"exponent": 0.3})
def test_measure(run, expensive):
    return 1.0


def test_family(fragility_family, expensive):
    fragility_family("toy")


def test_plain():
    pass
"""


def project_files(root):
    """Paths under `root`, less bytecode and what pytester itself writes for a subprocess."""
    paths = {str(p.relative_to(root)) for p in root.rglob("*") if "__pycache__" not in p.parts}
    return {p for p in paths if p.split("/")[0] not in ("stdout", "stderr") and not p.startswith("runpytest-")}


def test_without_the_flag_nothing_heavy_is_imported_and_nothing_written(pytester, tmp_path, monkeypatch):
    pytester.makeconftest(NO_HEAVY_CONFTEST)
    pytester.makepyfile(test_light=NO_HEAVY_TESTS)
    modules_out = tmp_path / "modules.json"
    monkeypatch.setenv("MODULES_OUT", str(modules_out))
    before = project_files(pytester.path)

    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")

    result.assert_outcomes(passed=1, skipped=2)
    modules = set(read_json(modules_out))
    assert {"pytest_fragility.plugin.hooks", "pytest_fragility.plugin.decorator"} <= modules  # the plugin was loaded
    heavy = {m.split(".")[0] for m in modules} & {"torch", "numpy", "scipy", "pandas", "rich", "matplotlib"}
    assert not heavy, f"imported without --fragility: {sorted(heavy)}"
    after = project_files(pytester.path)
    assert after == before, f"created without --fragility: {sorted(after - before)}"


# ----------------------------------------------------------------------------- bad decorator arguments

BAD_DECORATIONS = {
    "family": ('family="toy-typo"', "unknown family 'toy-typo'; valid: *fcn-digits*, toy*"),
    "check": ('family="toy", checks=("trend", "sparkle")',
              "unknown check 'sparkle'; valid: benign, data, invariance, predictive, scaling, tracking, trend, value"),
    "tolerance": ('family="toy", tolerance={"exponnent": 0.3}',
                  "unknown tolerance key 'exponnent'; valid: benign_exponent, benign_ratio, data_fraction, "
                  "exponent, *"),
    "perturbation": ('family="toy", perturbations=["lr×0.5"]',
                     "perturbations: 'lr×0.5' is not a perturbation; build one with pf.perturb.*"),
    "rung": ('family="toy", perturbations=[pf.data.label_noise(0.2)]',
             "perturbations: *label-noise=0.2* is not a perturbation; build one with pf.perturb.*"),
}


def test_bad_decorator_arguments_fail_at_collection_listing_the_valid_choices(toy):
    bad = toy.mkdir("bad")
    for name, (argument, _) in BAD_DECORATIONS.items():
        (bad / f"test_bad_{name}.py").write_text(
            f"import pytest_fragility as pf\n\n@pf.fragility_check({argument})\n"
            "def test_x(run):\n    return 1.0\n")
    (bad / "test_bad_signature.py").write_text(
        "import pytest_fragility as pf\n\n@pf.fragility_check(family='toy')\ndef test_x():\n    return 1.0\n")
    result = run(toy, "--fragility", "bad")

    result.assert_outcomes(errors=len(BAD_DECORATIONS) + 1)
    for _, message in BAD_DECORATIONS.values():
        result.stdout.fnmatch_lines([f"E   pytest_fragility.errors.ConfigurationError: {message}"])
    missing_run = "test_x: the test body is the measure, so it needs a `run` argument *"
    result.stdout.fnmatch_lines([f"E   pytest_fragility.errors.ConfigurationError: {missing_run}"])


# ----------------------------------------------------------------------------- verdicts


def test_fragile_measure_fails_with_a_readable_diff(toy):
    result = run(toy, "--fragility", "-k", "fragile")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines([
        "*_ test_fragile _*",
        "fragility audit of test_fragile on toy: FRAGILE",
        "lr×0.5  (benign: *",
        "  trend     FRAGILE      sign flipped: measure trend +0.5* vs base -0.5*",
        "  scaling   FRAGILE      changed: Δ exponent +1.0*",
        "FAILED test_toy.py::test_fragile - Failed: fragility audit of test_fragile*",
    ])
    trend_line = next(line for line in result.outlines if "sign flipped" in line)
    variant, base = numbers(trend_line)[0], numbers(trend_line)[3]  # value [low, high] for each
    assert variant == pytest.approx(0.5, abs=0.05) and base == pytest.approx(-0.5, abs=0.05)


def test_robust_measure_passes(toy):
    result = run(toy, "--fragility", "-k", "robust")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "PASSED  stable       test_toy.py::test_robust  toy · quick · 60 runs · 3 stable",
        "        trend [[]lr×0.5[]]: same sign: measure trend -0.* vs base -0.*",
    ])


def test_unresolved_trend_is_inconclusive_and_fails_only_when_strict(toy):
    result = run(toy, "--fragility", "-k", "flat")
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["PASSED  inconclusive test_toy.py::test_flat  *",
                                 "        trend [[]lr×0.5[]]: sign not resolved for base: *"])

    strict = run(toy, "--fragility", "-k", "flat", "--fragility-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines([
        "fragility audit of test_flat on toy: inconclusive",
        "  trend     inconclusive sign not resolved for base: *",
    ])


def test_not_benign_perturbation_is_reported_and_does_not_fail(toy):
    result = run(toy, "--fragility", "-k", "not_benign", "--fragility-json", "report.json")

    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines([
        "PASSED  inconclusive test_toy.py::test_not_benign  toy · quick · 60 runs · 3 not-benign",
        "        benign [[]lr×2[]]: not benign: *",
    ])
    audit, = read_json(toy.path / "report.json")["audits"]
    gate = check_of(audit, "benign", "lr×2")
    assert gate["verdict"] == "not-benign" and gate["reason"].startswith("not benign")
    level = float(re.search(r"level ×([\d.]+)", gate["reason"]).group(1))
    assert level == pytest.approx(1.5, abs=0.1)  # PowerLaw(3.0, ·) against PowerLaw(2.0, ·)
    assert {c["verdict"] for c in audit["checks"] if c["check"] != "benign"} == {"not-benign"}


def test_measure_failures_name_the_run_and_the_other_runs_still_count(toy):
    result = run(toy, "--fragility", "-k", "errors", "--fragility-json", "report.json")

    result.assert_outcomes(failed=1)
    result.stdout.fnmatch_lines_random([
        "fragility audit of test_errors on toy: ERROR",
        "*measure error: RuntimeError: boom (run family=toy variant=lr×0.5 m=400 seed=2)",
        "*measure error: ValueError: returned nan (run family=toy variant=base m=800 seed=1)",
        "*measure error: ValueError: returned list, not a scalar number (run family=toy variant=base m=100 seed=3)",
    ])
    audit, = read_json(toy.path / "report.json")["audits"]
    assert audit["verdict"] == "error" and audit["runs"]["measure_errors"] == 3
    failed = {("lr×0.5", 400, 2), ("base", 800, 1), ("base", 100, 3)}
    for variant, curve in audit["curves"].items():
        for s, seed in enumerate(curve["seeds"]):
            for j, m in enumerate(curve["m"]):
                value, error = curve["values"][s][j], curve["test_error"][s][j]
                if (variant, m, seed) in failed:
                    assert value is None
                else:
                    assert value == pytest.approx(5 * error)
    assert check_of(audit, "trend", "lr×0.5")["verdict"] == "stable"  # judged on the 37 good runs


# ----------------------------------------------------------------------------- JSON report

CHECK_KEYS = {"check", "variant", "verdict", "measure_exponent", "measure_exponent_ci", "error_exponent",
              "error_exponent_ci", "reason"}


def test_json_report_follows_the_design_schema(toy):
    result = run(toy, "--fragility", "--fragility-json", "out/report.json")
    result.assert_outcomes(passed=4, failed=2)
    report = read_json(toy.path / "out" / "report.json")

    assert {"schema_version", "created", "environment", "audits"} <= set(report)
    assert report["schema_version"] == 1
    created = datetime.datetime.fromisoformat(report["created"])
    assert abs(datetime.datetime.now(datetime.timezone.utc) - created) < datetime.timedelta(minutes=10)
    assert report["environment"]["python"] == platform.python_version()
    assert report["environment"]["pytest-fragility"] == importlib.metadata.version("pytest-fragility")

    audits = {a["test"].split("::")[-1]: a for a in report["audits"]}
    assert {name: a["verdict"] for name, a in audits.items()} == VERDICTS
    for name, audit in audits.items():
        assert (audit["measure"], audit["family"], audit["budget"]) == (name, "toy", "quick")
        for check in audit["checks"]:
            assert CHECK_KEYS <= set(check)
            interval = check["measure_exponent_ci"]
            if interval is not None:
                assert interval[0] <= check["measure_exponent"] <= interval[1]

    fragile = check_of(audits["test_fragile"], "trend", "lr×0.5")
    assert fragile["verdict"] == "fragile" and fragile["reason"].startswith("sign flipped")
    assert fragile["measure_exponent"] == pytest.approx(0.5, abs=0.05)
    assert fragile["error_exponent"] == pytest.approx(-0.5, abs=0.05)
    low, high = fragile["error_exponent_ci"]
    assert low < -0.4 and high < 0  # test error falls like m^-0.5

    curves = audits["test_robust"]["curves"]
    assert list(curves) == ["base", "lr×0.5"]
    for curve in curves.values():
        assert curve["m"] == SIZES and curve["seeds"] == SEEDS
        for s in range(len(SEEDS)):
            for j, m in enumerate(SIZES):
                error = curve["test_error"][s][j]
                assert error == pytest.approx(2 * m ** -0.5, rel=0.25)  # 5 sd of the toy's log-noise
                assert curve["values"][s][j] == pytest.approx(5 * error)


# ----------------------------------------------------------------------------- baselines


def test_baselines_are_written_compared_and_drift_fails(toy, monkeypatch):
    update = run(toy, "--fragility", "-k", "env", "--fragility-update")
    update.assert_outcomes(passed=1)
    path = toy.path / "__fragility__" / "test_toy" / "test_env.json"
    baseline = read_json(path)
    assert (baseline["measure"], baseline["family"], baseline["verdict"]) == ("test_env", "toy", "stable")
    assert check_of(baseline, "trend", "lr×0.5")["measure_exponent"] == pytest.approx(-0.5, abs=0.05)

    run(toy, "--fragility", "-k", "env", "--fragility-compare").assert_outcomes(passed=1)

    monkeypatch.setenv("TOY_POWER", "0.5")  # the measure now scales like m^-0.25
    drift = run(toy, "--fragility", "-k", "env", "--fragility-compare")
    drift.assert_outcomes(failed=1)
    drift.stdout.fnmatch_lines([
        f"fragility baseline drift against {path} (two-sided; refresh with --fragility-update):",
        "  lr×0.5: measure exponent -0.4* → -0.2* (worse)",
    ])
    assert read_json(path) == baseline  # comparing never rewrites


def test_missing_baseline_warns_and_fails_when_strict(toy):
    result = run(toy, "--fragility", "-k", "robust", "--fragility-compare")
    result.assert_outcomes(passed=1, warnings=1)
    fix = "create it with pytest --fragility --fragility-update test_toy.py::test_robust"
    result.stdout.fnmatch_lines([f"*MissingBaselineWarning: no fragility baseline at *test_robust.json; {fix}"])

    strict = run(toy, "--fragility", "-k", "robust", "--fragility-compare", "--fragility-strict")
    strict.assert_outcomes(failed=1)
    strict.stdout.fnmatch_lines(["no fragility baseline at *test_robust.json; create it with*"])


def test_same_named_methods_of_two_classes_keep_separate_baselines(toy):
    toy.makepyfile(test_classes="""
        import pytest_fragility as pf

        class TestA:
            @pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
            def test_m(self, run):
                return 5 * run.test_error

        class TestB:
            @pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
            def test_m(self, run):
                return 7 * run.test_error ** 0.5
    """)
    run(toy, "--fragility", "test_classes.py", "--fragility-update").assert_outcomes(passed=2)
    stored = sorted(p.name for p in (toy.path / "__fragility__" / "test_classes").iterdir())
    assert stored == ["TestA_test_m.json", "TestB_test_m.json"]
    run(toy, "--fragility", "test_classes.py", "--fragility-compare").assert_outcomes(passed=2)


def test_compare_command_exits_1_on_a_regression_and_0_on_identical_reports(toy, monkeypatch, capsys):
    for name in ("a.json", "b.json"):
        run(toy, "--fragility", "-k", "env or robust", "--fragility-json", name)
    monkeypatch.setenv("TOY_POWER", "0.5")
    run(toy, "--fragility", "-k", "env or robust", "--fragility-json", "drifted.json")
    a, b, drifted = (str(toy.path / n) for n in ("a.json", "b.json", "drifted.json"))
    capsys.readouterr()

    assert cli.main(["compare", a, b]) == 0
    assert capsys.readouterr().out.strip().endswith("0 regression(s), 0 change(s)")

    assert cli.main(["compare", a, drifted]) == 1
    out = capsys.readouterr().out
    assert "test_toy.py::test_env test_env toy: lr×0.5: measure exponent -0.4" in out
    assert out.count("measure exponent") == 1  # shared by the trend, scaling and value rows: once
    assert "test_robust" not in out


# ----------------------------------------------------------------------------- pytest-xdist

XDIST_TESTS = TOY_TESTS + """

@pf.fragility_check(family="toy", perturbations=[pf.perturb.lr(0.5)])
def test_numpy_scalar(run):
    import numpy as np
    return np.float64(5 * run.test_error)  # not a type execnet can carry: must be converted
"""


def test_xdist_gives_the_same_verdicts_and_json_as_a_single_process(pytester):
    pytest.importorskip("xdist")
    pytester.makeconftest(TOY_CONFTEST)
    pytester.makepyfile(test_toy=XDIST_TESTS)
    serial = run(pytester, "--fragility", "-n", "0", "--fragility-json", "serial.json")
    parallel = run(pytester, "--fragility", "-n", "2", "--fragility-json", "parallel.json")

    outcomes = {"passed": 5, "failed": 2}
    serial.assert_outcomes(**outcomes)
    parallel.assert_outcomes(**outcomes)
    parallel.stdout.fnmatch_lines(["created: 2/2 workers", "*= fragility audits =*"])
    a, b = (read_json(pytester.path / name) for name in ("serial.json", "parallel.json"))
    assert len(a["audits"]) == len(VERDICTS) + 1
    a.pop("created"), b.pop("created")
    assert a == b


# ----------------------------------------------------------------------------- terminal output


def failure_diff(result):
    """The plugin's failure text: the FAILURES section less pytest's own (coloured) headers."""
    text = section(result.stdout.str(), "= FAILURES =", "= fragility audits =")
    return "\n".join(line for line in text.splitlines() if "_ test_" not in line)


def test_color_yes_colours_the_failure_diff(toy):
    result = run(toy, "--fragility", "-k", "fragile", "--color=yes")
    assert ANSI in failure_diff(result)


@pytest.mark.parametrize("setting", [{"args": ["--color=no"]}, {"env": {"NO_COLOR": "1"}},
                                     {"env": {"PY_COLORS": "0"}}], ids=["color-no", "NO_COLOR", "PY_COLORS"])
def test_colour_switched_off_leaves_no_escapes(toy, monkeypatch, setting):
    monkeypatch.delenv("PY_COLORS")
    monkeypatch.setenv("FORCE_COLOR", "1")  # colour would be on without the setting under test
    for name, value in setting.get("env", {}).items():
        monkeypatch.setenv(name, value)
    result = run(toy, "--fragility", "-k", "fragile", *setting.get("args", []))
    result.assert_outcomes(failed=1)
    assert "sign flipped" in failure_diff(result) and ANSI not in result.stdout.str()


def test_forced_colour_is_the_control_for_the_escape_checks(toy, monkeypatch):
    monkeypatch.delenv("PY_COLORS")
    monkeypatch.setenv("FORCE_COLOR", "1")
    assert ANSI in failure_diff(run(toy, "--fragility", "-k", "fragile"))


def test_summary_has_a_verdict_line_for_every_audit(toy):
    result = run(toy, "--fragility")
    result.assert_outcomes(passed=4, failed=2)
    summary = section(result.stdout.str(), "= fragility audits =", "= short test summary info =")
    heads = [line.split() for line in summary.splitlines() if line.split()[:1] in (["PASSED"], ["FAILED"])]
    assert {row[2].split("::")[-1]: row[1].lower() for row in heads} == VERDICTS
    outcomes = {row[2].split("::")[-1]: row[0] for row in heads}
    assert outcomes == {name: "FAILED" if verdict in ("fragile", "error") else "PASSED"
                        for name, verdict in VERDICTS.items()}
    assert all(row[3] == "toy" for row in heads)


def test_verbose_summary_shows_every_row_of_every_audit(toy):
    quiet = section(run(toy, "--fragility", "-k", "robust").stdout.str(), "= fragility audits =", "passed")
    assert "scaling" not in quiet
    verbose = run(toy, "--fragility", "-k", "robust or not_benign", "-v").stdout.str()
    summary = section(verbose, "= fragility audits =", "= 2 passed")
    for row in ("          trend     stable       same sign: *", "          scaling   stable       within: *",
                "          value     stable       within: *", "        lr×2: not-benign — not benign: *"):
        assert any(fnmatch.fnmatch(line, row) for line in summary.splitlines()), row


def test_a_broken_summary_renderer_does_not_break_the_run(toy, monkeypatch):
    def broken(*args, **kwargs):
        raise RuntimeError("renderer broke")

    monkeypatch.setattr(pytest_fragility.report.terminal, "render_session", broken)
    result = run(toy, "--fragility", "-k", "robust")
    assert result.ret == pytest.ExitCode.OK
    result.assert_outcomes(passed=1)
    result.stdout.fnmatch_lines(["fragility: could not render the summary (RuntimeError('renderer broke'))"])


# ----------------------------------------------------------------------------- fixtures

FIXTURE_TESTS = """
import pytest_fragility as pf


def test_runs(fragility_family, fragility_cache):
    runs = fragility_family("toy", variants=[pf.perturb.lr(0.5)])
    assert len(runs) == 2 * 5 * 6
    assert {r.variant for r in runs} == {"base", "lr×0.5"}
    assert sorted({r.m for r in runs}) == [100, 200, 400, 800, 1600]
    base = [r for r in runs if r.variant == "base"]
    assert all(abs(r.test_error / (2 * r.m ** -0.5) - 1) < 0.25 for r in base)
    assert fragility_cache.root.name == "my-cache"
"""


def test_fragility_family_fixture_gives_runs_and_skips_without_the_flag(pytester):
    pytester.makeconftest(TOY_CONFTEST)
    pytester.makepyfile(test_fixtures=FIXTURE_TESTS)
    run(pytester, "--fragility", "--fragility-cache", "my-cache").assert_outcomes(passed=1)
    result = run(pytester, "-rs")
    result.assert_outcomes(skipped=1)
    result.stdout.fnmatch_lines(["SKIPPED *fragility checks are disabled; run pytest with --fragility"])


# ----------------------------------------------------------------------------- profiles and ini


def test_ci_environment_selects_the_ci_profile_and_the_option_overrides_it(toy, monkeypatch):
    run(toy, "--fragility", "-k", "robust").stdout.fnmatch_lines(["fragility: profile default, budget quick*"])
    monkeypatch.setenv("CI", "true")
    ci = run(toy, "--fragility", "-k", "robust", "--fragility-compare")
    ci.stdout.fnmatch_lines(["fragility: profile ci, *"])
    ci.assert_outcomes(failed=1)  # the ci profile fails a missing baseline instead of warning
    run(toy, "--fragility", "-k", "robust", "--fragility-profile", "default").stdout.fnmatch_lines(
        ["fragility: profile default, *"])


def test_profile_registered_in_conftest_is_used(toy):
    toy.makeconftest(TOY_CONFTEST + '\npf.register_profile("nightly", budget="standard", strict=True)\n')
    result = run(toy, "--fragility", "-k", "flat", "--fragility-profile", "nightly")
    result.stdout.fnmatch_lines(["fragility: profile nightly, budget standard, *"])
    result.assert_outcomes(failed=1)  # strict from the profile: inconclusive fails


@pytest.mark.parametrize("args, ini, message", [
    (["--fragility-profile", "weekly"], "", "unknown profile 'weekly'; valid: ci, default"),
    ([], "fragility_tolerances = exponent = wide", "fragility_tolerances: 'exponent' needs a number, got 'wide'"),
], ids=["profile", "tolerance"])
def test_bad_settings_are_usage_errors_naming_the_setting(toy, args, ini, message):
    toy.makeini(f"[pytest]\n{ini}\n")
    result = run(toy, "--fragility", *args)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {message}"])
    result.stdout.no_fnmatch_line("*INTERNALERROR*")


def test_options_also_work_as_ini_keys(toy):
    toy.makeini("""
        [pytest]
        fragility_json = from-ini.json
        fragility_strict = true
        fragility_budget = standard
        fragility_tolerances =
            value_ratio = 10000
    """)
    result = run(toy, "--fragility", "-k", "flat or fragile")
    result.stdout.fnmatch_lines(["fragility: profile default, budget standard, *"])
    result.assert_outcomes(failed=2)  # fragile, and flat under strict
    audits = {a["measure"]: a for a in read_json(toy.path / "from-ini.json")["audits"]}
    assert audits["test_fragile"]["tolerances"]["value_ratio"] == 10000
    assert check_of(audits["test_fragile"], "value", "lr×0.5")["verdict"] == "stable"  # ×~400 < ×10000
    assert audits["test_fragile"]["budget"] == "standard"

    run(toy, "--fragility", "-k", "robust", "--fragility-json", "from-option.json")
    assert (toy.path / "from-option.json").exists()
