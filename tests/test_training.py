import pytest
import torch

from pytest_fragility.families.datasets import task_view
from pytest_fragility.families.family import he_init
from pytest_fragility.families.models import build_model
from pytest_fragility.families.recipe import OPTIMIZERS, Recipe
from pytest_fragility.train.batched import train_batched
from pytest_fragility.train.jobs import TrainingJob, member_data
from pytest_fragility.train.reference import train_reference
from tests.helpers import blobs

CPU = torch.device("cpu")
DATA = blobs()
BINARY = task_view(DATA, "binary", pixel_shuffle=False)


def _pair(jobs, view=BINARY):
    batched = train_batched(jobs, view, build_model, he_init, CPU)
    reference = [train_reference(job, view, build_model, he_init, CPU) for job in jobs]
    return batched, reference


def _max_weight_difference(a, b):
    return max((a.final_state[k] - b.final_state[k]).abs().max().item() for k in a.final_state)


@pytest.mark.parametrize("optimizer", OPTIMIZERS)
def test_batched_equals_reference_for_every_optimizer(optimizer):
    base = Recipe(dataset=DATA.name, width=8, batch_size=16, max_epochs=3, dtype="float64").with_optimizer(optimizer)
    # members differ in seed, learning rate, label noise and weight decay
    jobs = [TrainingJob(base.replace(lr=base.lr * f, label_noise=p, weight_decay=wd), 40, s)
            for s, f, p, wd in [(0, 1.0, 0.0, 0.0), (1, 0.5, 0.2, 1e-3), (2, 2.0, 0.0, 0.0)]]
    for batched, reference in zip(*_pair(jobs)):
        assert batched.epochs == reference.epochs
        assert batched.train_error == pytest.approx(reference.train_error, abs=1e-12)
        assert batched.test_error == pytest.approx(reference.test_error, abs=1e-12)
        assert _max_weight_difference(batched, reference) < 1e-12
        assert all(torch.equal(batched.init_state[k], reference.init_state[k]) for k in batched.init_state)


def test_batched_equals_reference_for_a_cnn_and_multiclass_in_float32():
    view = task_view(DATA, "multiclass", pixel_shuffle=False)
    base = Recipe(dataset=DATA.name, task="multiclass", loss="ce", arch="cnn", width=4, batch_size=16,
                  max_epochs=2, lr=0.05)
    jobs = [TrainingJob(base, 48, s) for s in (0, 1)]
    for batched, reference in zip(*_pair(jobs, view)):
        assert _max_weight_difference(batched, reference) < 1e-4


def test_same_seed_gives_identical_weights_and_seeds_share_init_across_variants():
    recipe = Recipe(dataset=DATA.name, width=8, batch_size=16, max_epochs=2)
    first = train_batched([TrainingJob(recipe, 40, 3)], BINARY, build_model, he_init, CPU)[0]
    again = train_batched([TrainingJob(recipe, 40, 3)], BINARY, build_model, he_init, CPU)[0]
    assert _max_weight_difference(first, again) == 0.0
    other_lr = train_batched([TrainingJob(recipe.replace(lr=0.2), 80, 3)], BINARY, build_model, he_init, CPU)[0]
    assert all(torch.equal(first.init_state[k], other_lr.init_state[k]) for k in first.init_state)


def test_training_stops_at_100_percent_and_non_convergence_is_flagged():
    recipe = Recipe(dataset=DATA.name, width=16, lr=0.1, batch_size=16, max_epochs=200)
    fitted = train_batched([TrainingJob(recipe, 80, 0)], BINARY, build_model, he_init, CPU)[0]
    assert fitted.converged and fitted.train_error == 0.0
    assert fitted.fitted_epoch == fitted.epochs < 200
    capped = train_batched([TrainingJob(recipe.replace(max_epochs=1, lr=1e-4), 80, 0)],
                           BINARY, build_model, he_init, CPU)[0]
    assert not capped.converged and capped.fitted_epoch is None and capped.epochs == 1
    assert capped.train_error > 0


def test_members_stop_independently_and_train_after_fit_adds_epochs():
    recipe = Recipe(dataset=DATA.name, width=16, lr=0.1, batch_size=16, max_epochs=200)
    jobs = [TrainingJob(recipe, 80, 0), TrainingJob(recipe.replace(epochs_after_fit=7), 80, 0),
            TrainingJob(recipe.replace(lr=0.01), 80, 0)]
    plain, extended, slow = train_batched(jobs, BINARY, build_model, he_init, CPU)
    assert extended.fitted_epoch == plain.fitted_epoch
    assert extended.epochs == plain.epochs + 7
    assert slow.epochs > plain.epochs
    reference = train_reference(jobs[1], BINARY, build_model, he_init, CPU)
    assert reference.epochs == extended.epochs


def test_loss_threshold_stopping_rule():
    recipe = Recipe(dataset=DATA.name, width=16, lr=0.1, batch_size=16, max_epochs=300,
                    stop="train-loss", stop_threshold=0.05)
    run = train_batched([TrainingJob(recipe, 80, 0)], BINARY, build_model, he_init, CPU)[0]
    assert run.converged and run.train_loss < 0.05


@pytest.mark.parametrize("p", [0.2, 0.4, 1.0])
def test_label_noise_replaces_round_p_m_labels_with_random_ones(p):
    clean = member_data(TrainingJob(Recipe(dataset=DATA.name), 200, 5), BINARY)
    noisy = member_data(TrainingJob(Recipe(dataset=DATA.name, label_noise=p), 200, 5), BINARY)
    assert torch.equal(clean.indices, noisy.indices)  # same subset: only labels change
    changed = (clean.labels != noisy.labels).sum().item()
    replaced = round(p * 200)
    # a replacement label is uniform over 2 classes: about half of them flip
    assert 0.3 * replaced <= changed <= 0.7 * replaced
    assert torch.equal(BINARY.y_test, task_view(DATA, "binary", False).y_test)  # test set untouched


def test_subsets_are_nested_across_m_and_differ_across_seeds():
    small = member_data(TrainingJob(Recipe(dataset=DATA.name), 40, 1), BINARY)
    large = member_data(TrainingJob(Recipe(dataset=DATA.name), 80, 1), BINARY)
    other = member_data(TrainingJob(Recipe(dataset=DATA.name), 40, 2), BINARY)
    assert torch.equal(large.indices[:40], small.indices)
    assert not torch.equal(other.indices, small.indices)
    with pytest.raises(ValueError, match="m=401 is outside 1..400"):
        member_data(TrainingJob(Recipe(dataset=DATA.name), 401, 1), BINARY)
