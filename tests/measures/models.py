"""Small hand-built networks, function-preserving edits and numpy views of them,
shared by the measure tests.

Builders are deterministic in `seed` and return float32 modules, as trained networks
are. The numpy views recompute outputs and margins without the library, for tests
that check a measure against its formula. Other test modules import these functions:
keep their signatures stable.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import numpy as np
import torch
from torch import nn

from pytest_fragility.runs.run import Run

_WEIGHT_LAYERS = (nn.Linear, nn.Conv1d, nn.Conv2d, nn.Conv3d)


def fcn(widths: Sequence[int], *, bias: bool = True, seed: int = 0) -> nn.Sequential:
    """ReLU net Linear(widths[0]→widths[1]), ReLU, …, Linear(→widths[-1]); no final ReLU."""
    if len(widths) < 2:
        raise ValueError(f"fcn needs at least an input and an output width, got {widths}")
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        for fan_in, fan_out in zip(widths[:-1], widths[1:]):
            layers += [nn.Linear(fan_in, fan_out, bias=bias), nn.ReLU()]
        return nn.Sequential(*layers[:-1])


def conv1d_net(
    in_channels: int = 2,
    length: int = 7,
    channels: Sequence[int] = (3, 2),
    *,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 1,
    outputs: int = 1,
    bias: bool = True,
    seed: int = 0,
) -> nn.Sequential:
    """Conv1d, ReLU, … (one conv per entry of `channels`), Flatten, Linear(→outputs).

    Inputs have shape (batch, in_channels, length).
    """
    return _conv_net(nn.Conv1d, in_channels, (length,), channels, kernel_size, stride,
                     padding, outputs, bias, seed)


def conv2d_net(
    in_channels: int = 2,
    size: tuple[int, int] = (5, 6),
    channels: Sequence[int] = (3, 2),
    *,
    kernel_size: int = 3,
    stride: int = 1,
    padding: int = 1,
    outputs: int = 1,
    bias: bool = True,
    seed: int = 0,
) -> nn.Sequential:
    """Conv2d, ReLU, … (one conv per entry of `channels`), Flatten, Linear(→outputs).

    Inputs have shape (batch, in_channels, height, width).
    """
    return _conv_net(nn.Conv2d, in_channels, tuple(size), channels, kernel_size, stride,
                     padding, outputs, bias, seed)


def _conv_net(
    conv: type[nn.Module],
    in_channels: int,
    spatial: tuple[int, ...],
    channels: Sequence[int],
    kernel_size: int,
    stride: int,
    padding: int,
    outputs: int,
    bias: bool,
    seed: int,
) -> nn.Sequential:
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        layers: list[nn.Module] = []
        previous = in_channels
        for width in channels:
            layers += [conv(previous, width, kernel_size, stride=stride, padding=padding,
                            bias=bias), nn.ReLU()]
            previous = width
            spatial = tuple((s + 2 * padding - kernel_size) // stride + 1 for s in spatial)
        flat = previous * int(torch.tensor(spatial).prod())
        layers += [nn.Flatten(), nn.Linear(flat, outputs, bias=bias)]
        return nn.Sequential(*layers)


def inputs(shape: Sequence[int], n: int = 40, *, seed: int = 0) -> torch.Tensor:
    """n standard-normal examples of the given per-example shape."""
    generator = torch.Generator().manual_seed(seed)
    return torch.randn((n, *shape), generator=generator)


def self_labelled_run(
    model: nn.Module, x: torch.Tensor, *, init_model: nn.Module | None = None
) -> Run:
    """A run labelled by the model's own predictions, so no training margin is negative."""
    with torch.no_grad():
        out = model(x)
    labels = (out.reshape(-1) > 0).long() if out.shape[1] == 1 else out.argmax(dim=1)
    return Run(model=model, x_train=x, y_train=labels, init_model=init_model)


def weight_layers(model: nn.Module) -> list[nn.Module]:
    """Linear and conv layers in module order (the tests' own copy of the library's rule)."""
    return [m for m in model.modules() if isinstance(m, _WEIGHT_LAYERS)]


def rescale_hidden(model: nn.Module, layer: int, alpha: float) -> nn.Module:
    """Copy with weight layer `layer` (and its bias) times α and the next layer's weight / α.

    For α > 0 and a ReLU (or any positively homogeneous map) in between, the network
    computes the same function.
    """
    if alpha <= 0:
        raise ValueError(f"alpha must be positive to preserve a ReLU net's function, got {alpha}")
    rescaled = copy.deepcopy(model)
    first, second = weight_layers(rescaled)[layer : layer + 2]
    with torch.no_grad():
        first.weight.mul_(alpha)
        if first.bias is not None:
            first.bias.mul_(alpha)
        second.weight.div_(alpha)
    return rescaled


def permute_hidden(model: nn.Module, layer: int, permutation: Sequence[int]) -> nn.Module:
    """Copy with the output units (channels) of weight layer `layer` permuted.

    The next weight layer's inputs are permuted to match, so the function is unchanged.
    Both layers must be Linear, or both conv (the next layer reads the permuted units
    along its dimension 1).
    """
    permuted = copy.deepcopy(model)
    first, second = weight_layers(permuted)[layer : layer + 2]
    if isinstance(first, nn.Linear) != isinstance(second, nn.Linear):
        raise ValueError("permute_hidden needs two Linear layers or two conv layers")
    order = torch.as_tensor(list(permutation))
    with torch.no_grad():
        first.weight.copy_(first.weight[order])
        if first.bias is not None:
            first.bias.copy_(first.bias[order])
        second.weight.copy_(second.weight[:, order])
    return permuted


def numpy_kernels(model: nn.Module) -> list[np.ndarray]:
    """Weight kernels in float64, each reshaped to (out, rest)."""
    return [layer.weight.detach().double().numpy().reshape(layer.weight.shape[0], -1)
            for layer in weight_layers(model)]


def numpy_fcn_outputs(model: nn.Sequential, x: torch.Tensor) -> np.ndarray:
    """Outputs of a Linear/ReLU `fcn` recomputed in float64 numpy, shape (n, outputs)."""
    h = x.double().numpy()
    for module in model:
        if isinstance(module, nn.Linear):
            h = h @ module.weight.detach().double().numpy().T
            if module.bias is not None:
                h = h + module.bias.detach().double().numpy()
        elif isinstance(module, nn.ReLU):
            h = np.maximum(h, 0.0)
        else:
            raise TypeError(f"numpy_fcn_outputs handles Linear and ReLU, not {module}")
    return h


def numpy_margin(outputs: np.ndarray, labels: torch.Tensor, quantile: float = 0.1) -> float:
    """The k-th smallest signed margin, k = max(1, ⌊quantile·n⌋).

    One output: (2y − 1)·f(x). K outputs: correct logit minus the best other logit.
    """
    y = labels.numpy()
    if outputs.shape[1] == 1:
        margins = (2 * y - 1) * outputs[:, 0]
    else:
        rows = np.arange(len(y))
        correct = outputs[rows, y]
        others = outputs.copy()
        others[rows, y] = -np.inf
        margins = correct - others.max(axis=1)
    k = max(1, int(quantile * len(margins)))
    return float(np.sort(margins)[k - 1])
