"""The cache folder under faults: foreign folders, kill -9, flipped bytes, read-only, changed data.

Every test injects the fault for real (a killed process, bytes changed on disk, a read-only
mount, files rewritten) and asserts what the user sees and that nothing was lost.
"""

from __future__ import annotations

import gzip
import json
import re
import signal

import numpy as np
import pytest
import torch

import pytest_fragility as pf
from pytest_fragility.cachedir import MARKER, SIGNATURE, ReadOnlyCacheWarning
from pytest_fragility.cli import main
from pytest_fragility.errors import CacheError, CorruptCacheWarning, DatasetError
from pytest_fragility.families.budgets import Budget
from pytest_fragility.families.datasets import load_dataset
from pytest_fragility.families.family import Family
from pytest_fragility.families.local import read_idx
from pytest_fragility.families.recipe import Recipe
from pytest_fragility.runs.cache import Cache
from tests.faults.processes import python, read_only
from tests.helpers import toy_family


def _project(tmp_path):
    """A user's project folder: what `cache clear --cache .` must never touch."""
    project = tmp_path / "project"
    (project / "data").mkdir(parents=True)
    (project / "data" / "measurements.csv").write_text("a,b\n1,2\n")
    (project / "runs").mkdir()
    (project / "runs" / "notes.txt").write_text("keep me")
    return project


def _files(folder):
    return sorted(str(p.relative_to(folder)) for p in folder.rglob("*"))


# -- the marker ----------------------------------------------------------------------------

def test_cache_clear_refuses_a_folder_that_is_not_a_cache(tmp_path, capsys):
    project = _project(tmp_path)
    before = _files(project)
    assert main(["cache", "clear", "--cache", str(project)]) == 2
    err = capsys.readouterr().err
    assert f"{project} is not a pytest-fragility cache (no {MARKER}), so nothing was removed" in err
    assert main(["cache", "info", "--cache", str(project)]) == 2
    assert "is not a pytest-fragility cache" in capsys.readouterr().err
    assert _files(project) == before and (project / "data" / "measurements.csv").read_text() == "a,b\n1,2\n"


def test_training_into_a_foreign_folder_is_refused_before_anything_is_written(tmp_path):
    project = _project(tmp_path)
    before = _files(project)
    with pytest.raises(CacheError, match=rf"{re.escape(str(project))} is not a pytest-fragility cache .*"
                                         r"nothing is written there; point --fragility-cache"):
        toy_family().runs("tiny", cache=project, progress=False)
    assert _files(project) == before


def test_a_new_cache_is_tagged_and_clear_empties_it_but_keeps_the_tag(tmp_path, capsys):
    cache = tmp_path / "cache"
    toy_family().runs("tiny", cache=cache, progress=False)
    assert (cache / MARKER).read_text().startswith(SIGNATURE)  # the Cache Directory Tagging convention
    (cache / "figures").mkdir()
    (cache / "figures" / "abc.png").write_bytes(b"png")
    assert main(["cache", "clear", "--cache", str(cache)]) == 0
    assert "removed 4 runs" in capsys.readouterr().out
    assert sorted(p.name for p in cache.iterdir()) == [".gitignore", MARKER]
    assert main(["cache", "clear", "--cache", str(cache)]) == 0  # still recognized as a cache


def test_a_cache_made_before_the_tag_is_still_recognized(tmp_path):
    cache = tmp_path / "old"
    (cache / "runs" / "ab").mkdir(parents=True)
    (cache / "runs" / "ab" / "ab12.safetensors").write_bytes(b"old entry")
    (cache / ".gitignore").write_text("# created by pytest-fragility: trained models, not source\n*\n")
    assert Cache(cache).clear() == 1
    toy_family().runs("tiny", cache=cache, progress=False)
    assert (cache / MARKER).exists()


# -- kill -9 between a temporary write and its rename ----------------------------------------

KILLED_WRITER = """
import os, signal
import pytest_fragility.files as files
from tests.helpers import toy_family

real_replace, writes = os.replace, []
def replace(source, target):
    entry = str(target).endswith(".safetensors")
    writes.extend([target] if entry else [])
    if entry and len(writes) == 3:  # two entries are in place, the third is written but not renamed
        os.kill(os.getpid(), signal.SIGKILL)
    real_replace(source, target)
files.os.replace = replace
toy_family().runs("tiny", cache={cache!r}, progress=False)
"""


def test_kill_9_between_write_and_rename_leaves_an_orphan_that_is_ignored_and_cleared(tmp_path, capsys):
    cache = tmp_path / "cache"
    killed = python(KILLED_WRITER.format(cache=str(cache)))
    assert killed.returncode == -signal.SIGKILL, killed.stderr
    orphans = [p for p in cache.rglob("*.tmp")]
    assert len(orphans) == 1 and orphans[0].name.startswith(".")
    info = Cache(cache).info()
    assert info["runs"] == 2 and info["orphans"] == 1
    assert info["bytes"] == sum(p.stat().st_size for p in cache.rglob("*") if p.is_file() and p not in orphans)
    assert main(["cache", "info", "--cache", str(cache)]) == 0
    assert "2 runs" in capsys.readouterr().out
    runs = toy_family().runs("tiny", cache=cache, progress=False)  # resumes: the orphan is not an entry
    assert (runs.training.trained, runs.training.cached, len(runs)) == (2, 2, 4)
    Cache(cache).clear()
    assert not list(cache.rglob("*.tmp"))


# -- flipped bytes: one checksum over record and weights --------------------------------------

def _entry(cache, run):
    return next(p for p in Cache(cache).models.entries() if p.stem == run.key)


def _replace_in_file(path, old: bytes, new: bytes):
    data = path.read_bytes()
    assert data.count(old) == 1, old
    path.write_bytes(data.replace(old, new))


@pytest.mark.parametrize("damage", ["test_error value", "record key"])
def test_a_damaged_training_record_is_removed_and_retrained_with_a_warning_naming_the_file(tmp_path, damage):
    family = toy_family()
    run = family.runs("tiny", cache=tmp_path, progress=False)[0]
    entry = _entry(tmp_path, run)
    if damage == "test_error value":  # a digit of the record: the header still parses
        text = re.search(rb'\\"test_error\\": ([0-9.e-]+)', entry.read_bytes()).group(1)
        changed = text[:-1] + (b"7" if text[-1:] != b"7" else b"3")
        _replace_in_file(entry, b'test_error\\": ' + text, b'test_error\\": ' + changed)
    else:
        _replace_in_file(entry, b'\\"test_error\\"', b'\\"test_errXr\\"')
    with pytest.warns(CorruptCacheWarning, match=rf"corrupt cache entry {re.escape(str(entry))} .*checksum "
                                                 r"mismatch in the training record.*removed, it will be retrained"):
        again = family.runs("tiny", cache=tmp_path, progress=False)
    assert (again.training.trained, again.training.cached, len(again)) == (1, 3, 4)
    assert again[0].test_error == run.test_error  # the retrained record, not the damaged one


def test_flipped_weight_bytes_before_serving_retrain_when_the_run_is_measured(tmp_path):
    family = toy_family()
    run = family.runs("tiny", cache=tmp_path, progress=False)[0]
    entry = _entry(tmp_path, run)
    data = bytearray(entry.read_bytes())
    data[-5] ^= 0x55
    entry.write_bytes(bytes(data))
    with pytest.warns(CorruptCacheWarning, match=rf"{re.escape(str(entry))} .*weights.*retrained"):
        result = pf.audit("param_norm", family, budget="tiny", cache=tmp_path, progress=False)
    assert not any(m.error for m in result.measurements)  # not "checksum mismatch" in a cell
    assert result.runs["total"] == 4


def test_a_value_file_of_the_wrong_shape_is_recomputed_with_a_warning_naming_it(tmp_path):
    family = toy_family()
    first = pf.audit("param_norm", family, budget="tiny", cache=tmp_path, progress=False)
    value_file = next((tmp_path / "values").rglob("*.json"))
    value_file.write_text(json.dumps([1, 2, 3]))  # valid JSON, not a map of values
    with pytest.warns(CorruptCacheWarning, match=rf"damaged value file {re.escape(str(value_file))} .*not an object"):
        again = pf.audit("param_norm", family, budget="tiny", cache=Cache(tmp_path), progress=False)
    assert not any(m.error for m in again.measurements)
    assert [m.raw for m in again.measurements] == [m.raw for m in first.measurements]
    assert isinstance(json.loads(value_file.read_text()), dict)  # rewritten whole


def test_a_truncated_builtin_dataset_file_is_rebuilt_with_a_warning(shared_cache, tmp_path):
    good = load_dataset("mnist5k", shared_cache)
    cache = tmp_path / "cache"
    Cache(cache).writable()
    (cache / "data").mkdir()
    stored = cache / "data" / "mnist5k-v1.npz"
    data = (shared_cache / "data" / "mnist5k-v1.npz").read_bytes()
    stored.write_bytes(data[: len(data) // 3])
    with pytest.warns(CorruptCacheWarning, match=rf"damaged dataset file {re.escape(str(stored))} \(BadZipFile"):
        rebuilt = load_dataset("mnist5k", cache)
    assert torch.equal(rebuilt.x_train, good.x_train) and rebuilt.fingerprint == good.fingerprint
    assert stored.stat().st_size == len(data)


def test_a_corrupt_gz_deflate_stream_is_a_dataset_error_naming_the_file(tmp_path):
    path = tmp_path / "train-labels-idx1-ubyte.gz"
    raw = (0x00000801).to_bytes(4, "big") + (2000).to_bytes(4, "big") + bytes(range(10)) * 200
    packed = bytearray(gzip.compress(raw))
    packed[20:28] = b"\xff" * 8  # inside the deflate stream
    path.write_bytes(bytes(packed))
    with pytest.raises(DatasetError, match=rf"{re.escape(str(path))}: cannot read \(error: .*download it again"):
        read_idx(path, 0x00000801)


# -- the cache key covers the data ----------------------------------------------------------

def _write_idx(folder, labels_train, labels_test):
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for stem, labels in (("train", labels_train), ("t10k", labels_test)):
        images = (rng.random((len(labels), 6, 6)) * 255).astype(np.uint8)
        images[:, 0, :] = labels[:, None] * 25  # the class is in the first row: learnable
        header = (0x00000803).to_bytes(4, "big") + b"".join(n.to_bytes(4, "big") for n in images.shape)
        (folder / f"{stem}-images-idx3-ubyte").write_bytes(header + images.tobytes())
        header = (0x00000801).to_bytes(4, "big") + len(labels).to_bytes(4, "big")
        (folder / f"{stem}-labels-idx1-ubyte").write_bytes(header + labels.astype(np.uint8).tobytes())


def test_changed_local_data_trains_new_networks(tmp_path):
    rng = np.random.default_rng(1)
    train, test = rng.integers(0, 10, 120), rng.integers(0, 10, 60)
    _write_idx(tmp_path / "data" / "MNIST" / "raw", train, test)
    family = Family("local-mnist", Recipe(dataset="mnist", width=16, lr=0.1, batch_size=16, max_epochs=80),
                    budgets={"tiny": Budget("tiny", seeds=(0, 1), sizes=(40, 80))})
    options = {"cache": tmp_path / "cache", "data_dir": tmp_path / "data", "progress": False}
    first = family.runs("tiny", **options)
    _write_idx(tmp_path / "data" / "MNIST" / "raw", 9 - train, 9 - test)  # every binary label flips
    load_dataset.cache_clear()  # as a new process would
    second = family.runs("tiny", **options)
    assert (second.training.trained, second.training.cached) == (4, 0)
    assert {r.key for r in first}.isdisjoint({r.key for r in second})
    for run in second:  # each record describes the network on the data it is measured on
        predictions = (run.model(run.x_train).squeeze(-1) > 0).long()
        assert (predictions != run.y_train).float().mean().item() == pytest.approx(run.train_error, abs=1e-6)


# -- read-only cache, and a cache path that is a file ---------------------------------------

READ_ONLY_SESSION = """
import warnings, pytest_fragility as pf
from tests.helpers import toy_family
from pytest_fragility.runs.cache import Cache
warnings.simplefilter("always")
family, cache = toy_family(), Cache({cache!r})
with warnings.catch_warnings(record=True) as caught:
    stored = family.runs("tiny", cache=cache, progress=False)
    new = family.runs("tiny", [pf.perturb.lr(2.0)], cache=cache, progress=False)
    again = family.runs("tiny", [pf.perturb.lr(2.0)], cache=cache, progress=False)
    audited = pf.audit("param_norm", family, budget="tiny", cache=cache, progress=False)
    elsewhere = family.runs("tiny", cache=Cache({missing!r}), progress=False)
print("stored", stored.training.trained, stored.training.cached)
print("new", new.training.trained, new.training.cached, "again", again.training.trained)
print("audit", audited.verdict, sum(1 for m in audited.measurements if m.error))
print("elsewhere", elsewhere.training.trained, len(elsewhere))
for w in caught:
    print("WARNING", w.category.__name__, str(w.message))
"""


def test_a_read_only_cache_is_read_warns_once_and_computes_in_memory(tmp_path):
    cache = tmp_path / "ro"
    toy_family().runs("tiny", cache=cache, progress=False)
    before = {str(p): p.stat().st_mtime_ns for p in cache.rglob("*")}
    done = read_only(tmp_path, READ_ONLY_SESSION.format(cache=str(cache), missing=str(tmp_path / "new-cache")))
    assert done.returncode == 0, done.stderr
    lines = done.stdout.splitlines()
    assert "stored 0 4" in lines  # read from the cache
    assert "new 4 4 again 0" in lines  # trained once, then served from memory
    assert any(line.startswith("audit ") and line.endswith(" 0") for line in lines)  # values in memory
    assert "elsewhere 4 4" in lines  # a cache that cannot even be created still trains
    warned = [line for line in lines if line.startswith(f"WARNING {ReadOnlyCacheWarning.__name__}")]
    mine = [w for w in warned if f"cache folder {cache} cannot be written" in w]
    assert len(mine) == 1 and "kept in memory for this process only" in mine[0], warned
    assert "Traceback" not in done.stderr
    assert {str(p): p.stat().st_mtime_ns for p in cache.rglob("*")} == before


def test_a_cache_path_that_is_a_file_is_a_clear_error(tmp_path, monkeypatch, capsys):
    occupied = tmp_path / "cache-file"
    occupied.write_text("not a folder")
    monkeypatch.setenv("FRAGILITY_CACHE_DIR", str(occupied))
    with pytest.raises(CacheError, match=rf"cache folder {re.escape(str(occupied))} is a file, not a folder; "
                                         "point --fragility-cache or FRAGILITY_CACHE_DIR at a folder"):
        toy_family().runs("tiny", progress=False)
    with pytest.raises(CacheError, match=rf"cannot be created: {re.escape(str(occupied))} is a file"):
        toy_family().runs("tiny", cache=occupied / "sub", progress=False)
    assert main(["cache", "info"]) == 2
    assert "is a file, not a folder" in capsys.readouterr().err
    assert occupied.read_text() == "not a folder"


def test_damaged_entries_in_a_read_only_cache_are_reported_and_retrained_in_memory(tmp_path):
    cache = tmp_path / "ro"
    family = toy_family()
    run = family.runs("tiny", cache=cache, progress=False)[0]
    _replace_in_file(_entry(cache, run), b'\\"test_error\\"', b'\\"test_errXr\\"')
    damaged = _entry(cache, run).read_bytes()
    code = ("import warnings\nfrom tests.helpers import toy_family\nwarnings.simplefilter('always')\n"
            f"runs = toy_family().runs('tiny', cache={str(cache)!r}, progress=False)\n"
            "print('counts', runs.training.trained, runs.training.cached)")
    done = read_only(tmp_path, code)
    assert done.returncode == 0, done.stderr
    assert "counts 1 3" in done.stdout
    assert "corrupt cache entry" in done.stderr and "Traceback" not in done.stderr
    assert _entry(cache, run).read_bytes() == damaged  # nothing written to a read-only cache
