"""Names of the built-in families, measures, optimizers and checks, importable without torch.

`@fragility_check` validates its arguments at import time of a test module; these
tuples let it do so without loading the heavy registries. Tests assert that the
registries hold exactly these names.
"""

from __future__ import annotations

import warnings
from typing import Sequence

from pytest_fragility.errors import unknown

BUILTIN_FAMILIES = (
    "fcn-mnist5k",
    "fcn-mnist1d",
    "fcn-digits",
    "cnn-mnist1d",
    "fcn-mnist",
    "fcn-fashionmnist",
    "fcn-kmnist",
    "fcn-cifar10",
)

BUILTIN_MEASURES = (
    "params",
    "inverse_margin",
    "log_prod_of_spec",
    "log_prod_of_spec_over_margin",
    "log_sum_of_spec",
    "log_sum_of_spec_over_margin",
    "log_spec_init_main",
    "log_spec_orig_main",
    "fro_over_spec",
    "log_prod_of_fro",
    "log_prod_of_fro_over_margin",
    "log_sum_of_fro",
    "log_sum_of_fro_over_margin",
    "fro_dist",
    "dist_spec_init",
    "param_norm",
    "l2",
    "l2_dist",
    "path_norm",
    "path_norm_over_margin",
    "pacbayes_orig",
    "pacbayes_init",
    "pacbayes_flatness",
    "pacbayes_mag_orig",
    "pacbayes_mag_init",
    "pacbayes_mag_flatness",
    "sharpness_orig",
    "sharpness_init",
    "sharpness_flatness",
    "sharpness_mag_orig",
    "sharpness_mag_init",
    "sharpness_mag_flatness",
    "marginal_likelihood_bound",
)

OPTIMIZERS = ("sgd", "sgd-momentum", "nesterov", "adam", "adamw", "rmsprop")

CHECKS = ("benign", "trend", "scaling", "value", "data", "tracking", "invariance", "predictive")
DEFAULT_CHECKS = ("benign", "trend", "scaling", "value", "data")


def validate_checks(checks: Sequence[str] | str) -> tuple[str, ...]:
    """Check names, de-duplicated in order; an unknown one lists the valid ones."""
    if isinstance(checks, str):
        checks = (checks,)
    for check in checks:
        if check not in CHECKS:
            raise unknown("check", check, CHECKS)
    return tuple(dict.fromkeys(checks))


def choice(kind: str, value: str | None, valid: Sequence[str]) -> str | None:
    """`value` if it is None or one of `valid`; else an error listing them."""
    if value is not None and value not in valid:
        raise unknown(kind, value, valid)
    return value


SCALES = ("positive", "log")


def scale_name(scale: str | None) -> str | None:
    """A measure's scale: "positive" (a positive quantity, analysed as ln μ: trends are
    power-law exponents, changes are ratios) or "log" (already a logarithm, or of either
    sign: analysed as μ, changes are differences). None means "infer it from the values".

    "linear" is the old, misleading name of "positive"; it still works, with a warning.
    """
    if scale == "linear":
        warnings.warn('scale="linear" is deprecated; it means scale="positive" (values are analysed as ln μ)',
                      DeprecationWarning, stacklevel=3)
        return "positive"
    return choice("scale", scale, SCALES)
