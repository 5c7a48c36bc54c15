"""The built-in architectures and their initialization.

Fully connected ReLU nets and small CNNs with He-normal weights (std √2/√fan_in,
times the recipe's init scale) and N(0, bias_std²) biases, as in the reference
pipeline. Initialization draws from an explicit generator so a seed gives the same
initial weights on every device and in every process.
"""

from __future__ import annotations

import math
from typing import Sequence

import torch
from torch import nn

from pytest_fragility.errors import unknown
from pytest_fragility.families.recipe import Recipe

CNN_KERNEL = {1: 5, 2: 3}


class FCN(nn.Sequential):
    """Flatten → (Linear → ReLU) × depth → Linear."""

    def __init__(self, in_features: int, width: int, depth: int, out_features: int) -> None:
        layers: list[nn.Module] = [nn.Flatten()]
        fan_in = in_features
        for _ in range(depth):
            layers += [nn.Linear(fan_in, width), nn.ReLU()]
            fan_in = width
        layers.append(nn.Linear(fan_in, out_features))
        super().__init__(*layers)

    @staticmethod
    def batched_forward(params: dict[str, torch.Tensor], x: torch.Tensor) -> torch.Tensor:
        """Forward of E members at once: params (E, ...) stacked, x (E, B, ...) → (E, B, out).

        Batched matmuls (`baddbmm`) are much faster than vmap for this shape.
        """
        h = x.reshape(x.shape[0], x.shape[1], -1)
        names = sorted({k.split(".")[0] for k in params}, key=int)
        for i, name in enumerate(names):
            weight, bias = params[f"{name}.weight"], params[f"{name}.bias"]
            h = torch.baddbmm(bias.unsqueeze(1), h, weight.transpose(1, 2))
            if i < len(names) - 1:
                h = h.relu()
        return h


class CNN(nn.Sequential):
    """(Conv stride 2 → ReLU) × depth → Flatten → Linear, 1-D or 2-D by input rank."""

    def __init__(self, input_shape: Sequence[int], width: int, depth: int, out_features: int) -> None:
        dims = len(input_shape) - 1
        if dims not in CNN_KERNEL:
            raise ValueError(f"CNN needs (C, L) or (C, H, W) inputs, got shape {tuple(input_shape)}")
        conv = nn.Conv1d if dims == 1 else nn.Conv2d
        kernel = CNN_KERNEL[dims]
        layers: list[nn.Module] = []
        channels = input_shape[0]
        for _ in range(depth):
            layers += [conv(channels, width, kernel, stride=2, padding=kernel // 2), nn.ReLU()]
            channels = width
        body = nn.Sequential(*layers)
        with torch.no_grad():
            flat = body(torch.zeros(1, *input_shape)).numel()
        super().__init__(*layers, nn.Flatten(), nn.Linear(flat, out_features))


def initialize(model: nn.Module, generator: torch.Generator, init_scale: float, bias_std: float) -> None:
    """He-normal weights (fan-in) and N(0, bias_std²) biases, in module order."""
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, (nn.Linear, nn.Conv1d, nn.Conv2d)):
                fan_in = module.weight[0].numel()
                std = init_scale * math.sqrt(2.0 / fan_in)
                module.weight.normal_(0.0, std, generator=generator)
                if module.bias is not None:
                    module.bias.normal_(0.0, bias_std, generator=generator)


def build_model(recipe: Recipe, input_shape: Sequence[int], num_outputs: int) -> nn.Module:
    """An uninitialized built-in network for `recipe` (weights still torch's defaults)."""
    if recipe.arch == "fcn":
        return FCN(math.prod(input_shape), recipe.width, recipe.depth, num_outputs)
    if recipe.arch == "cnn":
        return CNN(input_shape, recipe.width, recipe.depth, num_outputs)
    raise unknown("architecture", recipe.arch, ("fcn", "cnn"))


def output_units(num_classes: int) -> int:
    """One logit for a binary task, one per class otherwise."""
    return 1 if num_classes == 2 else num_classes
