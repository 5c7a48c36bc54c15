"""Reports, baselines and the plugin's session under faults, with pytester and closed-form families.

Output paths are checked when the session starts (a usage error naming the path, before
any training); a write that fails at the end is an error line and exit status 1 while
everything else is still written and the summary printed; damaged baselines are named.
"""

from __future__ import annotations

import json

import matplotlib.figure  # noqa: F401  (drawn lazily by the HTML report: imported before any inner run)
import pytest

import pytest_fragility.auditing.engine
import pytest_fragility.families
import pytest_fragility.plugin.profiles
import pytest_fragility.plugin.session
import pytest_fragility.report.environment
import pytest_fragility.report.html
import pytest_fragility.report.json_report
import pytest_fragility.report.plots
import pytest_fragility.report.terminal  # noqa: F401  (loaded before any inner run)
from tests.faults.processes import read_only
from tests.inner import isolate
from tests.inner import run_fragility as run

# pytester restores sys.modules after each in-process run and torch and numpy cannot be
# imported twice: the modules the inner runs use are imported above, before any run.

CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily

pf.families.register(ClosedFormFamily("closed", noise=0.05), replace=True)
"""

TESTS = """
import math
import os
import pytest_fragility as pf


@pf.fragility_check(family="closed", perturbations=[pf.perturb.lr(0.5)], budget="smoke")
def test_robust(run):
    open("measured", "w").close()
    if os.environ.get("OCCUPY_JSON"):  # something makes the JSON path unwritable during the run
        os.makedirs(os.environ["OCCUPY_JSON"], exist_ok=True)
    return 5 * run.test_error


@pf.fragility_check(family="closed", perturbations=[pf.perturb.lr(0.5)], budget="smoke")
def test_infinite_spread(run):
    return 1e-300 if run.seed == 0 else 1e300
"""


@pytest.fixture(autouse=True)
def isolated(monkeypatch):
    isolate(monkeypatch, "OCCUPY_JSON")


@pytest.fixture
def project(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_closed=TESTS)
    return pytester


def _temporaries(root):
    return [p for p in root.rglob("*.tmp")]


@pytest.mark.parametrize("option,make,message", [
    ("--fragility-json", lambda root: (root / "out.json").mkdir(), "out.json: is a folder; give the path of a file"),
    ("--fragility-json", lambda root: (root / "blocker").write_text("x"),
     "blocker/out.json: the file cannot be created, {root}/blocker is a file"),
    ("--fragility-report", lambda root: (root / "html").write_text("x"), "html: is a file; give the path of a folder"),
    ("--fragility-baseline-dir", lambda root: (root / "base").write_text("x"), "base: is a file"),
], ids=["json-is-a-folder", "json-below-a-file", "report-is-a-file", "baselines-is-a-file"])
def test_an_unusable_output_path_is_a_usage_error_before_any_test_runs(project, option, make, message):
    make(project.path)
    target = {"--fragility-json": "out.json", "--fragility-report": "html", "--fragility-baseline-dir": "base"}[option]
    if message.startswith("blocker"):
        target = "blocker/out.json"
    extra = ["--fragility-update"] if option == "--fragility-baseline-dir" else []
    result = run(project, f"{option}={project.path / target}", *extra)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: {option} {project.path}/{message.format(root=project.path)}*"])
    assert not (project.path / "measured").exists()  # nothing was trained or measured


def test_an_unwritable_baseline_folder_beside_the_tests_is_a_usage_error_before_any_test_runs(project):
    (project.path / "__fragility__").write_text("not a folder")
    result = run(project, "--fragility-update")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: --fragility-update: baselines in {project.path}/__fragility__/test_closed: "
                                 f"the folder cannot be created, {project.path}/__fragility__ is a file"])
    assert not (project.path / "measured").exists()


SKIPPING = """
import sys
import pytest
import pytest_fragility as pf


@pf.fragility_check(family="closed", perturbations=[pf.perturb.lr(0.5)], budget="smoke")
def test_skips_once(run):
    if (run.m, run.seed) == (64, 1):
        pytest.skip("not for this run")
    return 5 * run.test_error


@pf.fragility_check(family="closed", perturbations=[pf.perturb.lr(0.5)], budget="smoke")
def test_exits_once(run):
    if (run.m, run.seed) == (64, 0):
        sys.exit(3)
    return 5 * run.test_error
"""


def test_skip_or_exit_inside_a_measure_keeps_the_audit_in_the_json(pytester):
    pytester.makeconftest(CONFTEST)
    pytester.makepyfile(test_skipping=SKIPPING)
    json_path = pytester.path / "report.json"
    result = run(pytester, f"--fragility-json={json_path}")
    result.assert_outcomes(failed=2)
    audits = {a["test"].split("::")[1]: a for a in json.loads(json_path.read_text())["audits"]}
    assert set(audits) == {"test_skips_once", "test_exits_once"} and audits["test_exits_once"]["verdict"] == "error"
    assert "called pytest.skip('not for this run')" in " ".join(audits["test_skips_once"]["errors"])
    assert "called sys.exit(3)" in " ".join(audits["test_exits_once"]["errors"])


def test_a_read_only_report_folder_is_a_usage_error_before_any_test_runs(project, tmp_path):
    outputs = tmp_path / "outputs"
    outputs.mkdir()
    code = ("import sys, pytest\n"
            f"sys.exit(pytest.main(['-p', 'no:cacheprovider', '--fragility', '--rootdir', {str(project.path)!r}, "
            f"{str(project.path)!r}, '--fragility-json', {str(outputs / 'report.json')!r}]))")
    done = read_only(outputs, code)
    assert done.returncode == pytest.ExitCode.USAGE_ERROR, done.stdout + done.stderr
    assert f"ERROR: --fragility-json {outputs / 'report.json'}: {outputs} cannot be written" in done.stderr
    assert not (project.path / "measured").exists()


def test_a_write_that_fails_at_the_end_is_an_error_line_and_nothing_else_is_lost(project, monkeypatch):
    json_path = project.path / "out" / "report.json"
    monkeypatch.setenv("OCCUPY_JSON", str(json_path))  # valid at the start, a folder by the end
    result = run(project, f"--fragility-json={json_path}", f"--fragility-report={project.path / 'html'}",
                 "--fragility-update", f"--fragility-baseline-dir={project.path / 'baselines'}")
    assert result.ret == pytest.ExitCode.TESTS_FAILED
    result.stdout.fnmatch_lines(["*fragility: outputs not written*",
                                 f"fragility: error: could not write the JSON report {json_path}: *Error: *"])
    result.stdout.fnmatch_lines(["*fragility audits*"])  # the summary still prints
    assert "Traceback" not in result.stdout.str() + result.stderr.str()
    assert (project.path / "html" / "index.html").exists()  # the other outputs are written
    assert len(list((project.path / "baselines").rglob("*.json"))) == 2
    assert not _temporaries(project.path)


def test_infinite_values_never_break_the_json_or_html_report(project):
    project.makeconftest(CONFTEST + """
import math

def pytest_fragility_update_json(config, report):
    report["extra"] = {"nan": math.nan, "inf": -math.inf, "nested": [math.inf, (1, math.nan)]}
""")
    json_path = project.path / "report.json"
    result = run(project, f"--fragility-json={json_path}", f"--fragility-report={project.path / 'html'}")
    assert "could not write" not in result.stdout.str()
    report = json.loads(json_path.read_text())  # strict JSON: no NaN or Infinity literals
    assert report["extra"] == {"nan": None, "inf": None, "nested": [None, [1, None]]}
    assert {a["test"].split("::")[1] for a in report["audits"]} == {"test_robust", "test_infinite_spread"}
    assert (project.path / "html" / "index.html").exists()


@pytest.mark.parametrize("content,message", [
    ("{broken", " is not valid JSON"),
    (json.dumps({"schema_version": 99, "measure": "m"}), " has schema_version 99; this version"),
    (json.dumps({"schema_version": 1, "measure": "test_robust"}),
     ": audit 'test_robust' lacks family, budget, form, verdict, checks"),
    (json.dumps([1, 2]), " holds a JSON list, not an object"),
], ids=["not-json", "schema-99", "missing-fields", "a-list"])
def test_a_damaged_committed_baseline_fails_its_test_naming_the_file(project, content, message):
    assert run(project, "--fragility-update").ret == 0
    path = project.path / "__fragility__" / "test_closed" / "test_robust.json"
    path.write_text(content)
    result = run(project, "--fragility-compare")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines([f"fragility baseline {path}{message}*; fix it or write it again with "
                                 "pytest --fragility --fragility-update test_closed.py::test_robust"])
    assert "JSONDecodeError" not in result.stdout.str() and "KeyError" not in result.stdout.str()


def test_a_cache_path_that_is_a_file_is_a_usage_error(project, monkeypatch):
    occupied = project.path / "cache-file"
    occupied.write_text("x")
    monkeypatch.setenv("FRAGILITY_CACHE_DIR", str(occupied))
    result = run(project)
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines([f"ERROR: cache folder {occupied} is a file, not a folder*"])
