"""`--fragility-report DIR`: the plugin writes the HTML report of every audit of the session."""

import re

import matplotlib.image

TOY = """
import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily, error_draw

pf.families.register(ClosedFormFamily("toy-report", noise=0.02), replace=True)
"""

TESTS = """
import pytest_fragility as pf


@pf.fragility_check(family="toy-report", perturbations=[pf.perturb.lr(0.5)])
def test_tracks(run):
    return 5 * run.test_error


@pf.fragility_check(family="toy-report", perturbations=[pf.perturb.lr(0.5)])
def test_flips(run):
    return run.m ** (0.5 if run.variant == "lr×0.5" else -0.5)
"""


def test_report_folder_holds_a_page_and_one_figure_per_audit(pytester, monkeypatch):
    monkeypatch.delenv("CI", raising=False)
    pytester.makeconftest(TOY)
    pytester.makepyfile(test_toy_report=TESTS)
    result = pytester.runpytest("-p", "no:cacheprovider", "-W", "ignore::pytest.PytestAssertRewriteWarning",
                                "--fragility", "--fragility-report", "report")
    result.assert_outcomes(passed=1, failed=1)
    page = (pytester.path / "report" / "index.html").read_text()
    assert "test_tracks" in page and "test_flips" in page and "--fragility-report report" in page
    images = re.findall(r'<img src="([^"]+)"', page)
    assert len(images) == 2
    for name in images:
        assert matplotlib.image.imread(pytester.path / "report" / name).std() > 0.05
