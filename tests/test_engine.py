"""The audit engine: measure resolution, cell errors, exclusions, results, predictiveness.

Toy families (closed-form learning curves, no training) give known answers in milliseconds;
the tiny trained family of tests/helpers.py covers built-in measures, bound forms and the
per-run value cache.
"""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
import torch
from scipy import stats as scipy_stats

import pytest_fragility as pf
from pytest_fragility.auditing.engine import audit
from pytest_fragility.auditing.rules.predictive import predictive_check
from pytest_fragility.auditing.subject import as_scalar
from pytest_fragility.auditing.verdict import ERROR, FRAGILE, INCONCLUSIVE, STABLE
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.measures.registry import MeasureSpec
from pytest_fragility.spec.tolerances import resolve_tolerances
from pytest_fragility.spec.variants import Variant
from pytest_fragility.testing import ClosedFormFamily, PowerLaw, error_draw
from tests.helpers import toy_family

TOY = ClosedFormFamily("toy", errors={"lr×2": PowerLaw(2.4, -0.5)})
PERTURBATION = Variant("lr×2", "perturbation")
RUNG = Variant("noise=0.3", "rung")
FAILING_RUN = "family=toy variant=base m=200 seed=1"


def error_measure(run):
    return run.test_error


def failing_on_one_run(bad):
    """A measure that returns `bad()` on base m=200 seed=1 and the test error elsewhere."""
    def measure(run):
        if (run.variant, run.m, run.seed) == ("base", 200, 1):
            return bad()
        return run.test_error
    return measure


def boom():
    raise RuntimeError("boom")


# -- cell errors ------------------------------------------------------------------------------
@pytest.mark.parametrize("bad, says", [
    (boom, "RuntimeError: boom"),
    (lambda: math.nan, "returned nan"),
    (lambda: math.inf, "returned inf"),
    (lambda: True, "returned a bool"),
    (lambda: [0.1], "returned list"),
    (lambda: torch.tensor([0.1, 0.2]), "returned Tensor of shape (2,)"),
    (lambda: torch.tensor(True), "boolean Tensor"),
    (lambda: None, "returned NoneType"),
])
def test_a_failing_cell_is_an_error_naming_the_run_and_the_audit_completes(bad, says):
    result = audit(failing_on_one_run(bad), TOY, progress=False)
    assert len(result.errors) == 1
    (message,) = result.errors
    assert says in message and FAILING_RUN in message
    assert result.verdict == ERROR
    assert not result.passed()
    assert result.runs["measure_errors"] == 1 and result.runs["total"] == 30
    as_dict = result.to_dict()
    assert as_dict["errors"] == [message]
    (row,) = [c for c in as_dict["checks"] if c["check"] == "measure"]
    assert row["verdict"] == ERROR and message in row["reason"]
    # The failed cell leaves both curves; every other cell is measured.
    base = result.curves["base"]
    at = (base.seeds.index(1), base.m.tolist().index(200))
    assert math.isnan(base.values[at]) and math.isnan(base.test_error[at])
    assert np.isfinite(base.values).sum() == base.values.size - 1


def test_an_error_does_not_hide_a_fragile_verdict():
    def flips_and_fails(run):
        if (run.variant, run.m, run.seed) == ("base", 200, 1):
            raise RuntimeError("boom")
        return run.m ** (0.5 if run.variant == "lr×2" else -0.5) * math.exp(0.05 * error_draw(run))

    result = audit(flips_and_fails, TOY, [PERTURBATION], progress=False)
    assert result.verdict == FRAGILE
    assert {c.check: c.verdict for c in result.checks}["measure"] == ERROR


@pytest.mark.parametrize("convert", [
    np.float64, np.float32, lambda x: torch.tensor(x), lambda x: np.array(x),
    lambda x: torch.tensor(x, dtype=torch.float64),
])
def test_numpy_and_zero_dim_tensor_returns_are_accepted(convert):
    result = audit(lambda run: convert(run.test_error), TOY, progress=False)
    assert result.errors == []
    for cell in result.measurements:
        assert type(cell.value) is float
        assert cell.value == pytest.approx(float(convert(cell.test_error)))
    assert result.verdict == INCONCLUSIVE  # nothing to judge without perturbations


def test_as_scalar_accepts_python_ints():
    assert as_scalar(3) == 3.0 and type(as_scalar(3)) is float


# -- exclusions ------------------------------------------------------------------------------
class PartlyConverged:
    """A toy family whose runs at the listed (m, seed) did not converge."""

    def __init__(self, family: ClosedFormFamily, stalled: set[tuple[int, int]]) -> None:
        self.family, self.stalled, self.name = family, stalled, family.name

    def runs(self, budget, variants=(), **options):
        runs = self.family.runs(budget, variants, **options)
        for run in runs:
            run.converged = (run.m, run.seed) not in self.stalled
        return runs


def test_non_converged_runs_are_excluded_from_curves_and_counted():
    stalled = {(100, 0), (1600, 3)}
    measured = []

    def measure(run):
        measured.append((run.variant, run.m, run.seed))
        return run.test_error

    result = audit(measure, PartlyConverged(TOY, stalled), [PERTURBATION], progress=False)
    assert result.runs["non_converged"] == 4  # two cells in each of two variants
    assert result.errors == []
    assert not any((m, seed) in stalled for _, m, seed in measured)
    assert len(measured) == 60 - 4
    for curve in result.curves.values():
        for m, seed in stalled:
            at = (curve.seeds.index(seed), curve.m.tolist().index(m))
            assert math.isnan(curve.values[at]) and math.isnan(curve.test_error[at])
        assert np.isfinite(curve.values).sum() == curve.values.size - 2
    frame = result.to_frame()
    assert (~frame["converged"]).sum() == 4
    assert result.verdict == STABLE


# -- results -----------------------------------------------------------------------------------
def rich_audit(**options):
    """Perturbation, data rung, tracking, predictive thresholds and one failing cell."""
    family = ClosedFormFamily("toy", errors={"lr×2": PowerLaw(2.4, -0.5), "noise=0.3": PowerLaw(4.0, -0.45)})
    return audit(failing_on_one_run(boom), family, [PERTURBATION], [RUNG], expect="decreasing",
                 tolerance={"kendall_min": 0.5, "sign_error_max": 0.2}, progress=False, **options)


def assert_plain(value, path="result"):
    """Only JSON's own types, recursively; floats finite."""
    if isinstance(value, dict):
        for key, item in value.items():
            assert type(key) is str, f"{path}: key {key!r} is {type(key).__name__}"
            assert_plain(item, f"{path}.{key}")
    elif isinstance(value, list):
        for i, item in enumerate(value):
            assert_plain(item, f"{path}[{i}]")
    else:
        assert value is None or type(value) in (str, int, float, bool), f"{path} is {type(value).__name__}"
        if type(value) is float:
            assert math.isfinite(value), f"{path} is {value}"


def test_to_dict_is_plain_python_and_to_json_round_trips():
    result = rich_audit()
    as_dict = result.to_dict()
    assert {c["check"] for c in as_dict["checks"]} == {
        "benign", "trend", "scaling", "value", "data", "tracking", "predictive", "measure"}
    assert_plain(as_dict)
    assert json.loads(result.to_json()) == as_dict
    assert as_dict["runs"]["total"] == 90 and as_dict["runs"]["measure_errors"] == 1
    assert as_dict["verdict"] == ERROR


def test_to_frame_has_one_row_per_run():
    result = rich_audit()
    frame = result.to_frame()
    assert len(frame) == 90
    assert set(frame["variant"]) == {"base", "lr×2", "noise=0.3"}
    assert frame.groupby(["variant", "m", "seed"]).size().max() == 1
    measured = frame[frame["error"].isna()]
    assert np.allclose(measured["value"], measured["test_error"])
    (failed,) = frame[frame["error"].notna()].itertuples()
    assert (failed.variant, failed.m, failed.seed) == ("base", 200, 1)


def test_the_same_audit_twice_is_identical_and_the_old_bootstrap_seed_changes_nothing():
    first, again = rich_audit().to_dict(), rich_audit().to_dict()
    assert first == again
    with pytest.warns(DeprecationWarning, match="no effect"):
        reseeded = rich_audit(seed=1).to_dict()
    assert reseeded == first  # closed-form intervals: nothing random left in the analysis


# -- configuration errors ------------------------------------------------------------------
@pytest.mark.parametrize("arguments, names", [
    ({"checks": ["trend", "trned"]}, ["'trned'", "benign", "invariance", "scaling"]),
    ({"tolerance": {"exponnent": 0.3}}, ["'exponnent'", "exponent", "value_ratio"]),
    ({"tolerance": {"exponent": "wide"}}, ["'exponent'", "number"]),
    ({"tolerance": {"level": 95}}, ["'level'", "(0, 1)"]),
    ({"scale": "loglog"}, ["'loglog'", "log, positive"]),
    ({"expect": "down"}, ["'down'", "decreasing, increasing"]),
    ({"perturbations": "lr×2"}, ["'lr×2'", "pf.perturb.lr", "pf.perturb.width"]),
    ({"perturbations": [RUNG]}, ["noise=0.3", "not a perturbation", "pf.perturb.lr"]),
    ({"perturbations": [PERTURBATION, PERTURBATION]}, ["duplicate", "lr×2"]),
    ({"data": [PERTURBATION]}, ["not a data-ladder rung", "pf.data.label_noise"]),
    ({"data": 0.2}, ["pf.data.label_noise"]),
    ({"form": "bound"}, ["form=", "built-in"]),
    ({"measure_options": {"k": 1}}, ["measure_options", "built-in"]),
])
def test_bad_configuration_is_a_configuration_error_naming_the_choices(arguments, names):
    with pytest.raises(ConfigurationError) as raised:
        audit(error_measure, TOY, progress=False, **arguments)
    for name in names:
        assert name in str(raised.value)


def test_unknown_measure_name_or_form_or_non_callable_is_named():
    with pytest.raises(ConfigurationError, match="unknown measure 'path_nrom'.*path_norm"):
        audit("path_nrom", TOY, progress=False)
    with pytest.raises(ConfigurationError, match="form must be 'raw' or 'bound'"):
        audit("path_norm", TOY, form="tight", progress=False)
    with pytest.raises(ConfigurationError, match="callable"):
        audit(42, TOY, progress=False)


# -- predictiveness -----------------------------------------------------------------------
def test_a_measure_equal_to_the_gap_is_perfectly_predictive():
    result = audit(error_measure, TOY, [PERTURBATION], progress=False)  # train error 0: gap = test error
    predictive = result.predictiveness
    assert predictive["kendall_tau"] == 1.0 and predictive["psi"] == 1.0
    assert predictive["sign_error"]["max"] == 0.0 and predictive["sign_error"]["n_kept"] >= 1
    assert predictive["n_runs"] == 60
    assert "predictive" not in {c.check for c in result.checks}  # reported, not asserted


def test_kendall_tau_matches_scipy_on_untied_values():
    def partial(run):  # follows test error loosely: ranks disagree on some pairs
        return run.test_error * math.exp(0.3 * math.sin(7 * run.m + run.seed))

    result = audit(partial, TOY, [PERTURBATION], progress=False)
    values = np.array([c.value for c in result.measurements])
    gaps = np.array([c.test_error - c.train_error for c in result.measurements])
    expected = scipy_stats.kendalltau(values, gaps).statistic  # τ-b = τ-a without ties
    assert len(set(values)) == len(values) and len(set(gaps)) == len(gaps)
    assert result.predictiveness["kendall_tau"] == pytest.approx(expected, abs=1e-12)
    assert 0.2 < expected < 0.95


@pytest.mark.parametrize("sign, verdict", [(1, STABLE), (-1, FRAGILE)])
def test_predictive_thresholds_create_a_predictive_check(sign, verdict):
    thresholds = {"kendall_min": 0.5, "psi_min": 0.5, "sign_error_max": 0.2}
    result = audit(lambda run: run.test_error ** sign, TOY, [PERTURBATION], tolerance=thresholds,
                   progress=False)
    (row,) = [c for c in result.checks if c.check == "predictive"]
    assert row.verdict == verdict
    if verdict == FRAGILE:
        assert "kendall_tau -1.000 < 0.5" in row.reason and "worst sign error 1.000 > 0.2" in row.reason
        assert result.verdict == FRAGILE


@pytest.mark.parametrize("thresholds, predictive, verdict", [
    ({"kendall_min": 0.3}, {"kendall_tau": 0.31}, STABLE),
    ({"kendall_min": 0.3}, {"kendall_tau": 0.29}, FRAGILE),
    ({"psi_min": 0.3}, {"psi": None}, INCONCLUSIVE),
    ({"sign_error_max": 0.2}, {"sign_error": {"max": 0.2}}, STABLE),
    ({"sign_error_max": 0.2}, {"sign_error": {"max": 0.25}}, FRAGILE),
    ({"sign_error_max": 0.2}, {"sign_error": None}, INCONCLUSIVE),
    ({"kendall_min": 0.3, "psi_min": 0.3}, {"kendall_tau": 0.1, "psi": None}, FRAGILE),
])
def test_predictive_check_thresholds(thresholds, predictive, verdict):
    assert predictive_check(predictive, resolve_tolerances(thresholds)).verdict == verdict


# -- built-in measures on a tiny trained family ---------------------------------------------
@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    """The tiny trained family, its cache folder and its runs (trained once per module)."""
    torch.set_num_threads(1)
    family = toy_family("engine-toy")
    cache = tmp_path_factory.mktemp("engine-cache")
    runs = family.runs("tiny", cache=cache, progress=False)
    return family, cache, runs


def by_cell(result):
    return {(c.variant, c.m, c.seed): c for c in result.measurements}


@pytest.mark.parametrize("name", ["path_norm", "log_prod_of_fro"])
def test_built_in_measures_are_audited_in_bound_form_by_default(trained, name):
    family, cache, runs = trained
    spec = pf.measures.get(name)
    bound = audit(name, family, budget="tiny", cache=cache, checks=(), progress=False)
    raw = audit(name, family, budget="tiny", cache=cache, checks=(), form="raw", progress=False)
    assert (bound.form, raw.form, bound.scale) == ("bound", "raw", spec.scale)
    bound_cells, raw_cells = by_cell(bound), by_cell(raw)
    assert len(bound_cells) == len(runs) == 4
    for run in runs:
        expected_raw = float(spec.compute(run))
        expected_bound = (math.sqrt(expected_raw / run.m) if spec.scale == "positive"
                          else 0.5 * (expected_raw - math.log(run.m)))
        key = (run.variant, run.m, run.seed)
        assert bound_cells[key].value == pytest.approx(expected_bound, rel=1e-6)
        assert bound_cells[key].raw == pytest.approx(expected_raw, rel=1e-6)
        assert raw_cells[key].value == pytest.approx(expected_raw, rel=1e-6)
    curve = bound.curves["base"]
    for (_, m, seed), cell in bound_cells.items():
        at = (curve.seeds.index(seed), curve.m.tolist().index(m))
        assert curve.values[at] == cell.value and curve.raw[at] == cell.raw


def test_built_in_values_are_cached_per_run_and_per_options(trained):
    family, cache, runs = trained
    path_norm = pf.measures.get("path_norm")
    calls = []

    def counted(run, **options):
        calls.append(options)
        return path_norm.compute(run)

    spec = MeasureSpec(name="counted_path_norm", compute=counted, description="path norm, counted",
                       reference="test", needs=frozenset({"train_data"}))
    first = audit(spec, family, budget="tiny", cache=cache, checks=(), progress=False)
    assert len(calls) == len(runs)
    second = audit(spec, family, budget="tiny", cache=cache, checks=(), form="raw", progress=False)
    assert len(calls) == len(runs)  # every raw value came from the cache
    assert second.runs["cached"] == len(runs) and second.runs["trained"] == 0
    for key, cell in by_cell(first).items():
        assert by_cell(second)[key].value == pytest.approx(cell.raw, rel=1e-12)
    audit(spec, family, budget="tiny", cache=cache, checks=(), measure_options={"variant": 2}, progress=False)
    assert calls[len(runs):] == [{"variant": 2}] * len(runs)  # other options: other cache entries
