"""Parameter-count, Frobenius-norm and distance-from-initialization measures.

"Weights" are the Linear/Conv kernels of `_layers.weight_layers` (biases excluded);
d is their number. Norms are computed in float64. The ``log_*`` measures are on a
log scale; their "sum" variants are ln d plus the mean of the per-layer logs, i.e.
ln(d · geometric mean), as in Jiang et al. (2020), Appendix C.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch

from pytest_fragility.errors import MeasureInputError
from pytest_fragility.measures._layers import init_weights, trained_weights
from pytest_fragility.measures.margin import JIANG, log_margin_squared
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run


def frobenius_squared(weights: Sequence[torch.Tensor]) -> list[float]:
    """‖W_i‖_F² of each kernel, in float64."""
    return [w.double().pow(2).sum().item() for w in weights]


def log_positive(value: float, what: str) -> float:
    """ln(value), with an error naming `what` instead of −inf or NaN when value ≤ 0."""
    if not value > 0:
        raise MeasureInputError(f"{what} is {value!r}, so its logarithm is undefined")
    return math.log(value)


def require_positive(values: Sequence[float], what: str) -> list[float]:
    """The per-layer values, after checking each is positive (a layer of zeros is not)."""
    for i, value in enumerate(values):
        if not value > 0:
            raise MeasureInputError(
                f"{what} of weight layer {i} is {value!r}; the measure takes its logarithm "
                "or divides by it, so every weight layer must be nonzero"
            )
    return list(values)


def layer_logs(values: Sequence[float], what: str) -> list[float]:
    """ln of one positive per-layer quantity for every layer; names the layer that is 0."""
    return [math.log(v) for v in require_positive(values, what)]


def log_sum_form(logs: Sequence[float], log_margin_sq: float = 0.0) -> float:
    """ln d + (1/d)(Σ_i logs_i − ln γ²): Jiang's balanced-layer ("sum") form."""
    d = len(logs)
    return math.log(d) + (sum(logs) - log_margin_sq) / d


def _distances(run: Run, measure_name: str) -> list[torch.Tensor]:
    init = init_weights(run, measure_name)
    return [w - w0 for w, w0 in zip(trained_weights(run), init)]


@measure(
    "params",
    description="number of weight parameters ω (Linear/Conv kernels, biases excluded)",
    reference=f"{JIANG}, eq. (20)",
)
def params(run: Run) -> float:
    return float(sum(w.numel() for w in trained_weights(run)))


@measure(
    "param_norm",
    description="Σ_i ‖W_i‖_F², squared ℓ2 norm of the weights",
    reference=f"{JIANG}, eq. (42)",
)
def param_norm(run: Run) -> float:
    return sum(frobenius_squared(trained_weights(run)))


@measure(
    "l2",
    description="‖w‖₂, ℓ2 norm of all weights (not squared)",
    reference="Dziugaite et al. 2020, In search of robust measures of generalization (NeurIPS), L2",
)
def l2(run: Run) -> float:
    return math.sqrt(sum(frobenius_squared(trained_weights(run))))


@measure(
    "l2_dist",
    description="‖w − w⁰‖₂, ℓ2 distance of the weights from initialization (not squared)",
    reference="Dziugaite et al. 2020, In search of robust measures of generalization "
    "(NeurIPS), L2_DIST",
    needs=("init",),
)
def l2_dist(run: Run) -> float:
    return math.sqrt(sum(frobenius_squared(_distances(run, "l2_dist"))))


@measure(
    "fro_dist",
    description="Σ_i ‖W_i − W_i⁰‖_F², squared Frobenius distance from initialization",
    reference=f"{JIANG}, eq. (40)",
    needs=("init",),
)
def fro_dist(run: Run) -> float:
    return sum(frobenius_squared(_distances(run, "fro_dist")))


@measure(
    "log_prod_of_fro",
    description="Σ_i ln‖W_i‖_F², log of the product of squared Frobenius norms",
    reference=f"{JIANG}, eq. (37)",
    scale="log",
)
def log_prod_of_fro(run: Run) -> float:
    return sum(layer_logs(frobenius_squared(trained_weights(run)), "‖W‖_F²"))


@measure(
    "log_prod_of_fro_over_margin",
    description="Σ_i ln‖W_i‖_F² − ln γ²",
    reference=f"{JIANG}, eq. (36)",
    scale="log",
    needs=("train_data",),
    cost="forward",
)
def log_prod_of_fro_over_margin(run: Run) -> float:
    margin_term = log_margin_squared(run, "log_prod_of_fro_over_margin")
    return sum(layer_logs(frobenius_squared(trained_weights(run)), "‖W‖_F²")) - margin_term


@measure(
    "log_sum_of_fro",
    description="ln d + (1/d) Σ_i ln‖W_i‖_F²",
    reference=f"{JIANG}, eq. (39)",
    scale="log",
)
def log_sum_of_fro(run: Run) -> float:
    return log_sum_form(layer_logs(frobenius_squared(trained_weights(run)), "‖W‖_F²"))


@measure(
    "log_sum_of_fro_over_margin",
    description="ln d + (1/d)(Σ_i ln‖W_i‖_F² − ln γ²)",
    reference=f"{JIANG}, eq. (38)",
    scale="log",
    needs=("train_data",),
    cost="forward",
)
def log_sum_of_fro_over_margin(run: Run) -> float:
    margin_term = log_margin_squared(run, "log_sum_of_fro_over_margin")
    logs = layer_logs(frobenius_squared(trained_weights(run)), "‖W‖_F²")
    return log_sum_form(logs, margin_term)
