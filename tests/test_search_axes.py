"""Search axes: base points, rays, strengths, distances, validation; the momentum perturbation."""

import math

import pytest

import pytest_fragility as pf
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.searching import axes
from pytest_fragility.spec.variants import Variant

RECIPE = Recipe(lr=0.1, batch_size=128, width=128)


def test_lr_axis_has_two_rays_of_ln_8_and_rounds_strengths_to_three_digits():
    axis = axes.lr().at(RECIPE)
    up, down = axis.rays()
    assert (up.direction, down.direction) == (1, -1)
    assert up.extent == pytest.approx(math.log(8)) and down.extent == pytest.approx(math.log(8))
    assert up.strength(math.log(8) / 2) == 2.83 and down.strength(math.log(8) / 2) == 0.354
    assert up.variant(up.extent).name == "lr×8"
    assert up.distance(up.extent / 4) == pytest.approx(0.25)
    assert up.probes() == pytest.approx([math.log(8) / 4, math.log(8) / 2, math.log(8)])


def test_momentum_axis_measures_distance_on_the_effective_step_and_reads_its_base_from_the_recipe():
    axis = axes.momentum().at(RECIPE)
    assert axis.base == 0.0
    (ray,) = axis.rays()  # only upward from plain SGD
    assert ray.extent == pytest.approx(math.log(100))
    assert ray.strength(math.log(10)) == pytest.approx(0.9)  # 1/(1 - 0.9) = 10
    assert ray.strength(ray.extent) == pytest.approx(0.99)
    assert ray.strength(4.0) == pytest.approx(1 - 0.0183)  # three digits of 1 - μ, where they matter


def test_a_grid_axis_steps_from_the_recipe_s_value_and_inserts_it_when_missing():
    up, down = axes.batch_size().at(RECIPE).rays()
    assert [up.strength(t) for t in (1, 2, 3)] == [256, 512, 1024]
    assert [down.strength(t) for t in (1, 2, 3)] == [64, 32, 16]
    assert up.probes() == [1.0, 2.0, 3.0] and up.midpoint(0.0, 2.0) == 1.0 and up.midpoint(1.0, 2.0) is None
    odd = axes.batch_size().at(Recipe(batch_size=100))
    assert 100 in odd.grid and odd.grid == tuple(sorted(odd.grid))


def test_the_optimizer_axis_tries_every_other_optimizer_at_distance_one():
    (ray,) = axes.optimizer().at(RECIPE).rays()
    names = [ray.variant(t).name for t in ray.probes()]
    assert names == ["optimizer=sgd-momentum", "optimizer=nesterov", "optimizer=adam", "optimizer=adamw",
                     "optimizer=rmsprop"]
    assert {ray.distance(t) for t in ray.probes()} == {1.0}


def test_midpoint_is_none_when_strengths_round_to_the_same_number():
    (ray, _) = axes.lr().at(RECIPE).rays()
    assert ray.midpoint(0.0, 0.001) is None
    assert ray.midpoint(0.0, 1.0) == 0.5
    assert ray.closed(1.0, 1.0 + math.log(1.1)) and not ray.closed(1.0, 1.2)


def test_momentum_perturbation_keeps_the_effective_step():
    variant = pf.perturb.momentum(0.75)
    recipe = variant.apply(RECIPE)
    assert variant.name == "momentum=0.75"
    assert recipe.optimizer == "sgd-momentum" and recipe.momentum == 0.75
    assert recipe.lr / (1 - recipe.momentum) == pytest.approx(RECIPE.lr)
    with pytest.raises(ConfigurationError, match="momentum must be a number in"):
        pf.perturb.momentum(1.0)


def test_variants_round_trip_through_their_plain_dict():
    for variant in (pf.perturb.momentum(0.5), pf.perturb.optimizer("adam", lr=3e-4), pf.perturb.lr(2.83),
                    pf.perturb.batch_size(32)):
        assert Variant.from_dict(variant.to_dict()) == variant


def test_names_resolve_and_errors_name_the_valid_axes():
    chosen = axes.resolve(["lr", "batch", axes.width()])
    assert [a.name for a in chosen] == ["lr", "batch", "width"]
    with pytest.raises(ConfigurationError, match="unknown search axis 'learning-rate'.*lr, momentum"):
        axes.resolve(["learning-rate"])
    with pytest.raises(ConfigurationError, match=r"duplicate axes \['lr'\]"):
        axes.resolve(["lr", axes.lr(0.5, 2)])
    with pytest.raises(ConfigurationError, match="at least one axis"):
        axes.resolve([])


@pytest.mark.parametrize("arguments, message", [
    ({"low": 0.5, "high": 2, "grid": (1, 2)}, "either low/high"),
    ({"low": 0.5, "high": 2, "scale": "cubic"}, "unknown axis 'x' scale"),
    ({"low": 0.5, "high": 2, "precision": 0}, "precision must be > 0"),
    ({"low": 0.5, "high": 2, "base": None}, "base strength or the recipe field"),
])
def test_a_user_axis_is_validated_when_declared(arguments, message):
    arguments = {"base": 1.0, **arguments}
    with pytest.raises(ConfigurationError, match=message):
        axes.Axis("x", pf.perturb.lr, **arguments)


def test_a_base_outside_the_range_is_an_error_naming_the_axis():
    axis = axes.Axis("init", pf.perturb.init_scale, 0.5, 2.0, field="init_scale")
    with pytest.raises(ConfigurationError, match="axis 'init': the base strength 4.0 lies outside"):
        axis.at(Recipe(init_scale=4.0))


def test_registered_axes_are_available_by_name(monkeypatch):
    monkeypatch.setattr(axes, "_registered", {})
    axis = axes.Axis("init-wide", pf.perturb.init_scale, 0.1, 10.0, field="init_scale")
    axes.register(axis, replace=True)
    assert "init-wide" in axes.available() and axes.get("init-wide") is axis
    with pytest.raises(ConfigurationError, match="exists"):
        axes.register(axes.lr())


@pytest.mark.parametrize("variant", [pf.perturb.momentum(0.684), pf.perturb.lr(2.83), pf.perturb.lr(0.354),
                                     pf.perturb.optimizer("adam", lr=0.00283), pf.perturb.batch_size(16)])
def test_the_names_a_search_tries_parse_back_on_the_command_line(variant):
    from pytest_fragility.cli import parse_variant

    assert parse_variant(variant.name) == variant
