"""The `fragility` command and the public builders under bad input and Ctrl-C.

Every bad option fails before any training, with exit status 2 and a message naming it;
`compare` tells unusable input (2) from a regression (1); Ctrl-C is one line and 130.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys

import pytest

import pytest_fragility as pf
from pytest_fragility.cli import main
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.spec.tolerances import parse_tolerance_lines, resolve_tolerances
from tests.faults.processes import ROOT


def _no_training(tmp_path):
    """The cache a refused audit would have trained into: it must stay empty."""
    return not (tmp_path / "cache" / "runs").exists()


@pytest.mark.parametrize("option,message", [
    (["--checks", "trend,nope"], "unknown check 'nope'"),
    (["--budget", "huge"], "unknown budget 'huge'"),
    (["--device", "tpu:7"], "unknown device 'tpu:7'"),
    (["--data-dir", "/no/such/folder"], "--data-dir /no/such/folder: no such folder"),
    (["--report", "{tmp}/file.txt"], "--report {tmp}/file.txt: is a file; give the path of a folder"),
    (["--json", "{tmp}"], "--json {tmp}: is a folder; give the path of a file"),
    (["--cache", "{tmp}/file.txt"], "cache folder {tmp}/file.txt is a file, not a folder"),
], ids=["checks", "budget", "device", "data-dir", "report", "json", "cache"])
def test_every_audit_option_is_checked_before_training(tmp_path, capsys, option, message):
    (tmp_path / "file.txt").write_text("x")
    option = [o.format(tmp=tmp_path) for o in option]
    defaults = {"--cache": str(tmp_path / "cache"), "--report": str(tmp_path / "report")}
    defaults.update(dict(zip(option[::2], option[1::2])))
    argv = ["audit", "--family", "fcn-digits", "--budget", "smoke", "--measures", "params", "--no-progress"]
    argv[argv.index("--budget") + 1] = defaults.pop("--budget", "smoke")
    for name, value in defaults.items():
        argv += [name, value]
    assert main(argv) == 2
    captured = capsys.readouterr()
    assert message.format(tmp=tmp_path) in captured.err
    assert "fragility audit:" not in captured.out  # failed before the run began, nothing trained
    assert _no_training(tmp_path)


def _report(tmp_path, name, verdict="stable", version=1):
    path = tmp_path / name
    audit = {"test": "t", "measure": "m", "family": "f", "budget": "smoke", "form": "bound", "verdict": verdict,
             "checks": [{"check": "trend", "variant": "lr×2", "verdict": verdict}]}
    path.write_text(json.dumps({"schema_version": version, "audits": [audit]}))
    return path


@pytest.mark.parametrize("make,message", [
    (lambda d: d / "missing.json", "report {d}/missing.json does not exist"),
    (lambda d: (d / "bad.json").write_text("{not json") and d / "bad.json", "is not valid JSON"),
    (lambda d: (d / "list.json").write_text("[]") and d / "list.json", "holds a JSON list, not an object"),
    (lambda d: (d / "shape.json").write_text(json.dumps({"schema_version": 1, "audits": [{"measure": "m"}]}))
     and d / "shape.json", "audit 'm' lacks family, budget, form, verdict, checks"),
    (lambda d: _report(d, "v99.json", version=99), "has schema_version 99; this version of pytest-fragility "
                                                   "reads schema_version 1"),
], ids=["missing", "not-json", "a-list", "wrong-shape", "schema-99"])
def test_compare_exits_2_on_unusable_input(tmp_path, capsys, make, message):
    good = _report(tmp_path, "good.json")
    for args in ([str(make(tmp_path)), str(good)], [str(good), str(make(tmp_path))]):
        assert main(["compare", *args]) == 2
        assert message.format(d=tmp_path) in capsys.readouterr().err


def test_compare_exits_1_only_on_a_regression(tmp_path):
    before, after = _report(tmp_path, "a.json"), _report(tmp_path, "b.json", verdict="fragile")
    assert main(["compare", str(before), str(before)]) == 0
    assert main(["compare", str(before), str(after)]) == 1
    assert main(["compare", str(before), str(after), "--atol", "nan"]) == 2


def test_ctrl_c_is_one_line_and_exit_130(tmp_path):
    command = [sys.executable, "-m", "pytest_fragility", "audit", "--family", "fcn-digits", "--budget", "smoke",
               "--measures", "params", "--no-progress", "--cache", str(tmp_path / "cache"),
               "--report", str(tmp_path / "report")]
    # A shell's background job (`cmd &`) ignores SIGINT and its children inherit that, so Python
    # would never raise KeyboardInterrupt: the child gets the default disposition back.
    process = subprocess.Popen(command, cwd=ROOT, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                               env={**os.environ, "PYTHONUNBUFFERED": "1"},
                               preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL))
    assert process.stdout.readline().startswith("fragility audit:")  # past argument checks: training starts
    process.send_signal(signal.SIGINT)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 130, out + err
    assert err.strip().splitlines() == ["fragility: interrupted; what was trained and measured so far is cached, "
                                        "a rerun resumes"]
    assert not list((tmp_path / "cache").rglob("*.tmp"))


@pytest.mark.parametrize("build,message", [
    (lambda: pf.perturb.lr(float("inf")), "lr factor must be a finite number > 0, got inf"),
    (lambda: pf.perturb.lr(float("nan")), "lr factor must be a finite number > 0, got nan"),
    (lambda: pf.perturb.lr("0.5"), "lr factor must be a finite number > 0, got '0.5'"),
    (lambda: pf.perturb.init_scale(0), "init scale must be a finite number > 0, got 0"),
    (lambda: pf.perturb.batch_size(1.5), "batch size must be a positive integer, got 1.5"),
    (lambda: pf.data.label_noise(float("inf")), "label noise"),
    (lambda: resolve_tolerances({"value_ratio": "1.5"}), "tolerance 'value_ratio' must be a number, got '1.5'"),
    (lambda: parse_tolerance_lines(["max_non_converged = 1.5"]), "tolerance 'max_non_converged' must be < 1, got 1.5"),
    (lambda: parse_tolerance_lines(["exponent = inf"]), "tolerance 'exponent' must be finite, got inf"),
], ids=["lr-inf", "lr-nan", "lr-str", "init-0", "batch-1.5", "noise-inf", "ratio-str", "ini-fraction", "ini-inf"])
def test_bad_numbers_are_configuration_errors_naming_the_argument(build, message):
    with pytest.raises(ConfigurationError, match=message.replace("(", r"\(").replace(")", r"\)")):
        build()


def test_fragility_check_without_parentheses_says_so():
    with pytest.raises(ConfigurationError, match=r"@fragility_check needs parentheses: write "
                                                 r"@pf\.fragility_check\(family=\.\.\.\) above test_measure"):
        @pf.fragility_check
        def test_measure(run):
            return 1.0
