"""The search's promises on closed-form families with a known break point, seeded: a small
version of `benchmarks/bench_search.py --validate` (full tables in docs/search.md).

Each count is asserted with binomial slack: a search meeting its target (≥ 95% correct,
≤ 5% false discoveries) would fail these bounds in under 2% of seeds of the replicates.
"""

import pytest

from pytest_fragility.searching.validation import validate


@pytest.mark.parametrize("scenario, noise", [("step", 0.2), ("smooth", 0.01)])
def test_the_break_is_found_within_the_stated_precision(scenario, noise, tmp_path):
    rates = validate(scenario, noise, replicates=30, cache=tmp_path)
    assert rates.found == 30
    assert rates.correct >= 26  # P(≤ 25 of 30 | 95%) < 2%
    assert rates.early <= 1  # a break reported where there is none


@pytest.mark.parametrize("scenario, noise", [("null", 0.5), ("beyond-band", 0.2)])
def test_a_measure_that_never_breaks_gives_no_counterexample(scenario, noise, tmp_path):
    rates = validate(scenario, noise, replicates=40, cache=tmp_path)
    assert rates.found <= 5  # P(≥ 6 of 40 | 5%) < 2%
    assert rates.correct == rates.replicates - rates.found
