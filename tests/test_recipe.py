import json
import subprocess
import sys

import pytest

import pytest_fragility as pf
from pytest_fragility.errors import ConfigurationError
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.train.jobs import TrainingJob, derive_seed


def test_key_is_stable_across_processes_and_hash_seeds():
    code = ("from pytest_fragility.families.recipe import Recipe;"
            "from pytest_fragility.train.jobs import TrainingJob, derive_seed;"
            "r = Recipe(lr=0.025, label_noise=0.2);"
            "print(r.key(), TrainingJob(r, 400, 3).key(), derive_seed(3, 'init'))")
    outputs = {
        subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True,
                       env={"PYTHONHASHSEED": seed, "PATH": ""}).stdout
        for seed in ("0", "1", "12345")
    }
    assert len(outputs) == 1
    recipe = Recipe(lr=0.025, label_noise=0.2)
    assert outputs.pop().split() == [recipe.key(), TrainingJob(recipe, 400, 3).key(),
                                     str(derive_seed(3, "init"))]


def test_key_changes_with_every_field_and_canonical_json_is_sorted():
    base = Recipe()
    keys = {base.key()}
    for field, value in [("lr", 0.1), ("width", 512), ("label_noise", 0.2), ("optimizer", "adam"),
                         ("batch_size", 32), ("dtype", "float64"), ("epochs_after_fit", 5)]:
        keys.add(base.replace(**{field: value}).key())
    assert len(keys) == 8
    assert list(json.loads(base.canonical_json())) == sorted(base.as_dict())
    assert TrainingJob(base, 100, 0).key() != TrainingJob(base, 100, 1).key()
    assert TrainingJob(base, 100, 0).key() != TrainingJob(base, 200, 0).key()


def test_recipe_is_frozen_and_hashable():
    recipe = Recipe()
    with pytest.raises(AttributeError):
        recipe.lr = 1.0  # type: ignore[misc]
    assert {recipe: 1}[Recipe()] == 1


@pytest.mark.parametrize("changes, message", [
    ({"optimizer": "lbfgs"}, "unknown recipe optimizer 'lbfgs'"),
    ({"lr": 0.0}, "lr must be > 0"),
    ({"label_noise": 1.5}, "label_noise must be in [0, 1]"),
    ({"task": "multiclass"}, "task 'multiclass' is trained with loss 'ce'"),
    ({"optimizer": "nesterov"}, "needs momentum > 0"),
])
def test_bad_recipes_name_the_problem(changes, message):
    with pytest.raises(ConfigurationError, match=message.replace("[", r"\[").replace("]", r"\]")):
        Recipe(**changes)


def test_replace_rejects_unknown_fields_with_the_valid_ones():
    with pytest.raises(ConfigurationError, match="unknown recipe field 'lerning_rate'.*lr"):
        Recipe().replace(lerning_rate=0.1)


def test_optimizer_switch_follows_the_reference_protocol():
    base = Recipe(lr=0.05)
    momentum = base.with_optimizer("sgd-momentum")
    assert (momentum.momentum, momentum.lr) == (0.9, pytest.approx(0.005))
    assert base.with_optimizer("adam").lr == 1e-3
    assert base.with_optimizer("adamw").weight_decay == 0.01
    assert base.with_optimizer("adam", lr=3e-4).lr == 3e-4
    assert momentum.with_optimizer("sgd").momentum == 0.0


def test_variants_apply_readable_changes():
    base = Recipe(lr=0.05)
    assert pf.perturb.lr(0.5).name == "lr×0.5"
    assert pf.perturb.lr(0.5).apply(base).lr == pytest.approx(0.025)
    assert pf.perturb.optimizer("adam").apply(base).optimizer == "adam"
    assert pf.perturb.batch_size(32).apply(base).batch_size == 32
    assert pf.perturb.train_after_fit(10).apply(base).epochs_after_fit == 10
    assert pf.data.label_noise(0.2).apply(base).label_noise == 0.2
    assert pf.data.dataset("mnist1d").apply(base).dataset == "mnist1d"
    assert pf.data.pixel_shuffle().apply(base).pixel_shuffle is True
    with pytest.raises(ConfigurationError, match="unknown optimizer 'sgdm'"):
        pf.perturb.optimizer("sgdm")
    with pytest.raises(ConfigurationError, match="label noise must be in"):
        pf.data.label_noise(0.0)
