"""The ray search on states given as a function of the position: bracket, bisect, stop."""

import math

import pytest

from pytest_fragility.families.recipe import Recipe
from pytest_fragility.searching import axes
from pytest_fragility.searching.bisect import ALL, BAND, BUDGET, END, PRECISION, search_ray
from pytest_fragility.searching.points import BEYOND_BAND, COUNTEREXAMPLE, HOLDS, UNRESOLVED, Point

RAY = axes.lr().at(Recipe()).rays()[0]  # lr up: positions 0..ln 8


def run(states, ray=RAY, budget=None):
    """Search `ray` where `states(strength)` is the state at each strength; returns the outcome
    and the strengths tried, in order."""
    tried = []

    def evaluate(t):
        strength = ray.strength(t)
        tried.append(strength)
        return Point("lr", strength, ray.distance(t), ray.variant(t), states(strength), {}, [], 30, 0)

    outcome = search_ray(ray, evaluate, lambda: budget is None or len(tried) < budget)
    return outcome, tried


@pytest.mark.parametrize("flip", [1.2, 2.0, 3.0, 5.5, 7.9])
def test_finds_a_step_break_within_the_precision(flip):
    outcome, tried = run(lambda s: COUNTEREXAMPLE if s >= flip else HOLDS)
    found = outcome.counterexample.strength
    assert outcome.stop == PRECISION and found >= flip
    assert math.log(found) - math.log(outcome.holds.strength if outcome.holds else 1.0) <= math.log(1.1) + 1e-9
    assert found <= flip * 1.1 and len(tried) <= 8


def test_finds_a_break_between_the_last_point_that_held_and_the_end_of_the_benign_band():
    # the scan sees 2.83 hold and 8 leave the band; the break window [3, 6) lies between them
    outcome, _ = run(lambda s: HOLDS if s < 3 else COUNTEREXAMPLE if s < 6 else BEYOND_BAND)
    assert outcome.counterexample is not None and 3 <= outcome.counterexample.strength <= 3.3


def test_a_band_that_ends_before_the_break_is_no_counterexample():
    outcome, _ = run(lambda s: HOLDS if s < 2 else BEYOND_BAND)
    assert outcome.counterexample is None and outcome.stop == BAND
    assert outcome.limit.state == BEYOND_BAND and outcome.limit.strength >= 2
    assert math.log(outcome.limit.strength / outcome.holds.strength) <= math.log(1.1) + 1e-9


def test_unresolved_points_are_passed_over_in_the_scan():
    outcome, tried = run(lambda s: UNRESOLVED if s < 2.5 else COUNTEREXAMPLE if s > 5 else HOLDS)
    assert outcome.counterexample is not None and 5 < outcome.counterexample.strength <= 5.5
    assert tried[:2] == [1.68, 2.83]


def test_a_ray_where_nothing_breaks_is_searched_to_its_end():
    outcome, tried = run(lambda s: HOLDS)
    assert outcome.counterexample is None and outcome.stop == END and tried == [1.68, 2.83, 8.0]


def test_the_network_budget_stops_the_search_with_the_counterexample_it_has():
    outcome, tried = run(lambda s: COUNTEREXAMPLE if s >= 2 else HOLDS, budget=4)
    assert len(tried) == 4 and outcome.stop == BUDGET
    assert outcome.counterexample is not None and outcome.counterexample.strength >= 2
    outcome, tried = run(lambda s: HOLDS, budget=0)
    assert tried == [] and outcome.stop == BUDGET and outcome.counterexample is None


def test_a_categorical_axis_tries_every_option_and_keeps_the_first_that_breaks():
    (ray,) = axes.optimizer().at(Recipe()).rays()
    outcome, tried = run(lambda s: COUNTEREXAMPLE if s in ("adam", "rmsprop") else HOLDS, ray=ray)
    assert tried == ["sgd-momentum", "nesterov", "adam", "adamw", "rmsprop"]
    assert outcome.stop == ALL and outcome.counterexample.strength == "adam"


def test_a_grid_axis_bisects_on_steps():
    (up,) = axes.batch_size().at(Recipe(batch_size=16)).rays()  # 32 .. 1024: 6 steps, nothing below
    outcome, tried = run(lambda s: COUNTEREXAMPLE if s >= 256 else HOLDS, ray=up)
    assert outcome.counterexample.strength == 256 and outcome.holds.strength == 128
    assert len(tried) == len(set(tried)) <= 5
