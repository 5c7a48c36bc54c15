"""Function-preserving reparameterizations of trained ReLU networks.

Rescaling a layer's weights and bias by α and the next layer's weights by 1/α, or
permuting hidden units, leaves the network's function unchanged (ReLU is positively
homogeneous). A measure meant to explain generalization should not change either;
flatness and norm measures famously do (Dinh et al. 2017).
"""

from __future__ import annotations

import copy
from dataclasses import dataclass
from typing import Any, Callable

import torch
from torch import nn

from pytest_fragility.runs.run import Run

WEIGHT = (nn.Linear, nn.Conv1d, nn.Conv2d)
HOMOGENEOUS = (nn.ReLU, nn.Flatten, nn.Identity)


@dataclass(frozen=True)
class Reparameterization:
    """A named function-preserving change, applied to a copy of a run's models."""

    name: str
    apply: Callable[[nn.Module, nn.Module | None], tuple[nn.Module, nn.Module | None]]


def adjacent_layers(model: nn.Module) -> list[tuple[int, int, bool]]:
    """Pairs (i, j) of weight layers in a Sequential with only positively homogeneous modules
    between them; the flag says whether hidden units can be permuted (no Flatten between)."""
    if not isinstance(model, nn.Sequential):
        return []
    modules = list(model)
    pairs = []
    for i, layer in enumerate(modules):
        if not isinstance(layer, WEIGHT):
            continue
        for j in range(i + 1, len(modules)):
            if isinstance(modules[j], WEIGHT):
                between = modules[i + 1:j]
                if all(isinstance(b, HOMOGENEOUS) for b in between) and any(isinstance(b, nn.ReLU) for b in between):
                    pairs.append((i, j, not any(isinstance(b, nn.Flatten) for b in between)))
                break
            if not isinstance(modules[j], HOMOGENEOUS):
                break
    return pairs


def rescale(i: int, j: int, alpha: float) -> Reparameterization:
    """Layer i (weights and bias) × α, layer j's weights × 1/α; the init model is unchanged."""
    def apply(model: nn.Module, init: nn.Module | None) -> tuple[nn.Module, nn.Module | None]:
        model = copy.deepcopy(model)
        with torch.no_grad():
            model[i].weight.mul_(alpha)
            if model[i].bias is not None:
                model[i].bias.mul_(alpha)
            model[j].weight.div_(alpha)
        return model, init

    return Reparameterization(f"rescale layers {i},{j} by α={alpha:g}", apply)


def permute(i: int, j: int, seed: int = 0) -> Reparameterization:
    """Permute the output units of layer i and the matching inputs of layer j, in the
    trained and the initial model alike (unit k of one corresponds to unit k of the other)."""
    def apply(model: nn.Module, init: nn.Module | None) -> tuple[nn.Module, nn.Module | None]:
        units = model[i].weight.shape[0]
        perm = torch.randperm(units, generator=torch.Generator().manual_seed(seed))
        return _permuted(model, i, j, perm), None if init is None else _permuted(init, i, j, perm)

    return Reparameterization(f"permute units of layer {i}", apply)


def _permuted(model: nn.Module, i: int, j: int, perm: torch.Tensor) -> nn.Module:
    model = copy.deepcopy(model)
    with torch.no_grad():
        model[i].weight.copy_(model[i].weight[perm.to(model[i].weight.device)])
        if model[i].bias is not None:
            model[i].bias.copy_(model[i].bias[perm.to(model[i].bias.device)])
        model[j].weight.copy_(model[j].weight[:, perm.to(model[j].weight.device)])
    return model


def reparameterizations(model: nn.Module, alpha: float) -> list[Reparameterization]:
    """The invariance check's transformations for this model (empty if unsupported)."""
    out = []
    for i, j, permutable in adjacent_layers(model):
        out.append(rescale(i, j, alpha))
        if permutable:
            out.append(permute(i, j))
    return out


def transformed_run(run: Run, change: Reparameterization) -> Run:
    """A copy of `run` with reparameterized models, its own copy of the data, and the same records."""
    def own(tensor: Any) -> Any:
        return None if tensor is None else tensor.clone()

    model, init = change.apply(run.model, run.init_model)
    return Run(model=model, x_train=own(run.x_train), y_train=own(run.y_train), x_test=own(run.x_test),
               y_test=own(run.y_test), init_model=init, m=run.m, seed=run.seed,
               variant=f"{run.variant} ({change.name})", family=run.family, recipe=run.recipe,
               train_error=run.train_error, test_error=run.test_error, converged=run.converged,
               epochs=run.epochs)
