"""The (squared ℓ2) path norm and path norm over margin.

For a ReLU network, Σ over every path p from an input unit to an output unit of
Π_{w ∈ p} w² equals the summed output of a copy of the network whose parameters are
all squared, run on an all-ones input: with non-negative parameters every ReLU is
the identity, so the copy is a product of non-negative matrices (Neyshabur, Tomioka
& Srebro 2015; Jiang et al. 2020, eq. 44).

Biases are squared too, as in the reference pipeline: a bias b_j of a hidden unit
starts paths of its own, each contributing b_j² times the squared weights from that
unit to the output. The identity holds for networks built from Linear/conv layers,
ReLU-like activations (identity on non-negative inputs) and average pooling.
Normalization layers are not linear in their parameters, so a model that has one is
rejected: fold them into the preceding layer first.
"""

from __future__ import annotations

import copy
from collections.abc import Sequence

import torch
from torch import nn
from torch.nn.utils import parametrize

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures._layers import check_finite
from pytest_fragility.measures._outputs import check_inputs
from pytest_fragility.measures.margin import JIANG, checked_margin
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run

NEYSHABUR = "Neyshabur, Tomioka & Srebro 2015, Norm-based capacity control in neural networks"

_NORMALIZATION = (
    nn.BatchNorm1d, nn.BatchNorm2d, nn.BatchNorm3d, nn.SyncBatchNorm,
    nn.InstanceNorm1d, nn.InstanceNorm2d, nn.InstanceNorm3d,
    nn.LayerNorm, nn.GroupNorm, nn.LocalResponseNorm,
)


def squared_path_norm(model: nn.Module, input_shape: Sequence[int]) -> float:
    """Σ_paths Π w² (biases included) of `model` for inputs of one example's shape.

    Computed in float64 on a squared copy; `model` itself is left untouched.
    """
    for name, module in model.named_modules():
        if isinstance(module, _NORMALIZATION):
            raise MeasureInputError(
                f"path norm: {name or 'the model'} is a {type(module).__name__}, which is not "
                "linear in its parameters; fold it into the preceding layer first"
            )
        if parametrize.is_parametrized(module):
            raise MeasureInputError(
                f"path norm: {name or 'the model'} has parametrized weights; squaring the "
                "stored originals would not square the weights it uses. Remove the "
                "parametrizations first (torch.nn.utils.parametrize.remove_parametrizations)"
            )
    squared = copy.deepcopy(model).double().eval()
    with torch.no_grad():
        for param in squared.parameters():
            param.square_()
        device = next((p.device for p in squared.parameters()), torch.device("cpu"))
        ones = torch.ones((1, *input_shape), dtype=torch.float64, device=device)
        return squared(ones).sum().item()


def _path_norm(run: Run) -> float:
    check_inputs(run.model, run.x_train, None, "x_train")
    check_finite(run.model)
    return squared_path_norm(run.model, run.x_train[0].shape)


@measure(
    "path_norm",
    description="Σ over input→output paths (and paths starting at a bias) of Π w²: "
    "summed output of the squared-parameter net on an all-ones input",
    reference=f"{JIANG}, eq. (44); {NEYSHABUR}",
    needs=("train_data",),
    cost="forward",
)
def path_norm(run: Run) -> float:
    return _path_norm(run)


@measure(
    "path_norm_over_margin",
    description="path_norm / γ²",
    reference=f"{JIANG}, eq. (43)",
    needs=("train_data",),
    cost="forward",
)
def path_norm_over_margin(run: Run) -> float:
    gamma = checked_margin(run, "path_norm_over_margin")
    return _path_norm(run) / gamma**2
