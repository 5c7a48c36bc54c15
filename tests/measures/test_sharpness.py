"""Worst-case sharpness α search and bounds, checked against closed forms and numpy."""

from __future__ import annotations

import copy
import math

import numpy as np
import pytest
import torch
from torch import nn
from torch.nn.utils import vector_to_parameters

import pytest_fragility.measures as measures
from pytest_fragility.errors import ConfigurationError, MeasureInputError
from pytest_fragility.measures._perturbed import FlatModel
from pytest_fragility.measures.sharpness import (
    SHARPNESS_EPSILON,
    box_half_width,
    sharpness_search,
    worst_case_perturbations,
)
from pytest_fragility.runs.run import Run
from tests.measures.models import conv1d_net, inputs, rescale_hidden, self_labelled_run
from tests.measures.test_pacbayes import flat_numpy, same_run, trained_relu_run

# Fewer restarts, steps and a looser tolerance than the defaults keep these tests fast;
# what they check (formulas, memo, seeding, invariance) does not depend on them.
QUICK = {"restarts": 1, "steps": 2, "rtol": 0.05}


@pytest.fixture(scope="module")
def relu_run() -> Run:
    return trained_relu_run()


def boundary_run(n: int = 100) -> Run:
    """f(x) = x (w = 1, b = 0) on 1-D points ±(i − ½)/n, labelled by their sign."""
    positive = (torch.arange(1, n + 1, dtype=torch.float32) - 0.5) / n
    x = torch.cat([positive, -positive])[:, None]
    model = nn.Linear(1, 1)
    with torch.no_grad():
        model.weight.fill_(1.0)
        model.bias.fill_(0.0)
    return Run(model=model, x_train=x, y_train=(x[:, 0] > 0).long())


# -- the α search --------------------------------------------------------------------------
@pytest.mark.parametrize("magnitude_aware", [False, True])
def test_alpha_matches_the_worst_case_of_a_one_dimensional_classifier(magnitude_aware):
    # With |u_w| ≤ r_w and |u_b| ≤ r_b, the boundary −(b + u_b)/(w + u_w) moves at most
    # t = r_b/(1 − r_w) away from 0, flipping the points in (0, t). A drop of 0.1 needs
    # 20 of the 200 points, the 20th sits at 0.195: t = 0.195.
    # Plain box r_w = r_b = α: α/(1 − α) = t. Magnitude-aware r_w = α + ε, r_b = ε:
    # ε/(1 − α − ε) = t.
    t, eps = 0.195, 1e-3  # an ε large enough to matter in one dimension
    expected = 1 - eps * (1 + 1 / t) if magnitude_aware else t / (1 + t)
    # Sign ascent with step 2.5·r/3 reaches a corner of the 2-D box within three steps.
    search = sharpness_search(boundary_run(), magnitude_aware=magnitude_aware, rtol=1e-4,
                              restarts=2, steps=3, epsilon=eps)
    assert search.alpha == pytest.approx(expected, rel=3e-4)
    assert search.accuracy_drop == pytest.approx(0.1)


def test_ascent_stays_in_the_box_and_raises_the_loss(relu_run):
    flat = FlatModel(relu_run.model)
    x, y = relu_run.x_train, relu_run.y_train
    starts = 2 * torch.rand(3, flat.size, generator=torch.Generator().manual_seed(0)) - 1
    for magnitude_aware in (False, True):
        half_width = box_half_width(flat.vector, 0.05, magnitude_aware)
        expected = 0.05 * flat.vector.abs() + SHARPNESS_EPSILON if magnitude_aware else 0.05
        assert torch.allclose(half_width, torch.as_tensor(expected).expand_as(half_width))

        u = worst_case_perturbations(flat, starts, half_width, steps=5, x=x, y=y)
        assert (u.abs() <= half_width * (1 + 1e-6)).all()
        for start, end in zip(starts * half_width, u):
            assert loss_at(relu_run, flat.vector + end) > loss_at(relu_run, flat.vector + start)


def loss_at(run: Run, vector: torch.Tensor) -> float:
    model = copy.deepcopy(run.model)
    vector_to_parameters(vector, model.parameters())
    with torch.no_grad():
        out = model(run.x_train)[:, 0]
    return nn.functional.binary_cross_entropy_with_logits(out, run.y_train.float()).item()


def test_forward_passes_count_the_perturbed_evaluations(monkeypatch):
    evaluated: list[int] = []
    for method in ("accuracies", "loss_gradients"):
        original = getattr(FlatModel, method)

        def counting(self, vectors, x, y, _original=original):
            evaluated.append(len(vectors))
            return _original(self, vectors, x, y)

        monkeypatch.setattr(FlatModel, method, counting)
    search = sharpness_search(boundary_run(), restarts=2, steps=4)
    perturbed = sum(evaluated) - 1  # one clean evaluation
    assert search.forward_passes == search.iterations * 2 * (4 + 1) == perturbed


def test_one_search_is_shared_by_the_measures_of_a_variant(monkeypatch, relu_run):
    run = same_run(relu_run)
    calls: list[int] = []
    original = FlatModel.accuracies
    monkeypatch.setattr(FlatModel, "accuracies",
                        lambda self, v, x, y: calls.append(1) or original(self, v, x, y))
    measures.sharpness_orig(run, **QUICK)
    after_first = len(calls)
    measures.sharpness_init(run, **QUICK)
    measures.sharpness_flatness(run, **QUICK)
    assert len(calls) == after_first > 0


def test_same_seed_same_alpha_other_seed_slightly_different(relu_run):
    def fresh(seed: int) -> float:
        return sharpness_search(same_run(relu_run), seed=seed, **QUICK).alpha

    alpha, other = fresh(3), fresh(4)
    assert fresh(3) == alpha
    assert other != alpha
    assert other == pytest.approx(alpha, rel=0.3)


def test_works_on_a_convolutional_net():
    model = conv1d_net(seed=5)
    run = self_labelled_run(model, inputs((2, 7), n=60, seed=5))
    search = sharpness_search(run, magnitude_aware=True, **QUICK)
    assert search.alpha > 0 and search.accuracy_drop >= 0.1
    assert search.examples == 60


# -- the bounds against a direct numpy computation ----------------------------------------
def test_bounds_match_numpy(relu_run):
    run = relu_run
    alpha = sharpness_search(run, **QUICK).alpha
    alpha_mag = sharpness_search(run, magnitude_aware=True, **QUICK).alpha
    w = flat_numpy(run.model)
    w0 = flat_numpy(run.init_model)
    omega, m, eps = w.size, len(run.x_train), SHARPNESS_EPSILON
    log2w = np.log(2 * omega)

    def plain(v: np.ndarray) -> float:  # eqs. 50–51 with σ′ = α/√ln(2ω)
        sigma = alpha / np.sqrt(log2w)
        return (v**2).sum() * log2w / (4 * alpha**2) + np.log(m / sigma) + 10

    def mag(v: np.ndarray, d: np.ndarray) -> float:  # eqs. 58–59 with σ′ = α/(2√ln(2ω))
        a = alpha_mag
        numerator = eps**2 + (a**2 + 4 * log2w) * (v**2).sum() / omega
        sigma = a / (2 * np.sqrt(log2w))
        return 0.25 * np.log(numerator / (eps**2 + a**2 * d**2)).sum() + np.log(m / sigma) + 10

    expected = {
        "sharpness_orig": plain(w),
        "sharpness_init": plain(w - w0),
        "sharpness_flatness": 1 / alpha**2,
        "sharpness_mag_orig": mag(w, w),
        "sharpness_mag_init": mag(w - w0, w - w0),
        "sharpness_mag_flatness": 1 / alpha_mag**2,
    }
    for name, value in expected.items():
        spec = measures.get(name)
        assert spec(run, **QUICK) == pytest.approx(value, rel=1e-9), name
        assert spec(run, form="bound", **QUICK) == pytest.approx(math.sqrt(value / m)), name


# -- known fragility: not invariant under ReLU rescaling -----------------------------------
def test_relu_rescaling_changes_alpha(relu_run):
    rescaled = same_run(relu_run, model=rescale_hidden(relu_run.model, 0, 4.0))
    with torch.no_grad():
        assert torch.allclose(rescaled.model(relu_run.x_train), relu_run.model(relu_run.x_train),
                              atol=1e-5)
    alpha = sharpness_search(relu_run, **QUICK).alpha
    assert sharpness_search(rescaled, **QUICK).alpha != pytest.approx(alpha, rel=0.05)


# -- bad input -----------------------------------------------------------------------------
def test_nan_weights_name_the_parameter():
    run = boundary_run()
    with torch.no_grad():
        run.model.bias.fill_(float("nan"))
    with pytest.raises(MeasureInputError, match="bias"):
        measures.sharpness_orig(run)


def test_empty_training_data_is_an_error():
    run = Run(model=nn.Linear(3, 1), x_train=torch.zeros(0, 3), y_train=torch.zeros(0))
    with pytest.raises(MeasureInputError, match="empty"):
        measures.sharpness_flatness(run)


def test_init_measures_need_the_initial_model():
    with pytest.raises(MeasureInputError, match="init_model"):
        measures.sharpness_mag_init(boundary_run())


@pytest.mark.parametrize("options", [{"restarts": 0}, {"steps": -1}, {"target_drop": 0}])
def test_bad_options_name_the_option(options):
    with pytest.raises(ConfigurationError, match=next(iter(options))):
        sharpness_search(boundary_run(), **options)
