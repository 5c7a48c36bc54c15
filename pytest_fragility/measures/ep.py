"""ln P(U) for a Gaussian-process prior by expectation propagation (EP).

U is the event that a draw f ~ N(0, K) has the sign of every label: y_i f(x_i) > 0 for
all i. P(U) is a Gaussian orthant probability, and also the marginal likelihood of the
labels under the step (Heaviside) likelihood Θ(y_i f_i): the noiseless limit of the probit
likelihood Φ(y_i f_i / s) as s → 0. EP approximates it as in Rasmussen & Williams (2006)
§3.6: Gaussian sites t_i(f_i) = Z̃_i N(f_i | ν̃_i/τ̃_i, 1/τ̃_i) are fitted by moment
matching against the tilted distributions, and ln P(U) ≈ ln Z_EP (eqs. 3.65, 3.73-3.74).

With the step likelihood, the moments of the tilted distribution (R&W eq. 3.58 with the
noise variance 1 replaced by 0) are those of a truncated Gaussian: for the cavity
N(μ₋, σ₋²) and z = y μ₋/σ₋, r = φ(z)/Φ(z),

    Ẑ = Φ(z),   μ̂ = μ₋ + y σ₋ r,   σ̂² = σ₋² (1 − r (z + r)).

Updates are parallel: each sweep matches every site against the current posterior, damps
the change, then refactors the posterior with ONE Cholesky of B = I + S̃½ K S̃½ (well
conditioned: its eigenvalues are ≥ 1), so a sweep costs O(m³) and never inverts K.
"""

from __future__ import annotations

import math
import warnings
from dataclasses import dataclass
from typing import NamedTuple

import torch

from pytest_fragility.errors import MeasureInputError

# Damping 0.8 took the fewest sweeps on MNIST, MNIST-1D and digits kernels (true, noisy
# and random labels). The change in ln Z shrinks about fivefold per sweep, so stopping
# once it is below 1e-4·|ln Z| leaves an error near 1e-5·|ln Z| (m = 1000: ≤ 0.005 nats),
# far below EP's own approximation error, at a third fewer sweeps than 1e-6.
DAMPING = 0.8
TOLERANCE = 1e-4
MAX_SWEEPS = 100
# Jitter added to K's diagonal when a factorization fails, relative to mean(diag K).
JITTER_LEVELS = (1e-10, 1e-8, 1e-6, 1e-4)
# Two points whose prior correlation is ±1 to this precision have tied outputs.
TIED_CORRELATION = 1.0 - 1e-12
_LOG_SQRT_2PI = 0.5 * math.log(2 * math.pi)


@dataclass(frozen=True)
class EPResult:
    """EP's estimate of ln P(U) and how it was reached."""

    log_marginal_likelihood: float
    sweeps: int  # posterior refactorizations (one Cholesky each)
    converged: bool
    jitter: float  # absolute value added to K's diagonal (0 when none was needed)


class _Posterior(NamedTuple):
    variance: torch.Tensor  # diag of Σ = (K⁻¹ + S̃)⁻¹
    mean: torch.Tensor  # Σ ν̃
    half_logdet: float  # Σ ln L_ii, L = chol(B): ½ ln |B|


class _Cavity(NamedTuple):
    precision: torch.Tensor  # τ₋
    shift: torch.Tensor  # ν₋ = τ₋ μ₋


def signed_labels(y: object, what: str = "labels") -> torch.Tensor:
    """Labels as ±1 float64. Accepts {0, 1} (0 → −1) or {−1, +1}; anything else is an error."""
    y = torch.as_tensor(y)
    if y.dim() != 1:
        raise MeasureInputError(f"{what} must be a 1-D vector of binary labels, got shape {tuple(y.shape)}")
    y = y.to(torch.float64)
    values = torch.unique(y)
    if bool(((values == 0) | (values == 1)).all()):
        return 2 * y - 1
    if bool(((values == -1) | (values == 1)).all()):
        return y
    shown = ", ".join(f"{v:g}" for v in values[:6].tolist())
    raise MeasureInputError(
        f"{what} must be binary (0/1 or −1/+1), but hold the values {shown}"
        + (", ..." if len(values) > 6 else "")
        + "; the marginal-likelihood bound is defined for binary classification only"
    )


def log_marginal_likelihood(K: torch.Tensor, y: object, **options: float) -> float:
    """EP estimate of ln P(U), U = {f ~ N(0, K): sign f(x_i) = y_i for all i}; options as
    `expectation_propagation`."""
    return expectation_propagation(K, y, **options).log_marginal_likelihood


def expectation_propagation(
    K: torch.Tensor,
    y: object,
    *,
    damping: float = DAMPING,
    tol: float = TOLERANCE,
    max_sweeps: int = MAX_SWEEPS,
) -> EPResult:
    """Parallel, damped EP for the step likelihood; runs on K's device in float64.

    Stops when ln Z_EP changes by less than ``tol · max(1, |ln Z_EP|)`` between sweeps,
    and warns after `max_sweeps` without convergence. Inputs that are perfectly
    correlated under K but labelled differently (or perfectly anti-correlated with equal
    labels) make U empty: ln P(U) = −inf, with a warning.
    """
    if not 0 < damping <= 1:
        raise MeasureInputError(f"damping must be in (0, 1], got {damping!r}")
    if not tol > 0 or isinstance(max_sweeps, bool) or not isinstance(max_sweeps, int) or max_sweeps < 1:
        raise MeasureInputError(f"need tol > 0 and an int max_sweeps ≥ 1, got {tol!r} and {max_sweeps!r}")
    K = torch.as_tensor(K, dtype=torch.float64)
    m = K.shape[0] if K.dim() == 2 else -1
    if K.dim() != 2 or K.shape[1] != m or m == 0:
        raise MeasureInputError(f"K must be a non-empty square matrix, got shape {tuple(K.shape)}")
    y = signed_labels(y).to(K.device)
    if len(y) != m:
        raise MeasureInputError(f"K is {m}×{m} but there are {len(y)} labels")
    if not torch.isfinite(K).all():
        raise MeasureInputError("K contains NaN or inf")
    diag = K.diagonal().clone()
    if not bool((diag > 0).all()):
        i = int(torch.nonzero(diag <= 0)[0])
        raise MeasureInputError(f"K[{i}, {i}] = {diag[i].item():g}: every prior variance must be positive")

    clash = _contradicting_pair(K, diag, y)
    if clash is not None:
        i, j = clash
        warnings.warn(
            f"points {i} and {j} have tied outputs under K (correlation ±1, e.g. identical "
            "inputs) that contradict their labels, so no function drawn from the prior fits "
            "both: P(U) = 0",
            RuntimeWarning,
            stacklevel=2,
        )
        return EPResult(-math.inf, 0, True, 0.0)

    tau = torch.zeros_like(diag)  # site precisions τ̃
    nu = torch.zeros_like(diag)  # site shifts ν̃ = τ̃ μ̃
    posterior = _Posterior(diag.clone(), torch.zeros_like(diag), 0.0)
    cavity = _cavity(posterior, tau, nu)
    jitter, scale = 0.0, diag.mean().item()
    previous = None
    for sweep in range(max_sweeps + 1):
        site_tau, site_nu, log_z = _match_moments(cavity, y, tau, nu, posterior)
        if previous is not None and abs(log_z - previous) <= tol * max(1.0, abs(log_z)):
            _warn_jitter(jitter, scale)
            return EPResult(log_z, sweep, True, jitter)
        if sweep == max_sweeps:
            break
        rate = 1.0 if sweep == 0 else damping  # the first sweep starts from the prior
        previous = log_z
        tau = tau + rate * (site_tau - tau)
        nu = nu + rate * (site_nu - nu)
        posterior, cavity, jitter = _refactor(K, diag, tau, nu, jitter, scale)

    _warn_jitter(jitter, scale)
    warnings.warn(
        f"EP did not converge in {max_sweeps} sweeps (m = {m}; ln Z changed by "
        f"{abs(log_z - previous):.3g} in the last sweep); the estimate of ln P(U) = {log_z:.6g} "
        "may be inaccurate: raise max_sweeps or lower damping",
        RuntimeWarning,
        stacklevel=2,
    )
    return EPResult(log_z, max_sweeps, False, jitter)


def _match_moments(
    cavity: _Cavity, y: torch.Tensor, tau: torch.Tensor, nu: torch.Tensor, posterior: _Posterior
) -> tuple[torch.Tensor, torch.Tensor, float]:
    """New sites from the tilted moments, and ln Z_EP of the CURRENT sites."""
    cav_var = 1.0 / cavity.precision
    cav_sd = cav_var.sqrt()
    cav_mean = cavity.shift * cav_var
    z = y * cav_mean / cav_sd
    log_phi_cdf = torch.special.log_ndtr(z)
    ratio = torch.exp(-0.5 * z * z - _LOG_SQRT_2PI - log_phi_cdf)  # φ(z)/Φ(z), stable for z ≪ 0
    shrink = (ratio * (z + ratio)).clamp_(0.0, 1.0 - 1e-12)  # share of cavity variance removed
    tilted_precision = cavity.precision / (1.0 - shrink)
    tilted_mean = cav_mean + y * cav_sd * ratio
    site_tau = tilted_precision - cavity.precision
    site_nu = tilted_mean * tilted_precision - cavity.shift

    # ln Z_EP (R&W eqs. 3.65, 3.73-3.74) rewritten in natural parameters so that sites
    # with τ̃ = 0 (the start, or points far on the right side) are exact, not 0/0.
    quad = (tau * cav_mean * cavity.shift - 2 * cavity.shift * nu - nu * nu) / (cavity.precision + tau)
    log_z = (
        log_phi_cdf.sum()
        + 0.5 * torch.log1p(tau / cavity.precision).sum()
        - posterior.half_logdet
        + 0.5 * (nu @ posterior.mean)
        + 0.5 * quad.sum()
    )
    return site_tau, site_nu, float(log_z)


def _refactor(
    K: torch.Tensor, diag: torch.Tensor, tau: torch.Tensor, nu: torch.Tensor, jitter: float, scale: float
) -> tuple[_Posterior, _Cavity, float]:
    """Posterior and cavities for the new sites, adding jitter while the numbers fail."""
    levels = [jitter] + [level * scale for level in JITTER_LEVELS if level * scale > jitter]
    for level in levels:
        posterior = _posterior(K, diag, tau, nu, level)
        if posterior is not None:
            cavity = _cavity(posterior, tau, nu)
            if bool((cavity.precision > 0).all()) and bool(torch.isfinite(cavity.shift).all()):
                return posterior, cavity, level
    raise MeasureInputError(
        f"EP failed: the posterior could not be factorized even with jitter "
        f"{JITTER_LEVELS[-1]:g} × mean(diag K) on K's diagonal; K is far from positive "
        "semi-definite or the labels are (nearly) impossible under it"
    )


def _posterior(
    K: torch.Tensor, diag: torch.Tensor, tau: torch.Tensor, nu: torch.Tensor, jitter: float
) -> _Posterior | None:
    """Σ = (K_j⁻¹ + S̃)⁻¹ with K_j = K + jitter·I, via L = chol(I + S̃½ K_j S̃½); None if it fails."""
    root = tau.sqrt()
    scaled = K * root[:, None]  # S̃½ K_j
    if jitter:
        scaled.diagonal().add_(jitter * root)
    B = scaled * root[None, :]
    B.diagonal().add_(1.0)
    L, info = torch.linalg.cholesky_ex(B)
    del B
    if info.item() != 0:
        return None
    V = torch.linalg.solve_triangular(L, scaled, upper=False)  # Σ = K_j − VᵀV
    del scaled
    variance = diag + jitter - torch.linalg.vector_norm(V, dim=0).square()
    mean = K @ nu + jitter * nu - V.T @ (V @ nu)
    return _Posterior(variance, mean, float(L.diagonal().log().sum()))


def _cavity(posterior: _Posterior, tau: torch.Tensor, nu: torch.Tensor) -> _Cavity:
    """Remove each site from its posterior marginal (R&W eq. 3.56)."""
    return _Cavity(1.0 / posterior.variance - tau, posterior.mean / posterior.variance - nu)


def _contradicting_pair(K: torch.Tensor, diag: torch.Tensor, y: torch.Tensor) -> tuple[int, int] | None:
    """A pair (i, j) whose outputs are tied (correlation ±1) against their labels, if any.

    Correlation 1 with different labels, or −1 with equal labels, leaves no function in U.
    """
    scale = diag.sqrt()
    block = 1024
    for start in range(0, len(y), block):
        rows = slice(start, start + block)
        agreement = K[rows] * y[rows, None] * y[None, :]  # y_i y_j K_ij
        hit = torch.nonzero(agreement <= -TIED_CORRELATION * scale[rows, None] * scale[None, :])
        if len(hit):
            return start + int(hit[0, 0]), int(hit[0, 1])
    return None


def _warn_jitter(jitter: float, scale: float) -> None:
    if jitter:
        warnings.warn(
            f"EP: the posterior factorization failed (K is numerically not positive definite, "
            f"e.g. near-duplicate inputs), so jitter {jitter:.3g} ({jitter / scale:.0e} × mean "
            "diag K) was added to K's diagonal; ln P(U) is that of the jittered kernel",
            RuntimeWarning,
            stacklevel=3,
        )
