"""`@fragility_check` on its own: what it validates, what it attaches, what it leaves alone.

The plugin side (collection errors, skipping, the audit) is in test_plugin.py.
"""

from __future__ import annotations

import inspect

import pytest
from _pytest.compat import getfuncargnames

import pytest_fragility as pf
from pytest_fragility import families
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.plugin.decorator import CheckSpec, fragility_check
from pytest_fragility.testing import ClosedFormFamily

FAMILY = "toy-decorator"


@pytest.fixture(autouse=True)
def toy_family(monkeypatch):
    """A toy family registered for each test; the registry is restored afterwards."""
    monkeypatch.setattr(families, "_USER", dict(families._USER))
    families.register(ClosedFormFamily(FAMILY), replace=True)


def marks(function, name):
    return [mark for mark in getattr(function, "pytestmark", []) if mark.name == name]


def spec_of(function) -> CheckSpec:
    (mark,) = marks(function, "fragility")
    return mark.args[0]


def test_returns_the_function_itself_with_a_fragility_mark_and_an_xdist_group():
    def test_x(run, tmp_path):
        return 1.0

    decorated = fragility_check(
        family=FAMILY, perturbations=[pf.perturb.lr(0.5), pf.perturb.optimizer("adam")],
        data=pf.data.label_noise(0.2), checks=("trend", "data", "trend"), tolerance={"exponent": 0.3},
        budget="smoke", scale="positive", expect="decreasing",
    )(test_x)

    assert decorated is test_x
    assert spec_of(test_x) == CheckSpec(
        family=FAMILY, perturbations=(pf.perturb.lr(0.5), pf.perturb.optimizer("adam")),
        data=(pf.data.label_noise(0.2),), checks=("trend", "data"), tolerance={"exponent": 0.3},
        budget="smoke", scale="positive", expect="decreasing",
    )
    assert [mark.args for mark in marks(test_x, "xdist_group")] == [(f"fragility-{FAMILY}",)]


def test_the_old_scale_name_linear_still_works_with_a_deprecation_warning():
    with pytest.warns(DeprecationWarning, match='scale="linear" is deprecated'):
        decorate = fragility_check(family=FAMILY, scale="linear")

    @decorate
    def test_x(run):
        return 1.0

    assert spec_of(test_x).scale == "positive"


def test_defaults_follow_the_design():
    @fragility_check()
    def test_x(run):
        return 1.0

    spec = spec_of(test_x)
    assert spec.family == "fcn-mnist5k"
    assert spec.checks == ("benign", "trend", "scaling", "value", "data")  # DESIGN §4 checks 1-5
    assert (spec.perturbations, spec.data, spec.tolerance, spec.measure) == ((), (), {}, None)


def test_run_is_hidden_from_pytest_and_the_function_still_takes_it():
    def test_x(run, tmp_path):
        return run * 2

    fragility_check(family=FAMILY)(test_x)

    assert getfuncargnames(test_x) == ("tmp_path",)  # what pytest will look up as fixtures
    assert test_x(run=21, tmp_path=None) == 42


def test_run_is_hidden_from_pytest_in_a_method_and_under_parametrize():
    class TestX:
        @pytest.mark.parametrize("width", [1, 2])
        @fragility_check(family=FAMILY)
        def test_x(self, run, width):
            return run * width

    assert getfuncargnames(TestX.test_x, cls=TestX) == ("width",)
    assert TestX().test_x(run=3, width=2) == 6
    assert marks(TestX.test_x, "parametrize") and marks(TestX.test_x, "fragility")


def test_builtin_measure_takes_no_run_argument():
    def test_x(tmp_path):
        pass

    fragility_check(family=FAMILY, measure="path_norm", form="raw")(test_x)

    assert (spec_of(test_x).measure, spec_of(test_x).form) == ("path_norm", "raw")
    assert getfuncargnames(test_x) == ("tmp_path",)


CHECKS = "benign, data, invariance, predictive, scaling, tracking, trend, value"
BAD_ARGUMENTS = {
    "family": ({"family": "toy-decoratr"}, r"unknown family 'toy-decoratr'; valid: .*fcn-mnist5k.*toy-decorator"),
    "check": ({"checks": ("trend", "sparkle")}, rf"unknown check 'sparkle'; valid: {CHECKS}$"),
    "check-string": ({"checks": "trends"}, "unknown check 'trends'"),
    "tolerance-key": ({"tolerance": {"exponnent": 0.3}},
                      r"unknown tolerance key 'exponnent'; valid: benign_exponent, benign_ratio, data_fraction, "
                      r"exponent,"),
    "tolerance-type": ({"tolerance": {"exponent": "0.3"}}, r"tolerance 'exponent' must be a number, got '0.3'"),
    "tolerance-level": ({"tolerance": {"level": 1.5}}, r"tolerance 'level' must be in \(0, 1\), got 1.5"),
    "perturbation-string": ({"perturbations": ["lr×0.5"]},
                            r"perturbations: 'lr×0.5' is not a perturbation; build one with pf\.perturb\.lr\(\.\.\.\)"),
    "rung-as-perturbation": ({"perturbations": [pf.data.label_noise(0.2)]},
                             r"perturbations: .*'label-noise=0.2'.* is not a perturbation; build one with pf\.perturb"),
    "perturbation-as-rung": ({"data": [pf.perturb.lr(0.5)]},
                             r"data: .*'lr×0.5'.* is not a data-ladder rung; build one with pf\.data\.label_noise"),
    "not-a-list": ({"perturbations": 5}, r"perturbations must be a list of perturbations"),
    "duplicate": ({"perturbations": [pf.perturb.lr(0.5), pf.perturb.lr(0.5)]}, r"duplicate variants \['lr×0.5'\]"),
    "measure": ({"measure": "path_nrom"}, r"unknown measure 'path_nrom'; valid: .*path_norm"),
    "form-without-measure": ({"form": "bound"}, r"form= applies with measure="),
    "form": ({"measure": "path_norm", "form": "bounded"}, r"unknown form 'bounded'; valid: bound, raw$"),
    "scale": ({"scale": "loglog"}, r"unknown scale 'loglog'; valid: log, positive$"),
    "expect": ({"expect": "down"}, r"unknown expect value 'down'; valid: decreasing, increasing$"),
}


@pytest.mark.parametrize("arguments, message", BAD_ARGUMENTS.values(), ids=BAD_ARGUMENTS.keys())
def test_bad_arguments_fail_when_the_decorator_is_built_naming_the_valid_choices(arguments, message):
    with pytest.raises(ConfigurationError, match=message):
        fragility_check(**{"family": FAMILY, **arguments})  # no function needed: fails before decorating


def test_a_measure_body_without_run_is_refused_with_the_fix():
    def test_x(tmp_path):
        return 1.0

    with pytest.raises(ConfigurationError, match=r"test_x: the test body is the measure, so it needs a `run` "
                                                 r"argument .*or pass measure='<name>'"):
        fragility_check(family=FAMILY)(test_x)
    assert not marks(test_x, "fragility")


def test_a_class_is_refused():
    with pytest.raises(ConfigurationError, match="@fragility_check decorates a test function"):
        fragility_check(family=FAMILY)(type("TestX", (), {}))


def test_a_family_registered_later_is_accepted():
    with pytest.raises(ConfigurationError, match="unknown family 'toy-later'"):
        fragility_check(family="toy-later")
    families.register(ClosedFormFamily("toy-later"), replace=True)
    assert inspect.isfunction(fragility_check(family="toy-later")(lambda run: 1.0))
