"""The HTML report in a real browser: headless Chromium renders it, figures included.

Marked `browser`; `.ci/run` installs Debian's chromium where it can. The figure check looks
for the plot's line colours in the screenshot: a page whose images failed to load has none.
"""

import math
import shutil
import subprocess

import matplotlib.image
import numpy as np
import pytest

import pytest_fragility as pf
from pytest_fragility.report.environment import environment
from pytest_fragility.report.html import write_html
from pytest_fragility.report.json_report import build_report
from pytest_fragility.testing import ClosedFormFamily, PowerLaw

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
LINE_BLUE = np.array([31, 119, 180]) / 255  # first line colour of the figures
pytestmark = [pytest.mark.browser,
              pytest.mark.skipif(CHROMIUM is None, reason="Debian's chromium is not installed")]


def _report(directory):
    family = ClosedFormFamily("toy-browser", noise=0.05, errors={"label-noise=0.2": PowerLaw(3.0, -0.4)})
    audits = []
    for name, measure in [("tracks", lambda run: 5 * run.test_error),
                          ("flips", lambda run: run.m ** (0.5 if run.variant == "lr×0.5" else -0.5))]:
        measure.__name__ = name
        result = pf.audit(measure, family, perturbations=[pf.perturb.lr(0.5)],
                          data=[pf.data.label_noise(0.2)], progress=False)
        audits.append({"test": name, **result.to_dict()})
    return write_html(directory, build_report(audits, environment()), command="pytest --fragility")


def test_report_renders_with_its_figures_in_headless_chromium(tmp_path):
    index = _report(tmp_path / "report")
    shot = tmp_path / "screenshot.png"
    subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
         "--disable-background-networking", "--disable-component-update", "--disable-sync",
         f"--user-data-dir={tmp_path / 'profile'}", "--hide-scrollbars", "--window-size=1300,1800",
         f"--screenshot={shot}", index.as_uri()],
        check=True, capture_output=True, timeout=120)
    pixels = matplotlib.image.imread(shot)[..., :3]
    assert pixels.shape[:2] == (1800, 1300)
    blue = np.linalg.norm(pixels - LINE_BLUE, axis=-1) < 0.08
    assert blue.sum() > 200, "no plotted line in the screenshot: the figures did not render"
    non_white = (pixels.mean(axis=-1) < 0.95).mean()
    assert non_white > 0.02 and not math.isnan(non_white)  # text and tables rendered too
    shutil.copy(shot, tmp_path.parent / "report-screenshot.png")  # kept for a human look
