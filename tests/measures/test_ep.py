"""EP's ln P(U) against exact Gaussian orthant probabilities, and its failure modes."""

from __future__ import annotations

import math
import warnings

import numpy as np
import pytest
import torch
from scipy.stats import multivariate_normal
from sklearn.datasets import load_digits

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures.ep import expectation_propagation, log_marginal_likelihood, signed_labels
from pytest_fragility.measures.nngp import nngp_relu_kernel

# EP approximates the orthant probability; it is not exact. On these small kernels its
# error on ln P(U) is about 1% of |ln P|, except that EP over-penalizes nearly collinear
# points with the same sign (0.048 nats at correlation 0.95 against Sheppard's formula
# below): (nearly) redundant constraints are EP's known weak spot for Gaussian
# probabilities (Cunningham, Hennig & Lacoste-Julien 2011). Tolerance: the larger of 3%
# of |ln P| and 0.05 nats, above EP's own error and below the change that a wrong or
# missing term of ln Z_EP makes.
RELATIVE_TOLERANCE = 0.03
ABSOLUTE_TOLERANCE = 0.05


def _exact_log_orthant(K: np.ndarray, y: np.ndarray) -> float:
    """ln P(y_i f_i > 0 ∀i) = ln P(g ≤ 0) with g = −diag(y) f ~ N(0, diag(y) K diag(y))."""
    s = np.where(y > 0, 1.0, -1.0)
    cov = K * np.outer(s, s)
    p = multivariate_normal.cdf(
        np.zeros(len(y)), mean=np.zeros(len(y)), cov=cov, abseps=1e-6, releps=1e-3, rng=0
    )
    return math.log(p)


def _digit_kernels() -> list[tuple[np.ndarray, np.ndarray]]:
    """NNGP kernels of real inputs (8×8 digits, class ≥ 5), true and random labels."""
    digits = load_digits()
    rng = np.random.default_rng(0)
    cases = []
    for m, depth in [(4, 2), (7, 1), (10, 2), (10, 3)]:
        idx = rng.choice(len(digits.target), m, replace=False)
        K = nngp_relu_kernel(torch.tensor(digits.data[idx] / 16.0), depth=depth).numpy()
        cases.append((K, (digits.target[idx] >= 5).astype(int)))
        cases.append((K, rng.integers(0, 2, m)))
    return cases


def _random_kernels() -> list[tuple[np.ndarray, np.ndarray]]:
    """Random covariances with moderate correlations and random labels."""
    rng = np.random.default_rng(1)
    cases = []
    for m in (3, 5, 8, 10):
        A = rng.standard_normal((m, m + 2))
        K = A @ A.T / (m + 2) + 0.2 * np.diag(rng.random(m))
        cases.append((K, rng.integers(0, 2, m)))
    return cases


@pytest.mark.parametrize(("K", "y"), _digit_kernels() + _random_kernels())
def test_log_marginal_likelihood_matches_orthant_probability(K: np.ndarray, y: np.ndarray) -> None:
    exact = _exact_log_orthant(K, y)
    estimate = log_marginal_likelihood(torch.tensor(K), torch.tensor(y))
    assert estimate == pytest.approx(exact, rel=RELATIVE_TOLERANCE, abs=ABSOLUTE_TOLERANCE)


@pytest.mark.parametrize("rho", [-0.9, -0.3, 0.0, 0.5, 0.95])
def test_two_points_match_the_bivariate_closed_form(rho: float) -> None:
    # P(f₁ > 0, f₂ > 0) = 1/4 + arcsin(ρ)/(2π) (Sheppard's formula).
    K = torch.tensor([[1.0, rho], [rho, 1.0]]) * 2.5
    exact = math.log(0.25 + math.asin(rho) / (2 * math.pi))
    within_tolerance = {"rel": RELATIVE_TOLERANCE, "abs": ABSOLUTE_TOLERANCE}
    assert log_marginal_likelihood(K, torch.tensor([1, 1])) == pytest.approx(exact, **within_tolerance)
    # Flipping one label flips the sign of the correlation.
    flipped = math.log(0.25 + math.asin(-rho) / (2 * math.pi))
    assert log_marginal_likelihood(K, torch.tensor([0, 1])) == pytest.approx(flipped, **within_tolerance)


def test_independent_points_are_exact() -> None:
    # With a diagonal K the sites do not interact, and EP is exact: P(U) = 2^−m.
    K = torch.diag(torch.tensor([0.3, 1.0, 4.0, 2.0, 7.0], dtype=torch.float64))
    result = expectation_propagation(K, torch.tensor([0, 1, 1, 0, 1]))
    assert result.converged
    assert result.log_marginal_likelihood == pytest.approx(5 * math.log(0.5), rel=1e-10)
    assert log_marginal_likelihood(K[:1, :1], torch.tensor([1])) == pytest.approx(math.log(0.5), rel=1e-12)


def test_label_conventions_agree() -> None:
    K, y = _digit_kernels()[0]
    as_01 = log_marginal_likelihood(torch.tensor(K), torch.tensor(y))
    as_pm = log_marginal_likelihood(torch.tensor(K), torch.tensor(2 * y - 1))
    as_bool = log_marginal_likelihood(torch.tensor(K), torch.tensor(y == 1))
    as_float = log_marginal_likelihood(torch.tensor(K), torch.tensor(y, dtype=torch.float32))
    assert as_01 == as_pm == as_bool == as_float


@pytest.mark.parametrize("labels", [[0, 1, 2], [-1, 0, 1], [0.5, 1, 0], [1, float("nan"), 0]])
def test_non_binary_labels_are_an_error(labels: list) -> None:
    with pytest.raises(MeasureInputError, match="binary"):
        log_marginal_likelihood(torch.eye(3, dtype=torch.float64), torch.tensor(labels))
    with pytest.raises(MeasureInputError, match="binary"):
        signed_labels(labels)


def test_contradicting_duplicates_give_minus_infinity_with_a_warning() -> None:
    X = torch.rand(8, 5, generator=torch.Generator().manual_seed(0), dtype=torch.float64)
    X = torch.cat([X, X[2:3]])  # point 8 duplicates point 2
    K = nngp_relu_kernel(X, depth=2)
    y = torch.tensor([0, 1, 1, 0, 1, 0, 0, 1, 0])  # ... with the other label
    with pytest.warns(RuntimeWarning, match="points 2 and 8"):
        assert log_marginal_likelihood(K, y) == -math.inf
    # The same label on both copies is possible, and finite.
    y[8] = 1
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert math.isfinite(log_marginal_likelihood(K, y))


def test_anti_correlated_pair_with_equal_labels_is_impossible() -> None:
    K = torch.tensor([[1.0, -1.0], [-1.0, 1.0]], dtype=torch.float64)  # f₂ = −f₁
    with pytest.warns(RuntimeWarning, match="P\\(U\\) = 0"):
        assert log_marginal_likelihood(K, torch.tensor([1, 1])) == -math.inf
    # With opposite labels the two constraints coincide (P(U) = 1/2); EP counts the
    # redundant constraint twice, so it lands between ln(1/4) and ln(1/2), finite.
    assert math.log(0.25) < log_marginal_likelihood(K, torch.tensor([1, 0])) < math.log(0.5)


def test_not_converging_warns() -> None:
    K, y = _digit_kernels()[4]
    with pytest.warns(RuntimeWarning, match="did not converge in 2 sweeps"):
        result = expectation_propagation(torch.tensor(K), torch.tensor(y), max_sweeps=2)
    assert not result.converged and result.sweeps == 2
    assert math.isfinite(result.log_marginal_likelihood)


def test_failed_factorization_adds_jitter_and_says_so(monkeypatch: pytest.MonkeyPatch) -> None:
    K, y = (torch.tensor(a) for a in _digit_kernels()[4])
    clean = expectation_propagation(K, y)
    scale = K.diagonal().mean().item()

    real_cholesky = torch.linalg.cholesky_ex
    calls = {"n": 0}

    def fails_twice(B: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        # Simulates a numerically indefinite K: the unjittered factorization and the first
        # jitter level (1e-10) fail, the second (1e-8) succeeds.
        calls["n"] += 1
        L, info = real_cholesky(B)
        return L, torch.ones_like(info) if calls["n"] <= 2 else info

    monkeypatch.setattr(torch.linalg, "cholesky_ex", fails_twice)
    with pytest.warns(RuntimeWarning, match="jitter"):
        jittered = expectation_propagation(K, y)
    monkeypatch.undo()

    assert jittered.jitter == pytest.approx(1e-8 * scale)
    explicit = expectation_propagation(K + jittered.jitter * torch.eye(len(y), dtype=torch.float64), y)
    assert jittered.log_marginal_likelihood == pytest.approx(explicit.log_marginal_likelihood, rel=1e-6)
    assert jittered.log_marginal_likelihood == pytest.approx(clean.log_marginal_likelihood, rel=1e-6)


def test_kernel_far_from_positive_definite_is_an_error() -> None:
    K = torch.tensor([[1.0, 2.0], [2.0, 1.0]], dtype=torch.float64)  # "correlation" 2
    with pytest.raises(MeasureInputError, match="could not be factorized even with jitter"):
        log_marginal_likelihood(K, torch.tensor([1, 1]))


@pytest.mark.parametrize(
    ("K", "y", "options", "message"),
    [
        (torch.eye(3), [0, 1], {}, "3×3 but there are 2 labels"),
        (torch.ones(2, 3), [0, 1], {}, "square"),
        (torch.diag(torch.tensor([1.0, 0.0])), [0, 1], {}, "K\\[1, 1\\] = 0"),
        (torch.tensor([[1.0, float("inf")], [0.0, 1.0]]), [0, 1], {}, "NaN or inf"),
        (torch.eye(2), [0, 1], {"damping": 0.0}, "damping"),
        (torch.eye(2), [0, 1], {"max_sweeps": 0}, "max_sweeps"),
    ],
)
def test_bad_arguments_are_rejected(K: torch.Tensor, y: list, options: dict, message: str) -> None:
    with pytest.raises(MeasureInputError, match=message):
        expectation_propagation(K, torch.tensor(y), **options)


@pytest.mark.cuda
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA device")
def test_ep_on_cuda_matches_cpu() -> None:
    K, y = (torch.tensor(a) for a in _digit_kernels()[5])
    on_gpu = expectation_propagation(K.cuda(), y.cuda())
    on_cpu = expectation_propagation(K, y)
    assert on_gpu.log_marginal_likelihood == pytest.approx(on_cpu.log_marginal_likelihood, rel=1e-9)
