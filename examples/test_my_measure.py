"""Two audits of measures on the custom family of conftest.py.

`pytest --fragility examples/` runs them (`--fragility-budget smoke` for a first look). The
marginal-likelihood bound depends only on the data and the architecture, so benign
training changes cannot move it, and it follows label noise. Path norm is fragile here:
switching SGD to Adam changes its value far more than test error changes. The test
declares that verdict, so it passes while path norm's value check stays fragile and fails
if anything else changes: the check stops being fragile (path norm got fixed: update the
declaration), or another check turns fragile. With `--fragility-compare` its committed
baseline is compared too, so its numbers cannot drift unnoticed. The smoke budget's four
seeds leave the value check undecided (×0.59 against a ×1/1.5 threshold, its interval
straddling it), so the declaration accepts either verdict there.
"""

import pytest_fragility as pf

PERTURBATIONS = [pf.perturb.lr(0.5), pf.perturb.optimizer("adam")]
LADDER = [pf.data.label_noise(0.2), pf.data.label_noise(0.4)]


@pf.fragility_check(family="mlp-my-data", perturbations=PERTURBATIONS, data=LADDER)
def test_marginal_likelihood_bound_is_robust(run):
    return pf.measures.marginal_likelihood_bound(run)


@pf.fragility_check(family="mlp-my-data", perturbations=PERTURBATIONS, checks=("benign", "trend", "value"),
                    expect_verdict={"value": ("fragile", "inconclusive")})
def test_path_norm_is_fragile(run):
    return pf.measures.path_norm(run)
