"""The output-margin measure and the margin term of margin-normalized measures.

γ is the signed 10th-percentile training margin of `_outputs.margin`. A network that
misclassifies more than a tenth of its training set has γ ≤ 0; every measure that
divides by γ then raises `NegativeMarginError` instead of silently using |γ| as the
reference code did.
"""

from __future__ import annotations

import math

from pytest_fragility.measures._layers import check_finite
from pytest_fragility.measures._outputs import check_inputs, positive_margin
from pytest_fragility.measures.registry import measure
from pytest_fragility.runs.run import Run

JIANG = "Jiang et al. 2020, Fantastic generalization measures and where to find them (ICLR)"


def checked_margin(run: Run, measure_name: str) -> float:
    """γ > 0, after checking the data (empty, device) and then the weights (finite).

    The order matters for the error a user sees: NaN weights give NaN margins, which
    would otherwise be reported as a non-positive margin.
    """
    check_inputs(run.model, run.x_train, run.y_train, "x_train")
    check_finite(run.model)
    return positive_margin(run, measure_name)


def log_margin_squared(run: Run, measure_name: str) -> float:
    """ln γ², the term margin-normalized log measures subtract; γ must be positive."""
    return 2.0 * math.log(checked_margin(run, measure_name))


@measure(
    "inverse_margin",
    description="1/γ², γ the 10th-percentile signed training margin",
    reference=f"{JIANG}, eq. (22)",
    needs=("train_data",),
    cost="forward",
)
def inverse_margin(run: Run) -> float:
    return checked_margin(run, "inverse_margin") ** -2
