import multiprocessing
import re
import warnings

import pytest
import torch

from pytest_fragility.runs.cache import Cache, default_cache_dir
from pytest_fragility.runs.model_store import CorruptCacheWarning
from tests.helpers import toy_family


def test_round_trip_keeps_weights_records_and_writes_a_gitignore(tmp_path):
    family = toy_family()
    runs = family.runs("tiny", cache=tmp_path, progress=False)
    assert runs.training.trained == 4 and runs.training.cached == 0
    again = family.runs("tiny", cache=tmp_path, progress=False)
    assert again.training.trained == 0 and again.training.cached == 4
    for first, second in zip(runs, again):
        assert first.key == second.key and first.test_error == second.test_error
        for (name, a), b in zip(first.model.state_dict().items(), second.model.state_dict().values()):
            assert torch.equal(a, b), name
    assert (tmp_path / ".gitignore").read_text().strip().endswith("*")
    assert Cache(tmp_path).info()["runs"] == 4


def test_cached_run_reloads_what_was_trained(tmp_path):
    from pytest_fragility.families.datasets import task_view
    from pytest_fragility.runs.grid import grid
    from pytest_fragility.train.batched import train_batched

    family = toy_family()
    run = family.runs("tiny", cache=tmp_path, progress=False)[0]
    job = grid(family, "tiny")[0].job
    view = task_view(family.dataset, "binary", False)
    # retrained alone rather than in its 2-member ensemble: equal up to float rounding
    trained = train_batched([job], view, family.model, family.init, torch.device("cpu"))[0]
    for name, value in run.model.state_dict().items():
        torch.testing.assert_close(value, trained.final_state[name], rtol=1e-4, atol=1e-5)
    for name, value in run.init_model.state_dict().items():
        assert torch.equal(value, trained.init_state[name])
    assert len(run.x_train) == run.m == 40 and job.key() == run.key


@pytest.mark.parametrize("damage", ["truncate", "garbage"])
def test_corrupt_entry_is_reported_and_retrained(tmp_path, damage):
    family = toy_family()
    family.runs("tiny", cache=tmp_path, progress=False)
    entry = next(Cache(tmp_path).models.entries())
    data = entry.read_bytes()
    entry.write_bytes(data[: len(data) // 2] if damage == "truncate" else b"not a safetensors file")
    with pytest.warns(CorruptCacheWarning, match="corrupt cache entry .* removed, it will be retrained"):
        runs = family.runs("tiny", cache=tmp_path, progress=False)
    assert runs.training.trained == 1 and runs.training.cached == 3
    assert len(runs) == 4


def test_weights_damaged_after_serving_are_retrained_when_loaded(tmp_path):
    family = toy_family()
    run = family.runs("tiny", cache=tmp_path, progress=False)[0]
    entry = next(p for p in Cache(tmp_path).models.entries() if p.stem == run.key)
    original = {k: v.clone() for k, v in run.model.state_dict().items()}
    run.release()
    data = bytearray(entry.read_bytes())
    data[-3] ^= 0xFF  # inside the last tensor: the header (and the record) stay valid
    entry.write_bytes(bytes(data))
    with pytest.warns(CorruptCacheWarning, match=rf"corrupt cache entry {re.escape(str(entry))} .*checksum "
                                                 r"mismatch in the weights.* it will be retrained"):
        model = run.model
    for name, value in model.state_dict().items():  # retrained alone: equal up to float rounding
        torch.testing.assert_close(value, original[name], rtol=1e-4, atol=1e-5)
    assert entry.exists()  # stored again, so the next session finds it
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        assert family.runs("tiny", cache=tmp_path, progress=False).training.trained == 0


def test_leftover_temporary_file_from_a_killed_writer_is_ignored(tmp_path):
    family = toy_family()
    family.runs("tiny", cache=tmp_path, progress=False)
    entry = next(Cache(tmp_path).models.entries())
    entry.rename(entry.with_name(f".{entry.name}.999.tmp"))  # as if killed before the rename
    runs = family.runs("tiny", cache=tmp_path, progress=False)
    assert runs.training.trained == 1


def _train_in_process(cache_dir, queue):
    from tests.helpers import toy_family

    runs = toy_family().runs("tiny", cache=cache_dir, progress=False)
    queue.put((runs.training.trained, runs.training.cached))


def test_two_processes_asking_for_the_same_runs_train_each_once(tmp_path):
    context = multiprocessing.get_context("spawn")
    queue = context.Queue()
    workers = [context.Process(target=_train_in_process, args=(str(tmp_path), queue)) for _ in range(2)]
    for worker in workers:
        worker.start()
    results = [queue.get(timeout=120) for _ in workers]
    for worker in workers:
        worker.join(timeout=60)
    trained = sum(t for t, _ in results)
    assert trained == 4, results  # each of the 4 runs trained by exactly one process
    assert all(t + c == 4 for t, c in results)


def test_default_cache_dir_honours_the_environment(tmp_path, monkeypatch):
    monkeypatch.setenv("FRAGILITY_CACHE_DIR", str(tmp_path / "elsewhere"))
    assert default_cache_dir() == tmp_path / "elsewhere"
    monkeypatch.delenv("FRAGILITY_CACHE_DIR")
    assert default_cache_dir(tmp_path) == tmp_path / ".fragility"


def test_measure_values_merge_and_survive_a_damaged_file(tmp_path):
    cache = Cache(tmp_path)
    cache.values.put("ab12", {"path_norm": 1.5})
    cache.values.put("ab12", {"params": 10.0})
    assert cache.values.get("ab12") == {"path_norm": 1.5, "params": 10.0}
    (tmp_path / "values" / "ab" / "ab12.json").write_text("{broken")
    with pytest.warns(CorruptCacheWarning, match="damaged value file .*ab12.json"):
        assert cache.values.get("ab12", fresh=True) == {}
    with pytest.warns(CorruptCacheWarning):
        assert Cache(tmp_path).values.get("ab12") == {}  # another process


def test_clear_removes_everything(tmp_path):
    toy_family().runs("tiny", cache=tmp_path, progress=False)
    cache = Cache(tmp_path)
    assert cache.clear() == 4 and cache.info()["runs"] == 0
