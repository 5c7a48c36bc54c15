"""Function-preserving reparameterizations and the invariance check of the audit.

On the tiny trained family of tests/helpers.py: the transformations leave the network's
outputs unchanged, path norm is invariant, the weight norm changes by the amount computed
here from the weights, and toy (model-free) runs give an inconclusive check with a reason.
"""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch
from torch import nn

from pytest_fragility.auditing.engine import audit
from pytest_fragility.auditing.verdict import ERROR, FRAGILE, INCONCLUSIVE, STABLE
from pytest_fragility.measures.registry import MeasureSpec
from pytest_fragility.runs.reparameterize import adjacent_layers, permute, reparameterizations, rescale, transformed_run
from pytest_fragility.testing import ClosedFormFamily
from tests.helpers import toy_family

ALPHA = 4.0  # the default invariance_alpha


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny trained family, its cache folder and its runs (trained once per module)."""
    torch.set_num_threads(1)
    family = toy_family("invariance-toy")
    cache = tmp_path_factory.mktemp("invariance-cache")
    return family, cache, family.runs("tiny", cache=cache, progress=False)


def invariance_rows(result):
    return {c.variant: c for c in result.checks if c.check == "invariance"}


# -- the transformations ----------------------------------------------------------------------
def test_reparameterizations_preserve_the_function_of_a_trained_net(trained):
    _, _, runs = trained
    run = runs[-1]
    changes = reparameterizations(run.model, ALPHA)
    assert [c.name for c in changes] == [
        "rescale layers 1,3 by α=4", "permute units of layer 1",
        "rescale layers 3,5 by α=4", "permute units of layer 3"]
    x = torch.cat([run.x_train, run.x_test])
    with torch.no_grad():
        reference = run.model(x)
        for change in changes:
            moved = transformed_run(run, change)
            assert torch.allclose(moved.model(x), reference, rtol=1e-5, atol=1e-5), change.name
            changed = any(not torch.equal(a, b) for a, b in zip(moved.model.parameters(), run.model.parameters()))
            assert changed, f"{change.name} left every parameter as it was"
    # The original run is untouched.
    with torch.no_grad():
        assert torch.equal(run.model(x), reference)


def test_permutation_moves_the_init_model_with_the_trained_one(trained):
    _, _, runs = trained
    run = runs[-1]
    moved = transformed_run(run, permute(1, 3, seed=5))
    for model in ("model", "init_model"):
        before, after = getattr(run, model), getattr(moved, model)
        # Rows of layer 1 and columns of layer 3 are a permutation of the originals, the same one.
        rows_before, rows_after = before[1].weight.detach(), after[1].weight.detach()
        perm = [int(torch.where((rows_before == row).all(dim=1))[0][0]) for row in rows_after]
        assert sorted(perm) == list(range(len(perm))) and perm != list(range(len(perm)))
        assert torch.equal(after[3].weight, before[3].weight[:, perm])
        assert torch.equal(after[1].bias, before[1].bias[perm])
    rescaled = transformed_run(run, rescale(1, 3, ALPHA))
    assert rescaled.init_model is run.init_model  # rescaling changes the trained weights only


def test_adjacent_layers_of_a_cnn_and_of_unsupported_models():
    torch.manual_seed(0)
    cnn = nn.Sequential(nn.Conv1d(1, 4, 3, padding=1), nn.ReLU(), nn.Conv1d(4, 4, 3, padding=1), nn.ReLU(),
                        nn.Flatten(), nn.Linear(4 * 6, 3))
    assert adjacent_layers(cnn) == [(0, 2, True), (2, 5, False)]
    x = torch.randn(5, 1, 6)
    with torch.no_grad():
        for change in reparameterizations(cnn, 3.0):
            model, _ = change.apply(cnn, None)
            assert torch.allclose(model(x), cnn(x), atol=1e-5), change.name
    # A non-homogeneous module between two layers, a linear net without ReLU, a non-Sequential.
    assert adjacent_layers(nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 2))) == []
    assert adjacent_layers(nn.Sequential(nn.Linear(3, 4), nn.Linear(4, 2))) == []
    assert adjacent_layers(nn.ModuleList([nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)])) == []


# -- the check in an audit ------------------------------------------------------------------
def test_path_norm_is_invariant(trained):
    family, cache, _ = trained
    result = audit("path_norm", family, budget="tiny", cache=cache, checks=["invariance"], progress=False)
    rows = invariance_rows(result)
    assert len(rows) == 4
    assert {r.verdict for r in rows.values()} == {STABLE}
    assert all(r.details["worst_change"] < 1e-5 for r in rows.values())
    assert result.verdict == STABLE


@pytest.mark.parametrize("name", ["param_norm", "l2"])
def test_weight_norms_change_under_rescaling_by_the_amount_the_weights_say(trained, name):
    family, cache, runs = trained
    result = audit(name, family, budget="tiny", cache=cache, checks=["invariance"], progress=False)
    rows = invariance_rows(result)
    assert rows["permute units of layer 1"].verdict == STABLE
    assert rows["permute units of layer 3"].verdict == STABLE
    assert result.verdict == FRAGILE
    # Σ‖W‖² after rescaling layers (i, j) by (α, 1/α); both measures' bound forms scale as
    # its square root (param_norm: √(x/m)) or fourth root (l2: √(√x/m)).
    power = 0.5 if name == "param_norm" else 0.25
    sample = [r for r in runs if r.variant == "base" and r.m == max(run.m for run in runs)]
    for i, j in ((1, 3), (3, 5)):
        worst = 0.0
        for run in sample:
            squares = {k: float((w.detach().double() ** 2).sum()) for k, w in run.model.state_dict().items()
                       if k.endswith("weight")}
            before = sum(squares.values())
            after = before + (ALPHA ** 2 - 1) * squares[f"{i}.weight"] + (ALPHA ** -2 - 1) * squares[f"{j}.weight"]
            worst = max(worst, abs(power * math.log(after / before)))
        row = rows[f"rescale layers {i},{j} by α=4"]
        assert row.details["worst_change"] == pytest.approx(worst, rel=1e-4)
        assert row.verdict == FRAGILE and worst > math.log1p(0.05)


def test_invariance_tolerance_and_alpha_are_honoured(trained):
    family, cache, _ = trained
    loose = audit("param_norm", family, budget="tiny", cache=cache, checks=["invariance"],
                  tolerance={"invariance": 100.0}, progress=False)
    assert {r.verdict for r in invariance_rows(loose).values()} == {STABLE}
    identity = audit("param_norm", family, budget="tiny", cache=cache, checks=["invariance"],
                     tolerance={"invariance_alpha": 1.0}, progress=False)
    assert {r.verdict for r in invariance_rows(identity).values()} == {STABLE}
    assert "rescale layers 1,3 by α=1" in invariance_rows(identity)


def test_a_toy_family_gives_inconclusive_with_a_reason():
    result = audit(lambda run: run.test_error, ClosedFormFamily("toy"), checks=["invariance"], progress=False)
    (row,) = invariance_rows(result).values()
    assert row.verdict == INCONCLUSIVE
    assert "not a Sequential ReLU network" in row.reason
    assert result.verdict == INCONCLUSIVE


def squared_weights(run) -> float:
    return sum(float((m.weight.detach() ** 2).sum()) for m in run.model if isinstance(m, nn.Linear))


def test_a_measure_failing_on_the_reparameterized_run_is_an_error(trained):
    family, cache, _ = trained

    def refuses_copies(run):
        if "rescale" in run.variant:
            raise RuntimeError("cannot measure a copy")
        return squared_weights(run)

    result = audit(refuses_copies, family, budget="tiny", cache=cache, checks=["invariance"], progress=False)
    rows = invariance_rows(result)
    assert rows["rescale layers 1,3 by α=4"].verdict == ERROR
    assert "cannot measure a copy" in rows["rescale layers 1,3 by α=4"].reason
    assert rows["permute units of layer 1"].verdict == STABLE
    assert result.verdict == ERROR


def test_base_runs_without_a_measure_value_are_not_compared(trained):
    # A log-scale measure (ln Σ‖W‖², not invariant) that fails on the largest base runs: the
    # check must use the runs that have a value (m = 40), not report "unchanged" for NaN.
    family, cache, _ = trained

    def log_weights(run):
        if run.m == 80 and "rescale" not in run.variant and "permute" not in run.variant:
            raise RuntimeError("no value here")
        return math.log(squared_weights(run))

    spec = MeasureSpec("log_weights", compute=log_weights, description="ln Σ‖W‖²", reference="test",
                       scale="log", bound_rule="identity")
    result = audit(spec, family, budget="tiny", cache=cache, checks=["invariance"], progress=False)
    rows = invariance_rows(result)
    assert rows["rescale layers 1,3 by α=4"].verdict == FRAGILE
    assert "over 2 runs" in rows["rescale layers 1,3 by α=4"].reason
    assert rows["permute units of layer 1"].verdict == STABLE
    assert np.isnan(result.curves["base"].values[:, 1]).all()

    def never(run):
        raise RuntimeError("no value anywhere")

    nothing = audit(never, family, budget="tiny", cache=cache, checks=["invariance"], progress=False)
    (row,) = invariance_rows(nothing).values()
    assert row.verdict == INCONCLUSIVE and "no converged base run with a measure value" in row.reason
