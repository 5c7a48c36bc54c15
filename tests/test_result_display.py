"""`AuditResult` in a notebook: a one-line repr and an HTML table of its rows."""

import html
import re

import pytest_fragility as pf
from pytest_fragility.testing import ClosedFormFamily, error_draw


def flipping(run):
    return 3 * run.m ** (0.5 if run.variant == "lr×0.5" else -0.5) * (1 + 0.01 * error_draw(run))


def test_repr_is_one_short_line_with_the_verdict_and_counts():
    result = pf.audit(flipping, ClosedFormFamily("toy-repr"), perturbations=[pf.perturb.lr(0.5)], progress=False)
    text = repr(result)
    assert text == "<AuditResult flipping on toy-repr (quick): fragile; 3 fragile; 60 runs>"
    lost = pf.audit(flipping, ClosedFormFamily("toy-repr-lost", lost={"lr×0.5": 0.2}),
                    perturbations=[pf.perturb.lr(0.5)], progress=False)
    assert repr(lost).endswith("; 60 runs, 6 not converged>")


def test_html_display_holds_every_row_and_its_reason():
    result = pf.audit(flipping, ClosedFormFamily("toy-html"), perturbations=[pf.perturb.lr(0.5)], progress=False)
    page = result._repr_html_()
    assert "<img" not in page and "<html" not in page  # a fragment: no figure, no page
    rows = re.findall(r"<tr><td>(\w+)</td><td>([^<]+)</td><td[^>]*>([\w-]+)</td>", page)
    assert [(c, html.unescape(v), verdict) for c, v, verdict in rows] == [
        (c.check, c.variant, c.verdict) for c in result.checks]
    assert all(html.escape(c.reason) in page for c in result.checks)
