"""Which tensors of a model the measures read, found by walking its modules.

"Weights" are the kernels of Linear and Conv layers in module order (biases and
normalization parameters excluded), as in Jiang et al. and Dziugaite et al.
"""

from __future__ import annotations

import torch
from torch import nn

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.runs.run import Run

WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Linear and conv layers of `model`, in the order `model.modules()` visits them."""
    layers = [m for m in model.modules() if isinstance(m, WEIGHT_LAYERS)]
    if not layers:
        raise MeasureInputError(
            f"{type(model).__name__} has no Linear or Conv layer; norm-based measures need one"
        )
    return layers


def check_finite(model: nn.Module, what: str = "model") -> None:
    """Raise naming the first parameter that holds NaN or inf."""
    for name, param in model.named_parameters():
        if not torch.isfinite(param).all():
            raise MeasureInputError(f"{what} parameter {name!r} contains NaN or inf values")


def trained_weights(run: Run) -> list[torch.Tensor]:
    """Weight kernels of the trained model, checked finite, detached."""
    check_finite(run.model)
    return [layer.weight.detach() for layer in weight_layers(run.model)]


def init_weights(run: Run, measure: str) -> list[torch.Tensor]:
    """Weight kernels of the initial model; a clear error when the run has none."""
    if run.init_model is None:
        raise MeasureInputError(
            f"{measure} needs the initial weights but run {run.describe()} has none; "
            "pass init_model= (a copy of the network before training) to pf.Run"
        )
    check_finite(run.init_model, "init_model")
    init = [layer.weight.detach() for layer in weight_layers(run.init_model)]
    trained = trained_weights(run)
    if [w.shape for w in init] != [w.shape for w in trained]:
        raise MeasureInputError(
            f"{measure}: init_model's layers {[tuple(w.shape) for w in init]} do not match "
            f"the model's {[tuple(w.shape) for w in trained]}"
        )
    return [w.to(t.device) for w, t in zip(init, trained)]


def parameter_vector(model: nn.Module) -> torch.Tensor:
    """Every parameter (weights and biases) flattened into one vector."""
    return torch.cat([p.detach().reshape(-1) for p in model.parameters()])
