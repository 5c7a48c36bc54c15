"""The table of many audits keeps names whole at any width from 80 up."""

import pytest

from pytest_fragility.report.table import audit_table


def audit(verdict="stable", lost=0):
    checks = [{"check": c, "variant": "lr×2", "verdict": v, "reason": ""}
              for c, v in (("benign", "stable"), ("trend", verdict), ("scaling", "inconclusive"), ("value", "stable"))]
    return {"family": "fcn-mnist5k", "verdict": verdict, "checks": checks,
            "runs": {"total": 48, "non_converged": lost, "measure_errors": 0}}


NAMES = ["log_prod_of_fro_over_margin", "path_norm", "sharpness_mag_flatness"]


@pytest.mark.parametrize("width", [80, 120, 160, 200])
def test_rows_fit_the_width_with_whole_names_and_one_line_header(width):
    rows = [{"test": name, "audit": audit("fragile" if i else "stable", lost=5 * i)} for i, name in enumerate(NAMES)]
    lines = audit_table(rows, color=False, width=width, label="measure").splitlines()
    assert lines[0].split() == ["measure", "verdict", "checks", "runs"]
    assert all(len(line) <= width for line in lines)
    for name in NAMES:
        assert any(line.startswith(name + " ") for line in lines), name
    assert not any(line.strip() == "" for line in lines)


def test_names_too_long_for_a_table_get_a_line_of_their_own():
    long = "tests/measures/test_weightwatcher.py::TestAlpha::test_alpha_of_every_layer_tracks_test_error[fcn-mnist5k]"
    lines = audit_table([{"test": long, "audit": audit("fragile", lost=5)}], color=False, width=80).splitlines()
    assert lines == [long, "    FRAGILE · checks 1 fragile, 1 inconclusive, 1 stable · runs 48, 5 not converged"]
