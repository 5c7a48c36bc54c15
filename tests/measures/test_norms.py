"""Every norm-family measure against its formula, recomputed in numpy.

The formulas are restated here from the measure table (Jiang et al. 2020, Appendix C;
/work/shared/reference/measures.md §A2.2), not taken from the library.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from pytest_fragility import measures
from pytest_fragility.errors import MeasureInputError
from pytest_fragility.runs.run import Run
from tests.measures.models import (
    conv2d_net,
    fcn,
    inputs,
    numpy_fcn_outputs,
    numpy_kernels,
    numpy_margin,
    permute_hidden,
    rescale_hidden,
    self_labelled_run,
)

OWN_MEASURES = (
    "params", "inverse_margin", "log_prod_of_spec", "log_prod_of_spec_over_margin",
    "log_sum_of_spec", "log_sum_of_spec_over_margin", "log_spec_init_main",
    "log_spec_orig_main", "fro_over_spec", "log_prod_of_fro", "log_prod_of_fro_over_margin",
    "log_sum_of_fro", "log_sum_of_fro_over_margin", "fro_dist", "dist_spec_init",
    "param_norm", "l2", "l2_dist", "path_norm", "path_norm_over_margin",
)
INIT_MEASURES = ("log_spec_init_main", "fro_dist", "dist_spec_init", "l2_dist")
WEIGHT_MEASURES = tuple(n for n in OWN_MEASURES if n != "inverse_margin")


def numpy_formulas(model, init, x, y) -> dict[str, float]:
    """The raw value of every measure, from the table's formulas in plain numpy."""
    W, W0 = numpy_kernels(model), numpy_kernels(init)
    d = len(W)
    fro = np.array([np.sum(w**2) for w in W])
    spec = np.array([np.linalg.svd(w, compute_uv=False)[0] ** 2 for w in W])
    dist_fro = np.array([np.sum((w - w0) ** 2) for w, w0 in zip(W, W0)])
    dist_spec = np.array([np.linalg.svd(w - w0, compute_uv=False)[0] ** 2
                          for w, w0 in zip(W, W0)])
    gamma = numpy_margin(numpy_fcn_outputs(model, x), y)
    log_gamma_sq = 2 * math.log(gamma)

    v = np.ones(x.shape[1])  # path norm: squared parameters applied to an all-ones input
    for layer in [m for m in model if isinstance(m, torch.nn.Linear)]:
        v = layer.weight.detach().double().numpy() ** 2 @ v
        if layer.bias is not None:
            v = v + layer.bias.detach().double().numpy() ** 2
    path = float(v.sum())

    log_prod_spec = np.sum(np.log(spec))
    log_prod_fro = np.sum(np.log(fro))
    return {
        "params": float(sum(w.size for w in W)),
        "inverse_margin": 1 / gamma**2,
        "log_prod_of_spec": log_prod_spec,
        "log_prod_of_spec_over_margin": log_prod_spec - log_gamma_sq,
        "log_sum_of_spec": math.log(d) + log_prod_spec / d,
        "log_sum_of_spec_over_margin": math.log(d) + (log_prod_spec - log_gamma_sq) / d,
        "log_spec_init_main": log_prod_spec - log_gamma_sq + math.log(np.sum(dist_fro / spec)),
        "log_spec_orig_main": log_prod_spec - log_gamma_sq + math.log(np.sum(fro / spec)),
        "fro_over_spec": np.sum(fro / spec),
        "log_prod_of_fro": log_prod_fro,
        "log_prod_of_fro_over_margin": log_prod_fro - log_gamma_sq,
        "log_sum_of_fro": math.log(d) + log_prod_fro / d,
        "log_sum_of_fro_over_margin": math.log(d) + (log_prod_fro - log_gamma_sq) / d,
        "fro_dist": np.sum(dist_fro),
        "dist_spec_init": np.sum(dist_spec),
        "param_norm": np.sum(fro),
        "l2": math.sqrt(np.sum(fro)),
        "l2_dist": math.sqrt(np.sum(dist_fro)),
        "path_norm": path,
        "path_norm_over_margin": path / gamma**2,
    }


@pytest.fixture(scope="module", params=[(5, 4, 3, 1), (4, 6, 3)], ids=["binary", "3-class"])
def fcn_run(request) -> Run:
    widths = request.param
    x = inputs((widths[0],), n=57, seed=1)
    return self_labelled_run(fcn(widths, seed=0), x, init_model=fcn(widths, seed=7))


@pytest.fixture(scope="module")
def expected(fcn_run) -> dict[str, float]:
    return numpy_formulas(fcn_run.model, fcn_run.init_model, fcn_run.x_train, fcn_run.y_train)


@pytest.mark.parametrize("name", OWN_MEASURES)
def test_measure_matches_numpy_formula(name, fcn_run, expected):
    # Margins come from a float32 forward pass, so allow float32 rounding.
    assert measures.get(name)(fcn_run) == pytest.approx(expected[name], rel=1e-5, abs=1e-6)


def test_conv_kernels_are_reshaped_to_out_by_rest():
    model, init = conv2d_net(seed=0), conv2d_net(seed=4)
    run = Run(model=model, x_train=inputs((2, 5, 6), n=4), y_train=torch.zeros(4),
              init_model=init)
    W, W0 = numpy_kernels(model), numpy_kernels(init)
    assert [w.shape for w in W] == [(3, 18), (2, 27), (1, 60)]
    assert measures.params(run) == 3 * 18 + 2 * 27 + 60
    assert measures.log_prod_of_fro(run) == pytest.approx(sum(np.log(np.sum(w**2)) for w in W))
    assert measures.fro_dist(run) == pytest.approx(sum(np.sum((w - w0) ** 2)
                                                       for w, w0 in zip(W, W0)))


def test_biases_are_not_weights():
    with_bias, without = fcn((5, 4, 1), bias=True), fcn((5, 4, 1), bias=False)
    x = inputs((5,), n=10)
    runs = [self_labelled_run(net, x) for net in (with_bias, without)]
    assert measures.params(runs[0]) == measures.params(runs[1]) == 5 * 4 + 4


# -- invariances ---------------------------------------------------------------------


def test_layer_rescaling_moves_param_norm_but_not_the_norm_products():
    """W1, b1 → αW1, αb1 and W2 → W2/α preserve a ReLU net's function.

    Σ‖W_i‖_F² is not invariant; a product of per-layer norms is (the α² and 1/α²
    cancel), so log_prod_of_fro and log_prod_of_spec are not moved.
    """
    model = fcn((5, 4, 3, 1), seed=2)
    x = inputs((5,), n=30)
    rescaled = rescale_hidden(model, 0, 4.0)
    assert torch.allclose(model(x), rescaled(x), atol=1e-5)
    before, after = self_labelled_run(model, x), self_labelled_run(rescaled, x)

    W = numpy_kernels(model)
    expected_param_norm = 16 * np.sum(W[0] ** 2) + np.sum(W[1] ** 2) / 16 + np.sum(W[2] ** 2)
    assert measures.param_norm(after) == pytest.approx(expected_param_norm, rel=1e-5)
    assert measures.param_norm(after) > 2 * measures.param_norm(before)
    assert measures.l2(after) == pytest.approx(math.sqrt(expected_param_norm), rel=1e-5)
    for name in ("log_prod_of_fro", "log_prod_of_spec", "log_sum_of_fro", "log_sum_of_spec"):
        assert measures.get(name)(after) == pytest.approx(measures.get(name)(before), abs=1e-5)


def test_hidden_unit_permutation_changes_no_measure():
    x = inputs((5,), n=41, seed=3)
    model, init = fcn((5, 4, 3, 1), seed=0), fcn((5, 4, 3, 1), seed=5)
    permuted = permute_hidden(permute_hidden(model, 0, [2, 0, 3, 1]), 1, [1, 2, 0])
    permuted_init = permute_hidden(permute_hidden(init, 0, [2, 0, 3, 1]), 1, [1, 2, 0])
    assert not torch.equal(permuted[0].weight, model[0].weight)
    run = Run(model=model, x_train=x, y_train=(model(x)[:, 0] > 0).long(), init_model=init)
    moved = Run(model=permuted, x_train=x, y_train=run.y_train, init_model=permuted_init)
    for name in OWN_MEASURES:
        spec = measures.get(name)
        assert spec(moved) == pytest.approx(spec(run), rel=1e-5), name


# -- bad input -----------------------------------------------------------------------


@pytest.mark.parametrize("name", WEIGHT_MEASURES)
def test_nan_weights_are_refused(name):
    model = fcn((3, 4, 1))
    x = inputs((3,), n=20)
    run = self_labelled_run(model, x, init_model=fcn((3, 4, 1), seed=1))
    with torch.no_grad():
        model[2].weight[0, 1] = float("nan")
    with pytest.raises(MeasureInputError, match="NaN"):
        measures.get(name)(run)


@pytest.mark.parametrize("name", INIT_MEASURES)
def test_init_measures_say_to_pass_init_model(name):
    run = self_labelled_run(fcn((3, 4, 1)), inputs((3,), n=20))
    with pytest.raises(MeasureInputError, match="init_model="):
        measures.get(name)(run)


def test_init_model_of_another_shape_is_refused():
    x = inputs((3,), n=20)
    run = self_labelled_run(fcn((3, 4, 1)), x, init_model=fcn((3, 5, 1)))
    with pytest.raises(MeasureInputError, match="do not match"):
        measures.fro_dist(run)


def test_a_zero_layer_is_named_instead_of_giving_minus_infinity():
    model = fcn((3, 4, 1))
    with torch.no_grad():
        model[2].weight.zero_()
    run = Run(model=model, x_train=inputs((3,), n=4), y_train=torch.zeros(4))
    with pytest.raises(MeasureInputError, match="weight layer 1"):
        measures.log_prod_of_fro(run)


def test_model_equal_to_its_init_is_refused_by_log_spec_init_main():
    x = inputs((3,), n=30)
    model = fcn((3, 4, 1), seed=0)
    run = self_labelled_run(model, x, init_model=fcn((3, 4, 1), seed=0))
    assert measures.fro_dist(run) == 0.0
    with pytest.raises(MeasureInputError, match="equals its init"):
        measures.log_spec_init_main(run)
