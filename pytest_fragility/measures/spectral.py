"""Spectral-norm measures, and the spectral norm of one Linear or conv layer.

A Linear layer's spectral norm is its top singular value. A conv layer has two:

- ``"reshape"`` (default, the reference pipeline's): the top singular value of the
  kernel reshaped to (out, in·k…), the approximation of Yoshida & Miyato (2017). Cheap,
  independent of the input size, but not the norm of the map the layer computes.
- ``"operator"``: the operator norm of the convolution the layer actually computes on
  its real input size (stride, padding, dilation, groups and padding mode included),
  by block power iteration with the convolution and its adjoint (autograd) in
  float64. Each layer's input size is read with a forward hook on one training
  example.

Every spectral measure takes ``spectral="reshape"|"operator"``.
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Sequence
from typing import Literal

import torch
from torch import nn

from pytest_fragility.errors import ConfigurationError, MeasureInputError, unknown
from pytest_fragility.measures._layers import (
    WEIGHT_LAYERS,
    init_weights,
    trained_weights,
    weight_layers,
)
from pytest_fragility.measures._outputs import check_inputs
from pytest_fragility.measures.margin import JIANG, log_margin_squared
from pytest_fragility.measures.norms import (
    frobenius_squared,
    layer_logs,
    log_positive,
    log_sum_form,
    require_positive,
)
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run

SpectralMethod = Literal["reshape", "operator"]
SPECTRAL_METHODS = ("reshape", "operator")

# Block power iteration for conv operator norms: it stops when the estimate of σ²
# moves by less than OPERATOR_RTOL (relative) in one step.
OPERATOR_BLOCK = 8
OPERATOR_RTOL = 1e-12
OPERATOR_MAX_ITER = 10_000


def spectral_norm(
    layer: nn.Module,
    method: SpectralMethod = "reshape",
    input_shape: Sequence[int] | None = None,
) -> float:
    """Largest singular value of a Linear or conv layer's weight (bias ignored).

    `input_shape` is one example's input to the layer, (in_channels, *spatial); the
    ``"operator"`` method needs it for conv layers, since the operator norm of a
    convolution depends on the size of what it convolves.
    """
    if not isinstance(layer, WEIGHT_LAYERS):
        raise ConfigurationError(
            f"spectral_norm takes a Linear or Conv layer, got {type(layer).__name__}"
        )
    return kernel_spectral_norm(layer.weight.detach(), layer, method, input_shape)


def kernel_spectral_norm(
    kernel: torch.Tensor,
    layer: nn.Module,
    method: SpectralMethod = "reshape",
    input_shape: Sequence[int] | None = None,
) -> float:
    """Spectral norm of `kernel` used in place of `layer`'s weight (same geometry).

    Distances from initialization need this: ‖W − W⁰‖₂ is the norm of the layer's
    map with kernel W − W⁰.
    """
    _check_method(method)
    if isinstance(layer, nn.Linear) or method == "reshape":
        matrix = kernel.detach().double().reshape(kernel.shape[0], -1)
        return torch.linalg.matrix_norm(matrix, ord=2).item()
    if input_shape is None:
        raise ConfigurationError(
            f"the operator norm of a {type(layer).__name__} depends on its input size; "
            "pass input_shape=(in_channels, *spatial) of one example"
        )
    shape = tuple(int(s) for s in input_shape)
    if len(shape) != kernel.dim() - 1 or shape[0] != layer.in_channels:
        raise ConfigurationError(
            f"input_shape {shape} does not fit {layer}: expected (in_channels="
            f"{layer.in_channels}, then {kernel.dim() - 2} spatial sizes)"
        )
    return _conv_operator_norm(kernel, layer, shape)


def _conv_operator_norm(kernel: torch.Tensor, layer: nn.Module, shape: tuple[int, ...]) -> float:
    """σ_max of x ↦ conv(x, kernel) on inputs of `shape`, by block power iteration on AᵀA.

    A convolution's top singular values come from nearby frequencies and are often
    nearly equal, which stalls single-vector power iteration (ratios of 0.9999 per
    step are common). Iterating a block of OPERATOR_BLOCK vectors, with the top
    Ritz value of the block as the estimate, converges at the ratio to the
    (block+1)-th singular value instead; the block shares one batched convolution.
    """
    kernel = kernel.detach().double()
    device = kernel.device
    size = math.prod(shape)
    block = min(OPERATOR_BLOCK, size)

    def convolve(x: torch.Tensor) -> torch.Tensor:
        # _conv_forward applies the layer's own stride, padding (any mode), dilation
        # and groups with the given kernel and no bias.
        return layer._conv_forward(x, kernel, None)

    # The map is linear, so one graph, kept, gives the adjoint Aᵀu of any u by autograd.
    # (Plain autograd rather than torch.func.vjp, which imports torch._dynamo: seconds.)
    source = torch.zeros((block, *shape), dtype=torch.float64, device=device,
                         requires_grad=True)
    with torch.enable_grad():
        image_of_source = convolve(source)

    def adjoint(u: torch.Tensor) -> torch.Tensor:
        (pulled_back,) = torch.autograd.grad(image_of_source, source, u, retain_graph=True)
        return pulled_back

    generator = torch.Generator(device=device).manual_seed(0)
    start = torch.randn(size, block, generator=generator, dtype=torch.float64, device=device)
    basis = torch.linalg.qr(start).Q  # (size, block), orthonormal columns
    estimate = 0.0
    for _ in range(OPERATOR_MAX_ITER):
        with torch.no_grad():
            images = convolve(basis.T.reshape(block, *shape))
        flat = images.reshape(block, -1)
        # Top Ritz value of AᵀA on span(basis): a lower bound on σ² that rises to it.
        ritz = torch.linalg.eigvalsh(flat @ flat.T)[-1].item()
        if ritz <= 0.0:
            return 0.0
        if abs(ritz - estimate) <= OPERATOR_RTOL * ritz:
            return math.sqrt(ritz)
        estimate = ritz
        basis = torch.linalg.qr(adjoint(images).reshape(block, -1).T).Q
    warnings.warn(
        f"power iteration for the operator norm of {layer} did not settle to a relative "
        f"change of {OPERATOR_RTOL:g} in {OPERATOR_MAX_ITER} steps; the value "
        f"{math.sqrt(estimate):.6g} is a lower bound",
        RuntimeWarning,
        stacklevel=3,
    )
    return math.sqrt(estimate)


def layer_input_shapes(model: nn.Module, example: torch.Tensor) -> dict[nn.Module, tuple[int, ...]]:
    """Per-example input shape of each weight layer, from one forward pass on `example`.

    `example` is a batch of one. A layer used twice keeps the shape of its first call.
    """
    shapes: dict[nn.Module, tuple[int, ...]] = {}

    def record(module: nn.Module, args: tuple[torch.Tensor, ...]) -> None:
        shapes.setdefault(module, tuple(args[0].shape[1:]))

    handles = [layer.register_forward_pre_hook(record) for layer in weight_layers(model)]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            model(example)
    finally:
        model.train(was_training)
        for handle in handles:
            handle.remove()
    return shapes


def spectral_norms_squared(
    run: Run,
    spectral: SpectralMethod = "reshape",
    kernels: Sequence[torch.Tensor] | None = None,
) -> list[float]:
    """‖W_i‖₂² of every weight layer of the run's model (or of `kernels` in their place)."""
    _check_method(spectral)
    layers = weight_layers(run.model)
    kernels = trained_weights(run) if kernels is None else kernels
    shapes: dict[nn.Module, tuple[int, ...]] = {}
    if spectral == "operator" and not all(isinstance(layer, nn.Linear) for layer in layers):
        check_inputs(run.model, run.x_train, None, "x_train")
        shapes = layer_input_shapes(run.model, run.x_train[:1])
    norms = []
    for i, (kernel, layer) in enumerate(zip(kernels, layers)):
        if spectral == "operator" and not isinstance(layer, nn.Linear) and layer not in shapes:
            raise MeasureInputError(
                f"weight layer {i} ({layer}) is not called when the model runs on a training "
                "example, so its input size (needed for its operator norm) is unknown"
            )
        norms.append(kernel_spectral_norm(kernel, layer, spectral, shapes.get(layer)) ** 2)
    return norms


def _check_method(method: str) -> None:
    if method not in SPECTRAL_METHODS:
        raise unknown("spectral estimator", method, SPECTRAL_METHODS)


def _log_spec(run: Run, spectral: SpectralMethod) -> list[float]:
    return layer_logs(spectral_norms_squared(run, spectral), "‖W‖₂²")


def _sum_of_ratios(numerators: Sequence[float], spectral_sq: Sequence[float]) -> float:
    """Σ_i a_i / ‖W_i‖₂²."""
    spectral_sq = require_positive(spectral_sq, "‖W‖₂²")
    return sum(a / s for a, s in zip(numerators, spectral_sq))


@measure(
    "log_prod_of_spec",
    description="Σ_i ln‖W_i‖₂², log of the product of squared spectral norms",
    reference=f"{JIANG}, eq. (32)",
    scale="log",
)
def log_prod_of_spec(run: Run, spectral: SpectralMethod = "reshape") -> float:
    return sum(_log_spec(run, spectral))


@measure(
    "log_prod_of_spec_over_margin",
    description="Σ_i ln‖W_i‖₂² − ln γ²",
    reference=f"{JIANG}, eq. (31)",
    scale="log",
    needs=("train_data",),
    cost="forward",
)
def log_prod_of_spec_over_margin(run: Run, spectral: SpectralMethod = "reshape") -> float:
    margin_term = log_margin_squared(run, "log_prod_of_spec_over_margin")
    return sum(_log_spec(run, spectral)) - margin_term


@measure(
    "log_sum_of_spec",
    description="ln d + (1/d) Σ_i ln‖W_i‖₂²",
    reference=f"{JIANG}, eq. (35)",
    scale="log",
)
def log_sum_of_spec(run: Run, spectral: SpectralMethod = "reshape") -> float:
    return log_sum_form(_log_spec(run, spectral))


@measure(
    "log_sum_of_spec_over_margin",
    description="ln d + (1/d)(Σ_i ln‖W_i‖₂² − ln γ²)",
    reference=f"{JIANG}, eq. (34)",
    scale="log",
    needs=("train_data",),
    cost="forward",
)
def log_sum_of_spec_over_margin(run: Run, spectral: SpectralMethod = "reshape") -> float:
    margin_term = log_margin_squared(run, "log_sum_of_spec_over_margin")
    return log_sum_form(_log_spec(run, spectral), margin_term)


@measure(
    "log_spec_init_main",
    description="Σ_i ln‖W_i‖₂² − ln γ² + ln Σ_i ‖W_i − W_i⁰‖_F² / ‖W_i‖₂²",
    reference=f"{JIANG}, eq. (29); after Bartlett, Foster & Telgarsky 2017",
    scale="log",
    needs=("init", "train_data"),
    cost="forward",
)
def log_spec_init_main(run: Run, spectral: SpectralMethod = "reshape") -> float:
    margin_term = log_margin_squared(run, "log_spec_init_main")
    init = init_weights(run, "log_spec_init_main")
    distances = frobenius_squared([w - w0 for w, w0 in zip(trained_weights(run), init)])
    spectral_sq = spectral_norms_squared(run, spectral)
    ratio = _sum_of_ratios(distances, spectral_sq)
    return (sum(layer_logs(spectral_sq, "‖W‖₂²")) - margin_term
            + log_positive(ratio, "Σ_i ‖W_i − W_i⁰‖_F² / ‖W_i‖₂² (the model equals its init)"))


@measure(
    "log_spec_orig_main",
    description="Σ_i ln‖W_i‖₂² − ln γ² + ln Σ_i ‖W_i‖_F² / ‖W_i‖₂²",
    reference=f"{JIANG}, eq. (30)",
    scale="log",
    needs=("train_data",),
    cost="forward",
)
def log_spec_orig_main(run: Run, spectral: SpectralMethod = "reshape") -> float:
    margin_term = log_margin_squared(run, "log_spec_orig_main")
    spectral_sq = spectral_norms_squared(run, spectral)
    ratio = _sum_of_ratios(frobenius_squared(trained_weights(run)), spectral_sq)
    return sum(layer_logs(spectral_sq, "‖W‖₂²")) - margin_term + math.log(ratio)


@measure(
    "fro_over_spec",
    description="Σ_i ‖W_i‖_F² / ‖W_i‖₂², the sum of the layers' stable ranks",
    reference=f"{JIANG}, eq. (33)",
)
def fro_over_spec(run: Run, spectral: SpectralMethod = "reshape") -> float:
    return _sum_of_ratios(frobenius_squared(trained_weights(run)),
                          spectral_norms_squared(run, spectral))


@measure(
    "dist_spec_init",
    description="Σ_i ‖W_i − W_i⁰‖₂², squared spectral distance from initialization",
    reference=f"{JIANG}, eq. (41)",
    needs=("init",),
)
def dist_spec_init(run: Run, spectral: SpectralMethod = "reshape") -> float:
    init = init_weights(run, "dist_spec_init")
    distances = [w - w0 for w, w0 in zip(trained_weights(run), init)]
    return sum(spectral_norms_squared(run, spectral, kernels=distances))
