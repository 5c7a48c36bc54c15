"""Path norm against an explicit enumeration of every input→output path."""

from __future__ import annotations

import itertools
import math

import numpy as np
import pytest
import torch
from torch import nn

from pytest_fragility import measures
from pytest_fragility.errors import MeasureInputError, NegativeMarginError
from pytest_fragility.measures.path import squared_path_norm
from pytest_fragility.runs.run import Run
from tests.measures.models import (
    conv1d_net,
    fcn,
    inputs,
    numpy_fcn_outputs,
    numpy_margin,
    permute_hidden,
    rescale_hidden,
    self_labelled_run,
)


def enumerated_path_norm(model: nn.Sequential) -> float:
    """Σ over paths of Π (parameter)², listing every path one by one.

    A path starts at an input unit, or at the bias of a unit in some layer, and
    visits one unit in every later layer up to an output unit.
    """
    linears = [m for m in model if isinstance(m, nn.Linear)]
    weights = [layer.weight.detach().double().numpy() for layer in linears]
    biases = [None if layer.bias is None else layer.bias.detach().double().numpy()
              for layer in linears]
    widths = [weights[0].shape[1]] + [w.shape[0] for w in weights]
    total = 0.0
    # start == 0: the path starts at an input unit; start == l ≥ 1: at a bias of layer l.
    for start in range(len(weights) + 1):
        if start > 0 and biases[start - 1] is None:
            continue
        for units in itertools.product(*(range(n) for n in widths[start:])):
            value = 1.0 if start == 0 else biases[start - 1][units[0]] ** 2
            for step, (source, target) in enumerate(zip(units, units[1:])):
                value *= weights[start + step][target, source] ** 2
            total += value
    return total


@pytest.mark.parametrize(
    ("widths", "bias"),
    [((3, 4, 3, 1), True), ((3, 4, 3, 1), False), ((3, 4, 2), True), ((2, 3, 4, 2), True)],
    ids=["3-4-3-1", "3-4-3-1-no-bias", "3-4-2", "2-3-4-2"],
)
def test_path_norm_equals_enumerated_paths(widths, bias):
    model = fcn(widths, bias=bias, seed=11)
    run = self_labelled_run(model, inputs((widths[0],), n=10))
    assert measures.path_norm(run) == pytest.approx(enumerated_path_norm(model), rel=1e-12)


def test_bias_paths_are_counted():
    model = fcn((3, 4, 1), seed=0)
    without = fcn((3, 4, 1), seed=0)
    with torch.no_grad():
        without[0].bias.zero_()
        without[2].bias.zero_()
    x = inputs((3,), n=10)
    b1, b2 = model[0].bias.detach().double(), model[2].bias.detach().double()
    w2 = model[2].weight.detach().double()
    bias_paths = float((w2**2 @ b1**2).sum() + b2.pow(2).sum())
    gap = measures.path_norm(self_labelled_run(model, x)) - measures.path_norm(
        self_labelled_run(without, x))
    assert gap == pytest.approx(bias_paths, rel=1e-10)


def test_conv_path_norm_equals_the_unrolled_dense_network():
    # Each entry of a convolution's dense matrix is one kernel weight (or 0), so the
    # squared dense matrices are those of the squared kernels, and the path norm is
    # 1ᵀ over the dense squared layers applied to ones, biases broadcast per position.
    model = conv1d_net(2, 7, (3, 2), stride=2, padding=1, outputs=2, seed=4).double()
    shape = (2, 7)
    h, v = torch.zeros(1, *shape, dtype=torch.float64), np.ones(math.prod(shape))
    with torch.no_grad():
        for module in model:
            if not isinstance(module, (nn.Conv1d, nn.Linear)):
                h = module(h)
                continue
            n = h[0].numel()
            units = torch.eye(n, dtype=torch.float64).reshape(n, *h.shape[1:])
            zero = module(torch.zeros_like(h))
            dense = (module(units) - zero).reshape(n, -1).numpy().T
            bias = zero.reshape(-1).numpy()  # the bias at every output position
            v = dense**2 @ v + bias**2
            h = zero
    run = self_labelled_run(model, inputs(shape, n=6).double())
    assert measures.path_norm(run) == pytest.approx(float(v.sum()), rel=1e-12)


def test_path_norm_does_not_touch_the_model():
    model = fcn((3, 4, 1), seed=1)
    before = [p.clone() for p in model.parameters()]
    measures.path_norm(self_labelled_run(model, inputs((3,), n=5)))
    assert all(torch.equal(a, b) for a, b in zip(before, model.parameters()))
    assert all(p.dtype == torch.float32 for p in model.parameters())


def test_path_norm_over_margin_divides_by_the_squared_margin():
    model = fcn((4, 5, 3), seed=2)
    x = inputs((4,), n=50, seed=5)
    run = self_labelled_run(model, x)
    gamma = numpy_margin(numpy_fcn_outputs(model, x), run.y_train)
    expected = enumerated_path_norm(model) / gamma**2
    assert measures.path_norm_over_margin(run) == pytest.approx(expected, rel=1e-5)


# -- invariances ---------------------------------------------------------------------


@pytest.mark.parametrize("alpha", [0.25, 3.0])
def test_path_norm_is_unchanged_by_relu_layer_rescaling(alpha):
    model = fcn((3, 4, 3, 1), seed=6)
    x = inputs((3,), n=20)
    rescaled = rescale_hidden(model, 1, alpha)
    assert torch.allclose(model(x), rescaled(x), atol=1e-5)
    assert not torch.allclose(model[2].weight, rescaled[2].weight)
    before = measures.path_norm(self_labelled_run(model, x))
    assert measures.path_norm(self_labelled_run(rescaled, x)) == pytest.approx(before, rel=1e-5)


def test_path_norm_is_unchanged_by_permuting_hidden_units():
    model = fcn((3, 4, 3, 2), seed=6)
    x = inputs((3,), n=20)
    permuted = permute_hidden(model, 0, [3, 1, 0, 2])
    before = measures.path_norm(self_labelled_run(model, x))
    assert measures.path_norm(self_labelled_run(permuted, x)) == pytest.approx(before, rel=1e-12)


# -- bad input -----------------------------------------------------------------------


def test_empty_training_data_is_refused():
    run = Run(model=fcn((3, 4, 1)), x_train=torch.empty(0, 3), y_train=torch.empty(0))
    for name in ("path_norm", "path_norm_over_margin"):
        with pytest.raises(MeasureInputError, match="x_train is empty"):
            measures.get(name)(run)


def test_model_and_data_on_different_devices_are_refused():
    run = Run(model=fcn((3, 4, 1)).to("meta"), x_train=inputs((3,), n=5),
              y_train=torch.zeros(5))
    for name in ("path_norm", "path_norm_over_margin"):
        with pytest.raises(MeasureInputError, match="model is on meta but x_train is on cpu"):
            measures.get(name)(run)


def test_normalization_layers_are_refused():
    model = nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4), nn.ReLU(), nn.Linear(4, 1))
    with pytest.raises(MeasureInputError, match="BatchNorm1d.*fold it"):
        squared_path_norm(model, (3,))


def test_a_net_that_misclassifies_has_no_path_norm_over_margin():
    model = fcn((3, 4, 1), seed=0)
    x = inputs((3,), n=30)
    run = self_labelled_run(model, x)
    flipped = Run(model=model, x_train=x, y_train=1 - run.y_train)
    assert measures.path_norm(flipped) == measures.path_norm(run)
    with pytest.raises(NegativeMarginError):
        measures.path_norm_over_margin(flipped)
