"""The ReLU NNGP kernel against quadrature, Monte Carlo over wide random nets, and edge cases."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy import integrate, stats

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures.nngp import nngp_relu_kernel


def _inputs(seed: int = 0) -> torch.Tensor:
    """Six inputs with a strongly anti-correlated and a nearly duplicated pair."""
    gen = torch.Generator().manual_seed(seed)
    X = torch.randn(6, 12, generator=gen, dtype=torch.float64)
    X[1] = -0.5 * X[0] + 0.1 * X[1]
    X[2] = X[3] + 0.05 * X[2]
    return X


def _relu_product_mean(a: float, b: float, c: float) -> float:
    """E[relu(u) relu(v)] for (u, v) ~ N(0, [[a, c], [c, b]]) by 1-D quadrature.

    Independent of the arc-cosine closed form: integrates over u the rectified mean of
    the conditional v | u ~ N(c u / a, b − c²/a), E[relu(v)] = μ Φ(μ/s) + s φ(μ/s).
    """
    s = math.sqrt(max(b - c * c / a, 0.0))

    def integrand(z: float) -> float:
        u = math.sqrt(a) * z
        mu = c / a * u
        rect = mu * stats.norm.cdf(mu / s) + s * stats.norm.pdf(mu / s) if s > 0 else max(mu, 0.0)
        return u * rect * stats.norm.pdf(z)

    value, _ = integrate.quad(integrand, 0.0, np.inf, epsabs=1e-13, epsrel=1e-11)
    return value


def _kernel_by_quadrature(x: np.ndarray, x2: np.ndarray, depth: int, sigma_w: float, sigma_b: float) -> float:
    a = sigma_b**2 + sigma_w**2 * x @ x / len(x)
    b = sigma_b**2 + sigma_w**2 * x2 @ x2 / len(x)
    c = sigma_b**2 + sigma_w**2 * x @ x2 / len(x)
    for _ in range(depth):
        a, b, c = (
            sigma_b**2 + sigma_w**2 * a / 2,  # E[relu(u)²] = a/2
            sigma_b**2 + sigma_w**2 * b / 2,
            sigma_b**2 + sigma_w**2 * _relu_product_mean(a, b, c),
        )
    return c


@pytest.mark.parametrize(("depth", "sigma_w", "sigma_b"), [(0, 2**0.5, 0.1), (1, 2**0.5, 0.1), (3, 1.3, 0.6)])
def test_kernel_matches_layerwise_quadrature(depth: int, sigma_w: float, sigma_b: float) -> None:
    X = _inputs()
    K = nngp_relu_kernel(X, depth=depth, sigma_w=sigma_w, sigma_b=sigma_b)
    x = X.numpy()
    for i, j in [(0, 1), (2, 3), (0, 4), (5, 5)]:
        expected = _kernel_by_quadrature(x[i], x[j], depth, sigma_w, sigma_b)
        assert K[i, j].item() == pytest.approx(expected, rel=1e-7, abs=1e-10)
    assert torch.allclose(K, K.T, rtol=1e-14, atol=0)


def _monte_carlo_kernel(X: torch.Tensor, depth: int, sigma_w: float, sigma_b: float,
                        width: int, nets: int) -> tuple[torch.Tensor, torch.Tensor]:
    """Output covariance over `nets` random ReLU nets and its standard error.

    Each net is initialized as the families do: weights N(0, σ_w²/fan_in), biases
    N(0, σ_b²). The output layer is averaged exactly given the last hidden features
    (E[f f′ | h] = σ_w²/width · h·h′ + σ_b²), which removes the output-sampling noise.
    """
    m, d = X.shape
    gen = torch.Generator().manual_seed(1234)
    h, fan_in = X.float().expand(nets, m, d), d
    for _ in range(depth):
        W = torch.randn(nets, fan_in, width, generator=gen) * (sigma_w / math.sqrt(fan_in))
        b = torch.randn(nets, 1, width, generator=gen) * sigma_b
        h, fan_in = torch.relu(torch.baddbmm(b, h, W)), width
    h = h.double()
    per_net = sigma_w**2 / fan_in * (h @ h.mT) + sigma_b**2
    return per_net.mean(0), per_net.std(0) / math.sqrt(nets)


@pytest.mark.parametrize(("depth", "sigma_w", "sigma_b"), [(1, 2**0.5, 0.1), (2, 2**0.5, 0.1), (2, 1.3, 0.6)])
def test_kernel_matches_output_covariance_of_wide_random_nets(depth: int, sigma_w: float, sigma_b: float) -> None:
    # 64 nets of width 1024: the standard error per entry is about 0.5% of the diagonal.
    # Tolerance: 4.5 standard errors plus the O(1/width) finite-width bias. A wrong
    # constant (σ_w²/π, a dropped σ_b², swapped sin/cos) moves entries by 10% or more.
    width = 1024
    X = _inputs()
    K = nngp_relu_kernel(X, depth=depth, sigma_w=sigma_w, sigma_b=sigma_b)
    estimate, stderr = _monte_carlo_kernel(X, depth, sigma_w, sigma_b, width=width, nets=64)
    tolerance = 4.5 * stderr + 2.0 / width * K.diagonal().max()
    assert ((estimate - K).abs() <= tolerance).all(), (estimate - K).abs() / tolerance


def test_duplicated_and_rescaled_inputs_give_finite_kernel() -> None:
    # With σ_b = 0 a ReLU net is positively homogeneous: x and c·x are perfectly
    # correlated, and rounding pushes their cosine past 1 unless it is clipped.
    gen = torch.Generator().manual_seed(3)
    base = torch.rand(40, 7, generator=gen, dtype=torch.float64)
    X = torch.cat([base, base, 3.7 * base])
    gram = X @ X.T
    raw_cos = gram / torch.outer(gram.diagonal().sqrt(), gram.diagonal().sqrt())
    assert (raw_cos > 1).any(), "precondition: rounding must push some cosine above 1"

    K = nngp_relu_kernel(X, depth=3, sigma_w=2**0.5, sigma_b=0.0)
    assert torch.isfinite(K).all()
    correlation = K / torch.outer(K.diagonal().sqrt(), K.diagonal().sqrt())
    copies = torch.arange(40)
    ones = torch.ones(40, dtype=torch.float64)
    assert torch.allclose(correlation[copies, copies + 40], ones, rtol=0, atol=1e-12)
    assert torch.allclose(correlation[copies, copies + 80], ones, rtol=0, atol=1e-12)
    assert torch.allclose(K[:40, :40], K[40:80, 40:80], rtol=1e-13, atol=0)


def test_kernel_flattens_image_inputs_and_returns_float64() -> None:
    images = torch.rand(5, 1, 4, 3, generator=torch.Generator().manual_seed(0))
    K = nngp_relu_kernel(images)
    assert K.dtype == torch.float64 and K.shape == (5, 5)
    assert torch.allclose(K, nngp_relu_kernel(images.reshape(5, 12).double()), rtol=1e-6)


def test_depth_zero_is_the_input_layer_covariance() -> None:
    X = _inputs()
    expected = 0.1**2 + 2.0 * (X @ X.T) / X.shape[1]
    assert torch.allclose(nngp_relu_kernel(X, depth=0), expected, rtol=1e-14, atol=0)


@pytest.mark.parametrize(
    ("X", "options", "message"),
    [
        (torch.zeros(0, 3), {}, "m, d ≥ 1"),
        (torch.ones(3), {}, "m, d ≥ 1"),
        (torch.tensor([[1.0, float("nan")]]), {}, "NaN"),
        (torch.ones(2, 3), {"depth": -1}, "depth"),
        (torch.ones(2, 3), {"depth": 1.5}, "depth"),
        (torch.ones(2, 3), {"sigma_w": 0.0}, "sigma_w"),
        (torch.tensor([[0.0, 0.0], [1.0, 2.0]]), {"sigma_b": 0.0}, "input 0 has zero prior variance"),
    ],
)
def test_bad_inputs_are_rejected(X: torch.Tensor, options: dict, message: str) -> None:
    with pytest.raises(MeasureInputError, match=message):
        nngp_relu_kernel(X, **options)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_kernel_on_cuda_matches_cpu() -> None:
    X = _inputs()
    K = nngp_relu_kernel(X.cuda(), depth=2)
    assert K.device.type == "cuda"
    assert torch.allclose(K.cpu(), nngp_relu_kernel(X, depth=2), rtol=1e-12, atol=1e-14)
