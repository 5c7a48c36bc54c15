"""The analytic NNGP kernel of a fully connected ReLU network (arc-cosine recursion).

At initialization, with weights N(0, σ_w²/fan_in) and biases N(0, σ_b²), the outputs
of an infinitely wide ReLU network are a Gaussian process over inputs. Its covariance
(Cho & Saul 2009, the arc-cosine kernel of degree 1; Lee et al. 2018) starts from the
first layer's pre-activations,

    K⁰(x, x′) = σ_b² + σ_w² ⟨x, x′⟩ / d_in,

and each hidden ReLU layer maps K to

    K(x, x′) ← σ_b² + σ_w²/(2π) · √(K(x,x) K(x′,x′)) · (sin θ + (π − θ) cos θ),
    cos θ = K(x, x′) / √(K(x,x) K(x′,x′)),

so that the diagonal follows K(x, x) ← σ_b² + σ_w² K(x, x) / 2. The cosine is clipped to
[−1, 1] before arccos: rounding pushes it past 1 for (near-)duplicate inputs and the
reference implementation (guillefix/nn-pacbayes) then returns NaN.
"""

from __future__ import annotations

import math

import torch

from pytest_fragility.errors import MeasureInputError


def nngp_relu_kernel(
    X: torch.Tensor,
    depth: int = 2,
    sigma_w: float = 2**0.5,
    sigma_b: float = 0.1,
) -> torch.Tensor:
    """m×m float64 prior covariance of the output of a ReLU net with `depth` hidden layers.

    X is (m, d) or (m, *shape) (flattened); the kernel is computed on X's device. The
    defaults match He-normal weights with N(0, 0.1²) biases. Works in place: apart from
    X in float64 it holds two m×m matrices at a time.
    """
    X = torch.as_tensor(X)
    if X.dim() < 2 or X.shape[0] == 0 or X[0].numel() == 0:
        raise MeasureInputError(
            f"nngp_relu_kernel needs inputs shaped (m, d) or (m, *shape) with m, d ≥ 1; "
            f"got shape {tuple(X.shape)}"
        )
    if isinstance(depth, bool) or not isinstance(depth, int) or depth < 0:
        raise MeasureInputError(f"depth (number of hidden layers) must be an int ≥ 0, got {depth!r}")
    if not sigma_w > 0 or not sigma_b >= 0:
        raise MeasureInputError(f"need sigma_w > 0 and sigma_b ≥ 0, got {sigma_w!r} and {sigma_b!r}")
    X = X.reshape(X.shape[0], -1).to(torch.float64)
    if not torch.isfinite(X).all():
        raise MeasureInputError("nngp_relu_kernel: the inputs contain NaN or inf")

    weight_var, bias_var = float(sigma_w) ** 2, float(sigma_b) ** 2
    d_in = X.shape[1]
    K = X @ X.T
    K.mul_(weight_var / d_in).add_(bias_var)
    # The diagonal is tracked exactly (from ‖x‖², then through the closed-form diagonal
    # recursion) so that every layer divides by the same variances it will multiply by.
    variance = X.square().sum(dim=1).mul_(weight_var / d_in).add_(bias_var)
    zero = torch.nonzero(variance <= 0)
    if len(zero):
        raise MeasureInputError(
            f"input {zero[0].item()} has zero prior variance (an all-zero input with "
            "sigma_b = 0): its output is 0 for every network, so no label fits it"
        )
    K.diagonal().copy_(variance)
    for _ in range(depth):
        K = _relu_layer(K, variance, weight_var, bias_var)
        variance = variance.mul(weight_var / 2).add_(bias_var)
        K.diagonal().copy_(variance)
    return K


def _relu_layer(K: torch.Tensor, variance: torch.Tensor, weight_var: float, bias_var: float) -> torch.Tensor:
    """One arc-cosine step, overwriting K (one extra m×m buffer for θ)."""
    scale = variance.sqrt()
    cos = K.div_(scale[:, None]).div_(scale[None, :]).clamp_(-1.0, 1.0)
    angle_term = torch.acos(cos).neg_().add_(math.pi).mul_(cos)  # (π − θ) cos θ
    out = cos.square_().neg_().add_(1.0).clamp_(min=0.0).sqrt_()  # sin θ, in K's storage
    out.add_(angle_term)
    del angle_term
    out.mul_(scale[:, None]).mul_(scale[None, :]).mul_(weight_var / (2 * math.pi)).add_(bias_var)
    return out
