"""Runs that do not count are never silent: per variant, how many missed the stopping rule
and why, in every report, with a warning and the fix; and no budget undoes a user's override."""

from __future__ import annotations

import json

import pytest

import pytest_fragility as pf
import pytest_fragility.auditing.engine  # noqa: F401  (numpy once per process: see test_plugin.py)
import pytest_fragility.families
from pytest_fragility import cli
from pytest_fragility.report.html import write_html
from pytest_fragility.report.terminal import render_audit
from pytest_fragility.runs.grid import grid
from pytest_fragility.testing import ClosedFormFamily
from tests.helpers import toy_family


def trained_audit(tmp_path, **recipe):
    """A tiny real family whose base runs stop at a 1-epoch cap and whose lr×1e9 runs blow up."""
    family = toy_family("toy-lost", max_epochs=1, **recipe)
    return pf.audit(lambda run: float(run.m), family, perturbations=[pf.perturb.lr(1e9)],
                    checks=("benign", "trend"), budget="tiny", cache=tmp_path, progress=False)


def test_each_lost_run_says_why_epoch_cap_or_diverged(tmp_path):
    result = trained_audit(tmp_path)
    summary = result.to_dict()["convergence"]
    assert summary["base"] == {"runs": 4, "not_converged": 4, "epoch_cap": 4, "diverged": 0, "max_epochs": 1,
                               "warning": True}
    assert summary["lr×1e+09"]["diverged"] == 4 and summary["lr×1e+09"]["epoch_cap"] == 0
    assert {m.stop for m in result.measurements if m.variant == "base"} == {"epoch-cap"}
    assert set(result.to_frame()["stop"]) == {"epoch-cap", "diverged"}


def test_the_terminal_and_html_reports_name_the_variant_the_reason_and_the_fix(tmp_path):
    audit = trained_audit(tmp_path / "cache").to_dict()
    text = render_audit(audit, color=False)
    assert ("not converged (left out of the curves): base 4/4 (4 at the epoch cap (1)); "
            "lr×1e+09 4/4 (4 diverged)") in text
    assert ("warning: base lost 4 of 4 runs (4 at the epoch cap (1); more than 10% of a variant), so it is "
            "judged on fewer seeds: raise the epoch cap (pf.families.get('toy-lost', max_epochs=2))") in text
    assert "lr×1e+09 lost 4 of 4 runs (4 diverged; " in text and "lower the variant's learning rate" in text
    page = write_html(tmp_path / "html", {"audits": [audit], "environment": {}}, command="test").read_text()
    assert "base 4/4 (4 at the epoch cap (1))" in page and "max_epochs=2" in page


def test_a_variant_without_lost_runs_is_not_mentioned():
    family = ClosedFormFamily("toy-some-lost", lost={"lr×0.5": 0.05})  # 2 of 30 runs: under the 10% warning
    result = pf.audit(lambda run: run.test_error, family, perturbations=[pf.perturb.lr(0.5)], progress=False)
    text = render_audit(result.to_dict(), color=False)
    assert "not converged (left out of the curves): lr×0.5 2/30 (2 at the epoch cap (300))" in text
    assert "warning" not in text and "base" not in text.split("not converged")[1].splitlines()[0]


LOSING_CONFTEST = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily

pf.families.register(ClosedFormFamily("toy-losing", lost={"lr×0.5": 0.5}), replace=True)
"""

LOSING_TEST = """
import pytest_fragility as pf


@pf.fragility_check(family="toy-losing", perturbations=[pf.perturb.lr(0.5)])
def test_tracks(run):
    return 5 * run.test_error
"""


def test_the_plugin_warns_and_every_report_says_it(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    monkeypatch.setattr(pytest_fragility.families, "_USER", dict(pytest_fragility.families._USER))
    pytester.makeconftest(LOSING_CONFTEST)
    pytester.makepyfile(test_losing=LOSING_TEST)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                "--fragility", "--fragility-json", "out.json")
    result.assert_outcomes(passed=1, warnings=1)
    result.stdout.fnmatch_lines([
        "  test_losing.py:*: NonConvergenceWarning: lr×0.5 lost 15 of 30 runs*",
        "PASSED  * test_losing.py::test_tracks  *",
        "        not converged (left out of the curves): lr×0.5 15/30 (15 at the epoch cap (300))",
        "        warning: lr×0.5 lost 15 of 30 runs *",
    ])
    audit, = json.loads((pytester.path / "out.json").read_text())["audits"]
    assert audit["convergence"]["lr×0.5"]["not_converged"] == 15 and audit["convergence"]["lr×0.5"]["warning"]
    assert audit["convergence"]["base"]["not_converged"] == 0


# ----------------------------------------------------------------------------- budgets and overrides


def test_a_user_override_wins_over_the_budget_recipe_change(shared_cache):
    smoke = dict(pf.families.get("fcn-digits").budget("smoke").overrides)
    pinned = pf.families.get("fcn-digits", width=48)
    points = grid(pinned, "smoke", cache_dir=shared_cache)
    assert {p.job.recipe.width for p in points} == {48}                         # yours
    assert {p.job.recipe.batch_size for p in points} == {smoke["batch_size"]}   # the budget's: not pinned
    default = grid(pf.families.get("fcn-digits"), "smoke", cache_dir=shared_cache)
    assert {p.job.recipe.width for p in default} == {smoke["width"]}
    assert f"width 48 (yours: the budget's {smoke['width']} not applied)" in pinned.describe_budget("smoke")


def test_families_command_shows_each_budget_recipe_change(capsys):
    assert cli.main(["families", "--budget", "smoke"]) == 0
    out = capsys.readouterr().out
    family = pf.families.get("fcn-digits")
    changes = ", ".join(f"{k} {getattr(family.recipe, k)} → {v}" for k, v in family.budget("smoke").overrides
                        if getattr(family.recipe, k) != v)
    assert f"    smoke: sizes 32, 64, 128; seeds 0, 1; recipe {changes}" in out.split("fcn-digits", 1)[1]
    assert cli.main(["families", "--budget", "weekly"]) == 0
    assert "no such budget (its budgets: smoke, quick, standard, paper)" in capsys.readouterr().out


@pytest.mark.parametrize("budget", ["smoke", "quick", "standard", "paper"])
def test_every_budget_change_is_a_recipe_field(budget):
    for name in pytest_fragility.families.BUILTIN_FAMILIES:
        family = pf.families.get(name)
        family.recipe_at(budget)  # an unknown field would raise here
