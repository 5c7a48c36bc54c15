"""The norm, spectral, path and margin measures are registered with honest metadata."""

from __future__ import annotations

import math

import pytest

from pytest_fragility import measures
from pytest_fragility.spec import names
from tests.measures.models import fcn, inputs, self_labelled_run

OWN = {
    # name: (Jiang et al. 2020 equation, needs)
    "params": ("(20)", set()),
    "inverse_margin": ("(22)", {"train_data"}),
    "log_spec_init_main": ("(29)", {"init", "train_data"}),
    "log_spec_orig_main": ("(30)", {"train_data"}),
    "log_prod_of_spec_over_margin": ("(31)", {"train_data"}),
    "log_prod_of_spec": ("(32)", set()),
    "fro_over_spec": ("(33)", set()),
    "log_sum_of_spec_over_margin": ("(34)", {"train_data"}),
    "log_sum_of_spec": ("(35)", set()),
    "log_prod_of_fro_over_margin": ("(36)", {"train_data"}),
    "log_prod_of_fro": ("(37)", set()),
    "log_sum_of_fro_over_margin": ("(38)", {"train_data"}),
    "log_sum_of_fro": ("(39)", set()),
    "fro_dist": ("(40)", {"init"}),
    "dist_spec_init": ("(41)", {"init"}),
    "param_norm": ("(42)", set()),
    "path_norm_over_margin": ("(43)", {"train_data"}),
    "path_norm": ("(44)", {"train_data"}),
    "l2": ("L2", set()),
    "l2_dist": ("L2_DIST", {"init"}),
}


def test_every_owned_name_is_a_builtin_name():
    assert set(OWN) <= set(names.BUILTIN_MEASURES)
    assert set(OWN) <= set(measures.available())


@pytest.mark.parametrize("name", sorted(OWN))
def test_metadata(name):
    spec = measures.get(name)
    equation, needs = OWN[name]
    assert spec.name == name
    assert spec.description
    assert equation in spec.reference
    assert spec.needs == needs
    assert spec.scale == ("log" if name.startswith("log_") else "positive")
    assert spec.bound_rule == ("half-log" if name.startswith("log_") else "sqrt")
    assert spec.cost == ("forward" if "train_data" in needs else "free")
    assert spec.random is False and spec.post_mortem is True


def test_registered_callables_are_the_module_attributes():
    assert measures.path_norm is measures.get("path_norm")
    assert measures.norms.param_norm is measures.get("param_norm")


@pytest.fixture(scope="module")
def run():
    return self_labelled_run(fcn((4, 5, 1), seed=0), inputs((4,), n=37))


def test_bound_form_of_a_linear_measure_is_sqrt_of_raw_over_m(run):
    raw = measures.param_norm(run)
    assert measures.param_norm(run, form="bound") == pytest.approx(math.sqrt(raw / 37))


def test_bound_form_of_a_log_measure_is_half_of_raw_minus_log_m(run):
    raw = measures.log_prod_of_fro(run)
    assert measures.log_prod_of_fro(run, form="bound") == pytest.approx(0.5 * (raw - math.log(37)))
