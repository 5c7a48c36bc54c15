"""Measures that misbehave: they edit their run, call pytest.skip()/sys.exit(), or overflow.

The rule: a measure's misbehaviour is an error cell naming the measure and the run; nothing
it did reaches another measure, another test, the dataset or the cache, and the audit (and
its JSON) is never lost.
"""

from __future__ import annotations

import json
import math
import sys

import pytest
import torch

import pytest_fragility as pf
from pytest_fragility.families.datasets import load_dataset
from pytest_fragility.testing import ClosedFormFamily
from tests.helpers import toy_family


def _error_rate(model, x, y):
    with torch.no_grad():
        return ((model(x).squeeze(-1) > 0).long() != y).float().mean().item()


def test_a_measure_editing_x_test_in_place_poisons_nothing(tmp_path):
    family = toy_family("mutated")
    pristine = family.dataset.x_test.clone()

    def zero_the_test_set(run):
        run.x_test.mul_(0.0)
        return float(run.m)

    result = pf.audit(zero_the_test_set, family, budget="tiny", cache=tmp_path, progress=False)
    errors = [m.error for m in result.measurements]
    assert all(e and "measure 'zero_the_test_set' changed x_test of the run it was given" in e for e in errors)
    assert "(run family=mutated variant=base m=40 seed=0)" in errors[0]
    assert result.verdict == "error"
    assert torch.equal(load_dataset("mutated-data").x_test, pristine)  # the dataset every test shares
    later = family.runs("tiny", [pf.perturb.lr(2.0)], cache=tmp_path, progress=False)  # trained afterwards
    for run in later:
        assert torch.equal(run.x_test, pristine)
        assert run.test_error == pytest.approx(_error_rate(run.model, pristine, run.y_test), abs=1e-6)


def _in_place(run):
    with torch.no_grad():
        next(run.model.parameters()).add_(1.0)


def _through_data(run):
    next(run.model.parameters()).data.mul_(2.0)  # invisible to version counters


def _numpy_view(run):
    run.x_train.numpy()[0] = 7.0


def _dtype(run):
    run.model.double()


def _mode(run):
    run.model.train(True)


def _grad_flag(run):
    next(run.model.parameters()).requires_grad_(False)


def _record(run):
    run.test_error = 0.0


EDITS = [("model", _in_place), ("model", _through_data), ("x_train", _numpy_view), ("model", _dtype),
         ("model", _mode), ("model", _grad_flag), ("test_error", _record)]


@pytest.fixture
def editor():
    """A registered measure that edits its run (so precompute runs it beside built-ins), removed after."""
    from pytest_fragility.measures import registry

    edits = []

    def compute(run):
        value = float(run.model(run.x_train).sum().detach())
        edits[0](run)
        return abs(value) + 1.0

    registry.register(registry.MeasureSpec("editor", compute, "edits its run", "test"))
    yield edits
    del registry._REGISTRY["editor"]


@pytest.mark.parametrize("part,edit", EDITS, ids=[edit.__name__ for _, edit in EDITS])
def test_an_edit_reaches_neither_the_next_measure_nor_the_value_cache(tmp_path, editor, part, edit):
    from pytest_fragility.auditing.measuring import precompute
    from pytest_fragility.runs.cache import Cache

    editor.append(edit)
    family, cache = toy_family(), Cache(tmp_path)
    runs = family.runs("tiny", cache=cache, progress=False)
    records = [(r.test_error, r.train_error) for r in runs]
    precompute(["editor", "param_norm", "inverse_margin"], runs, cache.values, progress=False)  # one load per run
    assert [(r.test_error, r.train_error) for r in runs] == records
    fresh = family.runs("tiny", cache=cache, progress=False)
    for name in ("param_norm", "inverse_margin"):
        cached = pf.audit(name, family, budget="tiny", cache=cache, form="raw", progress=False, runs=runs)
        assert [m.raw for m in cached.measurements] == pytest.approx([pf.measures.get(name)(r) for r in fresh])
    edited = pf.audit("editor", family, budget="tiny", cache=cache, progress=False, runs=runs)
    assert all(f"measure 'editor' changed {part} of the run it was given; a measure must not modify its run"
               in (m.error or "") for m in edited.measurements), edited.measurements[0].error
    assert "the run was reloaded for the next measure" in edited.measurements[0].error


def test_a_hand_built_run_says_the_edit_cannot_be_undone():
    net = torch.nn.Sequential(torch.nn.Linear(3, 1))
    run = pf.Run(model=net, x_train=torch.ones(4, 3), y_train=torch.zeros(4, dtype=torch.long))
    from pytest_fragility.auditing.subject import resolve_subject

    def scale_weights(run):
        with torch.no_grad():
            run.model[0].weight.mul_(3.0)
        return 1.0

    subject = resolve_subject(scale_weights, None, None, {})
    with pytest.raises(pf.errors.MeasureError, match="built by hand and cannot be reloaded"):
        subject.raw(run)
    assert subject.raw.__name__ == "scale_weights"
    resolve_subject(lambda r: 1.0, None, None, {}).raw(run)  # the next measure is not blamed


@pytest.mark.parametrize("stop,called", [(lambda: pytest.skip("no margin"), "pytest.skip('no margin')"),
                                          (lambda: sys.exit(3), "sys.exit(3)"),
                                          (lambda: pytest.fail("bad"), "pytest.fail('bad')")])
def test_skip_or_exit_inside_a_measure_is_an_error_cell_naming_the_run(stop, called):
    family = ClosedFormFamily("closed-stop")

    def measure(run):
        if (run.m, run.seed) == (64, 1):
            stop()
        return run.test_error

    try:
        result = pf.audit(measure, family, [pf.perturb.lr(0.5)], budget="smoke", progress=False)
    except BaseException as error:  # escaping, pytest.skip would skip this very test instead of failing it
        pytest.fail(f"the audit was lost to {error!r}")
    failed = [m for m in result.measurements if m.error]
    assert len(failed) == 2  # base and lr×0.5 at m=64, seed=1
    assert f"measure 'measure' called {called}" in failed[0].error and "seed=1" in failed[0].error
    assert result.verdict == "error" and len(result.measurements) > 2


def test_keyboard_interrupt_inside_a_measure_still_stops_the_audit():
    def measure(run):
        raise KeyboardInterrupt

    with pytest.raises(KeyboardInterrupt):
        pf.audit(measure, ClosedFormFamily("closed-interrupt"), budget="smoke", progress=False)


def test_a_ratio_beyond_the_largest_float_is_reported_not_raised(tmp_path):
    family = ClosedFormFamily("closed-huge")

    def huge(run):
        return 1e-300 * run.m ** -0.5 if run.variant == "base" else 1e300 * run.m ** -0.5

    result = pf.audit(huge, family, [pf.perturb.lr(0.5)], scale="positive", progress=False)
    value = next(c for c in result.checks if c.check == "value")
    assert value.verdict == "fragile" and "mean ratio ×e^1382" in value.reason
    report = tmp_path / "report.json"
    from pytest_fragility.report.json_report import build_report, write_report

    write_report(report, build_report([result.to_dict()], {}))
    assert json.loads(report.read_text())["audits"][0]["verdict"] == result.verdict
    assert math.isfinite(result.checks[0].difference.value)
