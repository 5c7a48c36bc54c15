"""Every built-in family converges at the smoke budget for the default variants of
`fragility audit`: its perturbations, its ladder (label noise) and the pixel shuffle. A run
that misses the stopping rule would be left out of every curve."""

import time

import pytest

import pytest_fragility as pf
from pytest_fragility.cli import DEFAULT_LADDER, DEFAULT_PERTURBATIONS, parse_variant

OFFLINE = ["fcn-mnist5k", "fcn-mnist1d", "fcn-digits", "cnn-mnist1d"]


@pytest.mark.parametrize("name", OFFLINE)
def test_every_default_variant_converges_at_smoke(name, shared_cache):
    family = pf.families.get(name)
    texts = [*DEFAULT_PERTURBATIONS.split(","), *DEFAULT_LADDER.split(","), "pixel-shuffle"]
    variants = [parse_variant(text) for text in texts]
    started = time.perf_counter()
    runs = family.runs("smoke", variants, cache=shared_cache, progress=False)
    seconds = time.perf_counter() - started
    assert {r.variant for r in runs} == {"base", *texts}
    lost = [(r.variant, r.m, r.seed, r.stop_reason, r.epochs) for r in runs if not r.converged]
    assert not lost, f"{name}: runs that missed the stopping rule: {lost}"
    cap = family.recipe_at("smoke").max_epochs
    slowest = max(r.epochs for r in runs)
    assert slowest <= cap // 2, f"{name}: the slowest run took {slowest} of {cap} epochs: little margin"
    print(f"{name}: {len(runs)} runs at smoke, slowest {slowest} epochs, {seconds:.1f} s")
