"""Readers for datasets a user keeps in a local folder (IDX and CIFAR-10 batches).

Every reader checks magic numbers, shapes and lengths, so a truncated download or a
wrong file fails with a message naming the file and what was expected, never with an
obscure reshape error later.
"""

from __future__ import annotations

import gzip
import io
import pickle
import zlib
from pathlib import Path

import numpy as np

from pytest_fragility.errors import DatasetError

IDX_IMAGES_MAGIC = 0x00000803
IDX_LABELS_MAGIC = 0x00000801

# Folder names tried under the data directory, in order (torchvision's layout first).
IDX_FOLDERS = {
    "mnist": ("MNIST/raw", "mnist", "MNIST"),
    "fashionmnist": ("FashionMNIST/raw", "fashionmnist", "fashion-mnist", "FashionMNIST"),
    "kmnist": ("KMNIST/raw", "kmnist", "KMNIST"),
}
IDX_FILES = {
    "train_images": "train-images-idx3-ubyte",
    "train_labels": "train-labels-idx1-ubyte",
    "test_images": "t10k-images-idx3-ubyte",
    "test_labels": "t10k-labels-idx1-ubyte",
}
CIFAR_FOLDER = "cifar-10-batches-py"
CIFAR_TRAIN = tuple(f"data_batch_{i}" for i in range(1, 6))
CIFAR_TEST = "test_batch"


def _read_bytes(path: Path) -> bytes:
    opener = gzip.open if path.suffix == ".gz" else open
    try:
        with opener(path, "rb") as handle:
            return handle.read()
    except (OSError, EOFError, zlib.error) as error:  # gzip: EOFError if truncated, zlib.error if corrupt
        raise DatasetError(f"{path}: cannot read ({type(error).__name__}: {error}); the file may be truncated "
                           "or damaged: download it again") from None


def read_idx(path: Path, expected_magic: int) -> np.ndarray:
    """An IDX file (gzipped or not) as a uint8 array, after checking header and size."""
    data = _read_bytes(path)
    if len(data) < 8:
        raise DatasetError(f"{path}: {len(data)} bytes is too short for an IDX header")
    magic = int.from_bytes(data[:4], "big")
    if magic != expected_magic:
        kind = "images (0x00000803)" if expected_magic == IDX_IMAGES_MAGIC else "labels (0x00000801)"
        raise DatasetError(f"{path}: magic number {magic:#010x}, expected IDX {kind}")
    ndim = magic & 0xFF
    header = 4 + 4 * ndim
    if len(data) < header:
        raise DatasetError(f"{path}: header of {ndim} dimensions is truncated")
    shape = tuple(int.from_bytes(data[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    expected = int(np.prod(shape))
    found = len(data) - header
    if found != expected:
        raise DatasetError(
            f"{path}: header says shape {shape} = {expected} bytes of data, found {found} "
            f"({'truncated' if found < expected else 'trailing bytes'})"
        )
    return np.frombuffer(data, dtype=np.uint8, offset=header).reshape(shape)


def _find_idx_file(folder: Path, stem: str) -> Path:
    for candidate in (folder / stem, folder / f"{stem}.gz"):
        if candidate.exists():
            return candidate
    raise DatasetError(f"{folder}: missing {stem} (or {stem}.gz)")


def find_folder(data_dir: Path, names: tuple[str, ...], dataset: str) -> Path:
    for name in names:
        if (data_dir / name).is_dir():
            return data_dir / name
    tried = ", ".join(str(data_dir / n) for n in names)
    raise DatasetError(
        f"dataset {dataset!r} not found: looked in {tried}. Put the original files there "
        "(see docs/families.md) and point --fragility-data-dir or FRAGILITY_DATA_DIR at "
        f"{data_dir}"
    )


def load_idx_dataset(name: str, data_dir: Path) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) of an MNIST-format dataset, pixels as uint8 (N, 28, 28)."""
    folder = find_folder(data_dir, IDX_FOLDERS[name], name)
    arrays = {}
    for part, stem in IDX_FILES.items():
        magic = IDX_IMAGES_MAGIC if part.endswith("images") else IDX_LABELS_MAGIC
        arrays[part] = read_idx(_find_idx_file(folder, stem), magic)
    for split in ("train", "test"):
        images, labels = arrays[f"{split}_images"], arrays[f"{split}_labels"]
        if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
            raise DatasetError(
                f"{folder}: {split} images have shape {images.shape} and labels {labels.shape}; "
                "expected (N, H, W) images and N labels"
            )
    return arrays["train_images"], arrays["train_labels"], arrays["test_images"], arrays["test_labels"]


class _NumpyOnlyUnpickler(pickle.Unpickler):
    """Unpickles CIFAR-10 batches without executing anything but numpy array rebuilding."""

    ALLOWED = {
        ("numpy.core.multiarray", "_reconstruct"),
        ("numpy._core.multiarray", "_reconstruct"),
        ("numpy", "ndarray"),
        ("numpy", "dtype"),
        ("_codecs", "encode"),
    }

    def find_class(self, module: str, name: str) -> object:
        if (module, name) not in self.ALLOWED:
            raise pickle.UnpicklingError(f"refusing to load {module}.{name} from a data file")
        return super().find_class(module, name)


def _read_cifar_batch(path: Path) -> tuple[np.ndarray, np.ndarray]:
    if not path.exists():
        raise DatasetError(f"{path.parent}: missing CIFAR-10 batch {path.name}")
    raw = _read_bytes(path)
    try:
        batch = _NumpyOnlyUnpickler(io.BytesIO(raw), encoding="bytes").load()
    except Exception as error:  # any malformed pickle is a data error for the user
        raise DatasetError(f"{path}: not a CIFAR-10 python batch ({error})") from None
    if not isinstance(batch, dict) or b"data" not in batch or b"labels" not in batch:
        raise DatasetError(f"{path}: expected a dict with b'data' and b'labels'")
    data = np.asarray(batch[b"data"])
    labels = np.asarray(batch[b"labels"], dtype=np.int64)
    if data.ndim != 2 or data.shape[1] != 3072 or data.dtype != np.uint8:
        raise DatasetError(f"{path}: data has shape {data.shape} {data.dtype}, expected (N, 3072) uint8")
    if len(labels) != len(data):
        raise DatasetError(f"{path}: {len(data)} images but {len(labels)} labels")
    return data.reshape(-1, 3, 32, 32), labels


def load_cifar10(data_dir: Path) -> tuple[np.ndarray, ...]:
    """(x_train, y_train, x_test, y_test) of CIFAR-10 python batches, uint8 (N, 3, 32, 32)."""
    folder = find_folder(data_dir, (CIFAR_FOLDER, "cifar10", "CIFAR10"), "cifar10")
    train = [_read_cifar_batch(folder / name) for name in CIFAR_TRAIN]
    x_test, y_test = _read_cifar_batch(folder / CIFAR_TEST)
    x_train = np.concatenate([x for x, _ in train])
    y_train = np.concatenate([y for _, y in train])
    return x_train, y_train, x_test, y_test
