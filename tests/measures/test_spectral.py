"""Spectral norms of Linear and conv layers against dense linear algebra in numpy."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from pytest_fragility import measures
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.measures.spectral import spectral_norm
from tests.measures.models import conv1d_net, conv2d_net, inputs, self_labelled_run


def dense_operator(layer: nn.Module, input_shape: tuple[int, ...]) -> np.ndarray:
    """The matrix of x ↦ layer(x) − layer(0), one column per unit input."""
    n = math.prod(input_shape)
    units = torch.eye(n, dtype=torch.float64).reshape(n, *input_shape)
    layer = layer.double()
    with torch.no_grad():
        columns = layer(units) - layer(torch.zeros(1, *input_shape, dtype=torch.float64))
    return columns.reshape(n, -1).T.numpy()


def top_singular_value(matrix: np.ndarray) -> float:
    return float(np.linalg.svd(matrix, compute_uv=False)[0])


def seeded(layer: nn.Module, seed: int) -> nn.Module:
    generator = torch.Generator().manual_seed(seed)
    with torch.no_grad():
        for param in layer.parameters():
            param.copy_(torch.randn(param.shape, generator=generator))
    return layer


def test_linear_layer_is_its_top_singular_value():
    layer = seeded(nn.Linear(7, 4), 0)
    expected = top_singular_value(layer.weight.detach().double().numpy())
    assert spectral_norm(layer) == pytest.approx(expected, rel=1e-12)
    assert spectral_norm(layer, "operator") == pytest.approx(expected, rel=1e-12)


CONV_CASES = [
    pytest.param(nn.Conv1d(2, 3, 3), (2, 9), id="conv1d"),
    pytest.param(nn.Conv1d(2, 3, 3, stride=2, padding=1), (2, 9), id="conv1d-stride2-pad1"),
    pytest.param(nn.Conv1d(4, 2, 3, padding=2, dilation=2, groups=2), (4, 8),
                 id="conv1d-dilated-grouped"),
    pytest.param(nn.Conv2d(2, 3, 3, padding=1), (2, 5, 6), id="conv2d-pad1"),
    pytest.param(nn.Conv2d(2, 3, 3, stride=2, padding=1), (2, 5, 6), id="conv2d-stride2-pad1"),
    pytest.param(nn.Conv2d(2, 2, 3, padding=1, padding_mode="circular"), (2, 4, 5),
                 id="conv2d-circular"),
    pytest.param(nn.Conv2d(4, 4, 3, padding=1), (4, 8, 8), id="conv2d-clustered-top"),
]


@pytest.mark.parametrize(("layer", "input_shape"), CONV_CASES)
def test_conv_operator_norm_equals_svd_of_the_dense_operator(layer, input_shape):
    layer = seeded(layer, 1)
    expected = top_singular_value(dense_operator(layer, input_shape))
    assert spectral_norm(layer, "operator", input_shape) == pytest.approx(expected, rel=1e-8)


@pytest.mark.parametrize(("layer", "input_shape"), CONV_CASES)
def test_conv_reshape_norm_is_svd_of_the_reshaped_kernel(layer, input_shape):
    layer = seeded(layer, 2)
    kernel = layer.weight.detach().double().numpy()
    expected = top_singular_value(kernel.reshape(kernel.shape[0], -1))
    assert spectral_norm(layer) == pytest.approx(expected, rel=1e-12)
    assert spectral_norm(layer, "reshape", input_shape) == pytest.approx(expected, rel=1e-12)


def test_reshape_and_operator_norms_differ_for_a_sliding_kernel():
    # A 1→1 channel kernel [1, 1, 1] with padding 1 on length 3 is the tridiagonal
    # all-ones matrix: eigenvalues 1 + 2cos(kπ/4), top 1 + √2. The reshaped kernel is
    # the row (1, 1, 1), of norm √3.
    layer = nn.Conv1d(1, 1, 3, padding=1, bias=False)
    with torch.no_grad():
        layer.weight.fill_(1.0)
    assert spectral_norm(layer, "operator", (1, 3)) == pytest.approx(1 + math.sqrt(2), rel=1e-10)
    assert spectral_norm(layer, "reshape") == pytest.approx(math.sqrt(3), rel=1e-12)


def test_operator_option_reads_each_conv_input_size_from_a_training_example():
    # Stride 2 shrinks 5×6 to 3×3 before the second conv; the measure must find that.
    model = conv2d_net(2, (5, 6), (3, 2), stride=2, seed=3).double()
    run = self_labelled_run(model, inputs((2, 5, 6), n=20).double())
    convs = [model[0], model[2]]
    shapes = [(2, 5, 6), (3, 3, 3)]
    sigma = [top_singular_value(dense_operator(c, s)) for c, s in zip(convs, shapes)]
    sigma.append(top_singular_value(model[5].weight.detach().numpy()))
    expected = sum(2 * math.log(s) for s in sigma)
    assert measures.log_prod_of_spec(run, spectral="operator") == pytest.approx(expected, rel=1e-8)
    assert measures.log_prod_of_spec(run) != pytest.approx(expected, rel=1e-3)


def test_dist_spec_init_operator_uses_the_layer_geometry_on_the_difference():
    model = conv1d_net(2, 7, (3,), stride=2, seed=0).double()
    init = conv1d_net(2, 7, (3,), stride=2, seed=9).double()
    run = self_labelled_run(model, inputs((2, 7), n=10).double(), init_model=init)
    difference = seeded(nn.Conv1d(2, 3, 3, stride=2, padding=1, bias=False), 0).double()
    with torch.no_grad():
        difference.weight.copy_(model[0].weight - init[0].weight)
    head = (model[3].weight - init[3].weight).detach().numpy()
    expected = (top_singular_value(dense_operator(difference, (2, 7))) ** 2
                + top_singular_value(head) ** 2)
    assert measures.dist_spec_init(run, spectral="operator") == pytest.approx(expected, rel=1e-8)


def test_operator_conv_norm_needs_an_input_shape():
    with pytest.raises(ConfigurationError, match="input_shape"):
        spectral_norm(nn.Conv2d(2, 3, 3), "operator")
    with pytest.raises(ConfigurationError, match="in_channels=2"):
        spectral_norm(nn.Conv2d(2, 3, 3), "operator", (3, 5, 5))


def test_unknown_estimator_and_non_layer_are_refused():
    with pytest.raises(ConfigurationError, match="reshape"):
        spectral_norm(nn.Linear(2, 2), "fft")
    with pytest.raises(ConfigurationError, match="Linear or Conv"):
        spectral_norm(nn.ReLU())
    run = self_labelled_run(conv1d_net(), inputs((2, 7), n=10))
    with pytest.raises(ConfigurationError, match="spectral estimator"):
        measures.fro_over_spec(run, spectral="fft")
