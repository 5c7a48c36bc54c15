"""The marginal-likelihood PAC-Bayes bound as a registered measure."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from torch import nn

import pytest_fragility as pf
from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures import marginal_likelihood as ml
from pytest_fragility.measures.nngp import nngp_relu_kernel


def _mlp(d: int, hidden: int = 2) -> nn.Module:
    layers: list[nn.Module] = []
    width = d
    for _ in range(hidden):
        layers += [nn.Linear(width, 16), nn.ReLU()]
        width = 16
    return nn.Sequential(*layers, nn.Linear(width, 1))


def _run(x: torch.Tensor, y: torch.Tensor, hidden: int = 2) -> pf.Run:
    torch.manual_seed(0)
    return pf.Run(model=_mlp(x[0].numel() if len(x) else x.shape[1], hidden), x_train=x, y_train=y)


def _gaussian_inputs(m: int, d: int = 10, seed: int = 0) -> torch.Tensor:
    return torch.randn(m, d, generator=torch.Generator().manual_seed(seed))


def test_bound_formula_matches_direct_computation() -> None:
    for log_p, m, delta in [(-3.0, 10, 2**-10), (-527.53, 2000, 2**-10), (-40.0, 100, 0.05)]:
        direct = 1 - np.exp(-(-log_p + 2 * np.log(m) + 1 + np.log(1 / delta)) / m)
        assert ml.pac_bayes_bound(log_p, m, delta) == pytest.approx(direct, rel=1e-12)
        assert 0 < ml.pac_bayes_bound(log_p, m, delta) < 1
    assert ml.pac_bayes_bound(-math.inf, 50) == 1.0


@pytest.mark.parametrize(("log_p", "m", "delta"), [(0.5, 10, 0.1), (-1.0, 0, 0.1), (-1.0, 10, 1.0), (math.nan, 5, 0.1)])
def test_bound_rejects_impossible_arguments(log_p: float, m: int, delta: float) -> None:
    with pytest.raises(MeasureInputError):
        ml.pac_bayes_bound(log_p, m, delta)


def test_measure_is_registered_as_a_data_only_kernel_bound() -> None:
    spec = pf.measures.get("marginal_likelihood_bound")
    assert spec.post_mortem is False
    assert spec.needs == frozenset({"train_data"})
    assert (spec.cost, spec.scale, spec.bound_rule) == ("kernel", "positive", "identity")
    assert spec.to_bound(0.3, 1000) == 0.3


def test_measure_matches_orthant_probability_of_the_nngp_prior() -> None:
    # End to end against an independent ln P(U): scipy's orthant probability of the NNGP
    # prior of a net with 2 hidden layers (3 Linear layers), then the bound formula by hand.
    x = _gaussian_inputs(8).reshape(8, 2, 5)  # image-shaped: the measure flattens it
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1])
    K = nngp_relu_kernel(x.reshape(8, 10).double(), depth=2, sigma_w=2**0.5, sigma_b=0.1).numpy()
    s = 2 * y.numpy() - 1
    p = multivariate_normal.cdf(np.zeros(8), mean=np.zeros(8), cov=K * np.outer(s, s), abseps=1e-6, releps=1e-3, rng=0)
    m, delta = 8, 2**-10
    expected_log_p = math.log(p)

    value = pf.measures.marginal_likelihood_bound(_run(x, y), form="raw")
    implied_log_p = -(-m * math.log1p(-value) - 2 * math.log(m) - 1 - math.log(1 / delta))
    # EP's tolerance on ln P(U) (see test_ep.py).
    assert implied_log_p == pytest.approx(expected_log_p, rel=0.03, abs=0.05)
    assert pf.measures.marginal_likelihood_bound(_run(x, y), form="bound") == value


def test_depth_comes_from_the_model_and_options_override_it() -> None:
    x, y = _gaussian_inputs(30), torch.randint(0, 2, (30,), generator=torch.Generator().manual_seed(1))
    bound = pf.measures.marginal_likelihood_bound
    assert bound(_run(x, y, hidden=3)) == bound(_run(x, y, hidden=1), depth=3)
    assert bound(_run(x, y, hidden=3)) != bound(_run(x, y, hidden=1))
    wider_bias = bound(_run(x, y), sigma_b=1.0)
    assert wider_bias != bound(_run(x, y))
    assert bound(_run(x, y), delta=0.5) < bound(_run(x, y))


def test_consistent_labels_give_a_smaller_bound_than_random_labels() -> None:
    m = 200
    x = _gaussian_inputs(m, d=20, seed=2)
    w = torch.randn(20, generator=torch.Generator().manual_seed(3))
    separable = (x @ w > 0).long()
    random = torch.randint(0, 2, (m,), generator=torch.Generator().manual_seed(4))
    tight = pf.measures.marginal_likelihood_bound(_run(x, separable))
    loose = pf.measures.marginal_likelihood_bound(_run(x, random))
    assert 0 < tight < loose < 1
    assert loose - tight > 0.1


def test_non_binary_labels_name_the_run() -> None:
    x, y = _gaussian_inputs(6), torch.tensor([0, 1, 2, 0, 1, 2])
    with pytest.raises(MeasureInputError, match=r"y_train of run variant=base m=\? seed=0 must be binary"):
        pf.measures.marginal_likelihood_bound(_run(x, y))


def test_identical_inputs_with_different_labels_give_the_vacuous_bound() -> None:
    x = _gaussian_inputs(10)
    x[9] = x[4]
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 0, 1])
    y[9] = 1 - y[4]
    with pytest.warns(RuntimeWarning, match="P\\(U\\) = 0"):
        assert pf.measures.marginal_likelihood_bound(_run(x, y)) == 1.0


def test_too_large_m_is_an_error_before_anything_is_allocated(monkeypatch: pytest.MonkeyPatch) -> None:
    def must_not_run(*args: object, **kwargs: object) -> None:
        raise AssertionError("the kernel was computed although memory was known to be short")

    monkeypatch.setattr(ml, "available_memory", lambda device: 10**6)
    monkeypatch.setattr(ml, "nngp_relu_kernel", must_not_run)
    x, y = _gaussian_inputs(300, d=10), torch.randint(0, 2, (300,))
    needed = 8 * (ml.PEAK_MATRICES * 300 * 300 + 300 * 10)
    with pytest.raises(MeasureInputError, match=rf"m = 300 .*\({needed} bytes.*\(1000000 bytes\) is available on cpu"):
        pf.measures.marginal_likelihood_bound(_run(x, y))


def test_memory_probe_reports_a_plausible_amount() -> None:
    available = ml.available_memory(torch.device("cpu"))
    with open("/proc/meminfo") as meminfo:
        total = int(next(line for line in meminfo if line.startswith("MemTotal:")).split()[1]) * 1024
    assert 0 < available <= total


def test_convolutional_model_needs_an_explicit_depth() -> None:
    x, y = torch.rand(6, 1, 4, 4), torch.tensor([0, 1, 1, 0, 1, 0])
    cnn = nn.Sequential(nn.Conv2d(1, 2, 3), nn.ReLU(), nn.Flatten(), nn.Linear(8, 1))
    run = pf.Run(model=cnn, x_train=x, y_train=y)
    with pytest.raises(MeasureInputError, match="Conv2d layers; pass depth="):
        pf.measures.marginal_likelihood_bound(run)
    assert 0 < pf.measures.marginal_likelihood_bound(run, depth=1) < 1


def test_empty_training_set_is_an_error() -> None:
    run = _run(torch.zeros(0, 10), torch.zeros(0, dtype=torch.long))
    with pytest.raises(MeasureInputError, match="no training data"):
        pf.measures.marginal_likelihood_bound(run)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_measure_runs_on_the_device_of_the_data() -> None:
    x, y = _gaussian_inputs(64), torch.randint(0, 2, (64,), generator=torch.Generator().manual_seed(5))
    on_cpu = pf.measures.marginal_likelihood_bound(_run(x, y))
    on_gpu = pf.measures.marginal_likelihood_bound(_run(x.cuda(), y.cuda()))
    assert on_gpu == pytest.approx(on_cpu, rel=1e-9)
