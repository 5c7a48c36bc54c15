"""The inverse margin and the margin term of every margin-normalized measure."""

from __future__ import annotations

import copy
import math

import pytest
import torch

from pytest_fragility import measures
from pytest_fragility.errors import MeasureInputError, NegativeMarginError
from pytest_fragility.runs.run import Run
from tests.measures.models import fcn, inputs, numpy_fcn_outputs, numpy_margin, self_labelled_run

MARGIN_MEASURES = (
    "inverse_margin", "log_prod_of_spec_over_margin", "log_sum_of_spec_over_margin",
    "log_spec_init_main", "log_spec_orig_main", "log_prod_of_fro_over_margin",
    "log_sum_of_fro_over_margin", "path_norm_over_margin",
)


@pytest.mark.parametrize("widths", [(4, 6, 1), (4, 6, 3)], ids=["binary", "3-class"])
def test_inverse_margin_is_one_over_the_squared_tenth_percentile_margin(widths):
    model = fcn(widths, seed=3)
    x = inputs((4,), n=73, seed=2)
    run = self_labelled_run(model, x)
    # Relabel a few points so the smallest margins are negative but the 10th
    # percentile (the 7th smallest of 73) stays positive.
    y = run.y_train.clone()
    y[:3] = (y[:3] + 1) % max(2, widths[-1])
    run = Run(model=model, x_train=x, y_train=y)
    gamma = numpy_margin(numpy_fcn_outputs(model, x), y)
    assert gamma > 0
    assert measures.inverse_margin(run) == pytest.approx(gamma**-2, rel=1e-5)


def test_margin_is_not_made_positive_with_abs():
    model = fcn((4, 6, 1), seed=3)
    x = inputs((4,), n=40)
    init = fcn((4, 6, 1), seed=4)
    run = self_labelled_run(model, x, init_model=init)
    flipped = Run(model=model, x_train=x, y_train=1 - run.y_train, init_model=init)
    # Every margin changes sign, so |γ| would be the same for both labelings; only
    # the labeling the net gets right has margin-normalized measures.
    for name in MARGIN_MEASURES:
        assert math.isfinite(measures.get(name)(run))
        with pytest.raises(NegativeMarginError, match="10th-percentile training margin"):
            measures.get(name)(flipped)


@pytest.mark.parametrize("name", MARGIN_MEASURES)
def test_empty_training_data_is_refused(name):
    run = Run(model=fcn((3, 4, 1)), x_train=torch.empty(0, 3), y_train=torch.empty(0),
              init_model=fcn((3, 4, 1), seed=1))
    with pytest.raises(MeasureInputError, match="x_train is empty"):
        measures.get(name)(run)


@pytest.mark.parametrize("name", MARGIN_MEASURES)
def test_model_and_data_on_different_devices_are_refused(name):
    run = Run(model=fcn((3, 4, 1)).to("meta"), x_train=inputs((3,), n=5),
              y_train=torch.zeros(5), init_model=fcn((3, 4, 1), seed=1))
    with pytest.raises(MeasureInputError, match="model is on meta but x_train is on cpu"):
        measures.get(name)(run)


@pytest.mark.parametrize("name", MARGIN_MEASURES)
def test_nan_weights_are_reported_as_nan_not_as_a_bad_margin(name):
    model = fcn((3, 4, 1))
    x = inputs((3,), n=20)
    run = self_labelled_run(model, x, init_model=fcn((3, 4, 1), seed=1))
    with torch.no_grad():
        model[0].bias[1] = float("nan")
    with pytest.raises(MeasureInputError, match="'0.bias' contains NaN"):
        measures.get(name)(run)


def test_dividing_by_the_margin_cancels_the_output_scale():
    x = inputs((4,), n=40)
    model = fcn((4, 6, 5, 1), seed=1)
    scaled = copy.deepcopy(model)
    with torch.no_grad():
        scaled[4].weight.mul_(5.0)
        scaled[4].bias.mul_(5.0)
    run, louder = self_labelled_run(model, x), self_labelled_run(scaled, x)
    assert torch.equal(run.y_train, louder.y_train)
    assert measures.inverse_margin(louder) == pytest.approx(measures.inverse_margin(run) / 25,
                                                            rel=1e-5)
    assert measures.path_norm(louder) == pytest.approx(measures.path_norm(run) * 25, rel=1e-5)
    assert measures.log_prod_of_spec(louder) == pytest.approx(
        measures.log_prod_of_spec(run) + 2 * math.log(5.0), rel=1e-5)
    for name in ("log_prod_of_spec_over_margin", "log_sum_of_spec_over_margin",
                 "log_prod_of_fro_over_margin", "log_sum_of_fro_over_margin",
                 "log_spec_orig_main", "path_norm_over_margin"):
        spec = measures.get(name)
        assert spec(louder) == pytest.approx(spec(run), rel=1e-5, abs=1e-5), name
