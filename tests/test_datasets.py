import gzip
import pickle
from pathlib import Path

import numpy as np
import pytest
import torch

from pytest_fragility.errors import DatasetError
from pytest_fragility.families import datasets, local
from pytest_fragility.families.datasets import load_dataset, task_view


@pytest.fixture(scope="module")
def data_cache(tmp_path_factory) -> Path:
    return tmp_path_factory.mktemp("data-cache")


def test_mnist5k_is_the_fixed_4000_1000_split_scaled_to_unit_interval(data_cache):
    data = load_dataset("mnist5k", data_cache)
    assert data.x_train.shape == (4000, 1, 28, 28) and data.x_test.shape == (1000, 1, 28, 28)
    assert float(data.x_train.min()) == 0.0 and float(data.x_train.max()) == 1.0
    assert sorted(torch.unique(data.y_train).tolist()) == list(range(10))
    assert (data_cache / "data" / "mnist5k-v1.npz").exists()
    load_dataset.cache_clear()
    again = load_dataset("mnist5k", data_cache)  # from the .npz copy
    assert torch.equal(again.x_test, data.x_test) and torch.equal(again.y_train, data.y_train)


def test_mnist1d_has_room_for_m_8000_and_a_2000_test_set(data_cache):
    data = load_dataset("mnist1d", data_cache)
    assert data.x_train.shape == (8000, 1, 40) and data.x_test.shape == (2000, 1, 40)
    assert abs(float(data.x_train.mean())) < 1e-3  # standardized on the train pool
    assert abs(float(data.x_train.reshape(8000, -1).std(0).mean()) - 1) < 1e-2


def test_digits_and_binary_task():
    data = load_dataset("digits")
    assert data.x_train.shape == (1400, 1, 8, 8) and data.x_test.shape == (397, 1, 8, 8)
    view = task_view(data, "binary", pixel_shuffle=False)
    assert view.num_classes == 2
    assert torch.equal(view.y_train, (data.y_train >= 5).long())
    assert task_view(data, "multiclass", False).num_classes == 10


def test_pixel_shuffle_is_one_fixed_permutation_of_train_and_test():
    data = load_dataset("digits")
    view = task_view(data, "binary", pixel_shuffle=True)
    perm = datasets.pixel_permutation(64)
    assert torch.equal(view.x_train.reshape(1400, -1), data.x_train.reshape(1400, -1)[:, perm])
    assert torch.equal(view.x_test.reshape(397, -1), data.x_test.reshape(397, -1)[:, perm])
    assert not torch.equal(perm, torch.arange(64))


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(Exception, match="unknown dataset 'mnist9k'.*mnist5k"):
        load_dataset("mnist9k")


# -- local IDX and CIFAR-10 files, built tiny in the test --------------------------------------
def _idx_bytes(array: np.ndarray, magic: int) -> bytes:
    header = magic.to_bytes(4, "big") + b"".join(d.to_bytes(4, "big") for d in array.shape)
    return header + array.astype(np.uint8).tobytes()


def _write_idx_folder(folder: Path, n_train=12, n_test=5, compress=False) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(0)
    parts = {
        "train-images-idx3-ubyte": (rng.integers(0, 256, (n_train, 28, 28)), local.IDX_IMAGES_MAGIC),
        "train-labels-idx1-ubyte": (rng.integers(0, 10, n_train), local.IDX_LABELS_MAGIC),
        "t10k-images-idx3-ubyte": (rng.integers(0, 256, (n_test, 28, 28)), local.IDX_IMAGES_MAGIC),
        "t10k-labels-idx1-ubyte": (rng.integers(0, 10, n_test), local.IDX_LABELS_MAGIC),
    }
    for name, (array, magic) in parts.items():
        data = _idx_bytes(array, magic)
        if compress:
            (folder / f"{name}.gz").write_bytes(gzip.compress(data))
        else:
            (folder / name).write_bytes(data)


@pytest.mark.parametrize("name, folder, compress", [
    ("mnist", "mnist", False), ("fashionmnist", "FashionMNIST/raw", True), ("kmnist", "kmnist", True)])
def test_idx_datasets_load_from_a_local_folder(tmp_path, name, folder, compress):
    _write_idx_folder(tmp_path / folder, compress=compress)
    data = datasets._LOADERS[name](None, tmp_path)
    assert data.x_train.shape == (12, 1, 28, 28) and data.x_test.shape == (5, 1, 28, 28)
    assert 0.0 <= float(data.x_train.min()) and float(data.x_train.max()) <= 1.0


def test_truncated_idx_file_names_the_file_and_the_expected_size(tmp_path):
    _write_idx_folder(tmp_path / "mnist")
    path = tmp_path / "mnist" / "train-images-idx3-ubyte"
    path.write_bytes(path.read_bytes()[:-100])
    with pytest.raises(DatasetError, match=r"train-images-idx3-ubyte: header says shape \(12, 28, 28\) "
                                           r"= 9408 bytes of data, found 9308 \(truncated\)"):
        datasets._LOADERS["mnist"](None, tmp_path)


def test_wrong_magic_and_truncated_gzip_are_reported(tmp_path):
    _write_idx_folder(tmp_path / "mnist")
    labels = tmp_path / "mnist" / "train-labels-idx1-ubyte"
    images = tmp_path / "mnist" / "train-images-idx3-ubyte"
    labels.write_bytes(images.read_bytes())  # an image file where labels belong
    with pytest.raises(DatasetError, match="train-labels-idx1-ubyte: magic number 0x00000803, expected IDX labels"):
        datasets._LOADERS["mnist"](None, tmp_path)
    _write_idx_folder(tmp_path / "kmnist", compress=True)
    gz = tmp_path / "kmnist" / "t10k-images-idx3-ubyte.gz"
    gz.write_bytes(gz.read_bytes()[:40])
    with pytest.raises(DatasetError, match="t10k-images-idx3-ubyte.gz: cannot read"):
        datasets._LOADERS["kmnist"](None, tmp_path)


def test_missing_dataset_says_where_it_looked_and_how_to_provide_it(tmp_path):
    with pytest.raises(DatasetError, match="dataset 'mnist' not found: looked in .*mnist.*FRAGILITY_DATA_DIR"):
        datasets._LOADERS["mnist"](None, tmp_path)
    with pytest.raises(DatasetError, match="--fragility-data-dir or FRAGILITY_DATA_DIR"):
        datasets._LOADERS["cifar10"](None, None)


def _write_cifar(folder: Path, n=4, bad_batch: str | None = None) -> None:
    folder.mkdir(parents=True)
    rng = np.random.default_rng(1)
    for name in (*local.CIFAR_TRAIN, local.CIFAR_TEST):
        batch = {b"data": rng.integers(0, 256, (n, 3072)).astype(np.uint8),
                 b"labels": rng.integers(0, 10, n).tolist()}
        if name == bad_batch:
            batch[b"data"] = batch[b"data"][:, :100]
        (folder / name).write_bytes(pickle.dumps(batch, protocol=2))


def test_cifar10_python_batches_load_and_bad_shapes_are_named(tmp_path):
    _write_cifar(tmp_path / "cifar-10-batches-py")
    data = datasets._LOADERS["cifar10"](None, tmp_path)
    assert data.x_train.shape == (20, 3, 32, 32) and data.x_test.shape == (4, 3, 32, 32)
    _write_cifar(tmp_path / "other" / "cifar-10-batches-py", bad_batch="data_batch_3")
    with pytest.raises(DatasetError, match=r"data_batch_3: data has shape \(4, 100\) uint8, expected \(N, 3072\)"):
        datasets._LOADERS["cifar10"](None, tmp_path / "other")


def test_cifar_reader_refuses_pickles_that_run_code(tmp_path):
    folder = tmp_path / "cifar-10-batches-py"
    _write_cifar(folder)

    class Exploit:
        def __reduce__(self):
            return (print, ("pwned",))

    (folder / "test_batch").write_bytes(pickle.dumps({b"data": Exploit(), b"labels": []}, protocol=2))
    with pytest.raises(DatasetError, match="refusing to load __builtin__.print"):
        datasets._LOADERS["cifar10"](None, tmp_path)
