"""Datasets that ship with the book's dependencies (no download) and synthetic inputs.

Every input is flattened, standardized per feature with training-set statistics and rescaled
so that ||x||^2 = input dimension, as in the paper (Lee et al. 2019, §3), which keeps the
first-layer pre-activations O(1) under the NTK parameterization.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import _validate as v


@dataclass(frozen=True)
class Dataset:
    """A train/test split: inputs of shape (N, d), targets of shape (N, k)."""

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = ""

    @property
    def n_train(self) -> int:
        return int(self.x_train.shape[0])

    @property
    def n_test(self) -> int:
        return int(self.x_test.shape[0])

    @property
    def input_dim(self) -> int:
        return int(self.x_train.shape[1])

    @property
    def out_dim(self) -> int:
        return int(self.y_train.shape[1])

    def __post_init__(self):
        for name in ("x_train", "y_train", "x_test", "y_test"):
            v.finite_array(name, getattr(self, name), ndim=2)
        v.same_length("x_train", self.x_train, "y_train", self.y_train)
        v.same_length("x_test", self.x_test, "y_test", self.y_test)
        if self.x_train.shape[1] != self.x_test.shape[1]:
            raise ValueError(f"x_train and x_test must have the same input dimension, got "
                             f"{self.x_train.shape} and {self.x_test.shape}")


def normalize_inputs(x_train: np.ndarray, x_test: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Standardize features with training statistics, then rescale rows: ||x||^2 = d."""
    x_train = np.asarray(x_train, dtype=np.float64).reshape(len(x_train), -1)
    x_test = np.asarray(x_test, dtype=np.float64).reshape(len(x_test), -1)
    mean = x_train.mean(axis=0)
    std = x_train.std(axis=0)
    std = np.where(std > 0, std, 1.0)  # constant pixels (digit borders) stay at zero

    def rescale(x):
        x = (x - mean) / std
        norms = np.linalg.norm(x, axis=1, keepdims=True)
        return x * np.sqrt(x.shape[1]) / np.where(norms > 0, norms, 1.0)

    return rescale(x_train).astype(np.float32), rescale(x_test).astype(np.float32)


def encode_targets(labels: np.ndarray, classes: Sequence[int], binary: bool) -> np.ndarray:
    """Targets for MSE: ±1 (even class label → +1, odd → -1) if ``binary``, else one-hot rows."""
    if binary:
        return np.where(labels % 2 == 0, 1.0, -1.0).astype(np.float32)[:, None]
    index = {c: i for i, c in enumerate(classes)}
    onehot = np.zeros((len(labels), len(classes)), dtype=np.float32)
    onehot[np.arange(len(labels)), [index[int(c)] for c in labels]] = 1.0
    return onehot


def split(images: np.ndarray, labels: np.ndarray, n_train: int, n_test: int, *,
          classes: Sequence[int] | None, binary: bool, seed: int, name: str) -> Dataset:
    """Random disjoint train/test subsets of labelled images, normalized and encoded."""
    n_train = v.positive_int("n_train", n_train)
    n_test = v.positive_int("n_test", n_test)
    v.nonnegative_int("seed", seed)
    labels = np.asarray(labels).astype(int).ravel()
    available = sorted(set(labels.tolist()))
    if classes is None:
        classes = available
    classes = [int(c) for c in classes]
    unknown = [c for c in classes if c not in available]
    if unknown or len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes must be >= 2 distinct labels from {available}, got classes={classes}")
    keep = np.flatnonzero(np.isin(labels, classes))
    if n_train + n_test > keep.size:
        raise ValueError(f"n_train + n_test = {n_train + n_test} exceeds the {keep.size} examples "
                         f"of classes {classes} in {name}")
    order = np.random.default_rng(seed).permutation(keep)
    tr, te = order[:n_train], order[n_train:n_train + n_test]
    x_train, x_test = normalize_inputs(images[tr], images[te])
    return Dataset(x_train, encode_targets(labels[tr], classes, binary),
                   x_test, encode_targets(labels[te], classes, binary), name=name)


def digits(n_train: int, n_test: int, *, classes: Sequence[int] | None = None,
           binary: bool = False, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, d = 64; no download).

    binary=True gives ±1 targets (even digit → +1, odd → -1) of shape (N, 1);
    otherwise one-hot targets over ``classes`` (default: all ten).
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return split(bunch.data, bunch.target, n_train, n_test, classes=classes, binary=binary,
                 seed=seed, name="digits")


def gaussian_inputs(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n i.i.d. inputs x ~ N(0, I_dim), shape (n, dim), float32 (paper §I, Fig. S9)."""
    n = v.positive_int("n", n)
    dim = v.positive_int("dim", dim)
    v.nonnegative_int("seed", seed)
    return np.random.default_rng(seed).standard_normal((n, dim)).astype(np.float32)


def interpolate(x1, x2, alphas) -> np.ndarray:
    """Points on the line x(α) = α·x1 + (1 − α)·x2, shape (len(alphas), d) (paper Fig. 2)."""
    x1 = v.finite_array("x1", x1).ravel()
    x2 = v.finite_array("x2", x2).ravel()
    if x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 must have the same shape, got {x1.shape} and {x2.shape}")
    alphas = v.finite_array("alphas", alphas, ndim=1)
    return (alphas[:, None] * x1[None, :] + (1.0 - alphas[:, None]) * x2[None, :]).astype(np.float32)


# ----------------------------------------------------------------------------- real data (paper scale)

#: CIFAR-10 class names in label order (label i is CIFAR10_CLASSES[i]).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
#: image shape (height, width, channels) of each dataset, for convolutional networks.
IMAGE_SHAPES = {"digits": (8, 8, 1), "mnist": (28, 28, 1), "cifar10": (32, 32, 3)}
DATA_DIR_ENV = "NTKLIB_DATA_DIR"
_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")
OFFLINE_HINT = ("Without internet, use ntklib.data.digits(...) instead: scikit-learn's bundled 8×8 "
                "digits, which every chapter uses at NTKLIB_SCALE=ci.")


class DataUnavailableError(RuntimeError):
    """A real dataset is neither cached on disk nor downloadable (offline, or download=False)."""


def data_dir(path: str | None = None):
    """Directory of the on-disk cache: ``path``, else $NTKLIB_DATA_DIR, else ~/.cache/ntklib."""
    import os
    from pathlib import Path

    if path is None:
        path = os.environ.get(DATA_DIR_ENV) or Path.home() / ".cache" / "ntklib"
    return Path(path).expanduser()


def _keras_fetch(name: str) -> dict:
    """Download ``name`` ("mnist" or "cifar10") with Keras' dataset loaders (TensorFlow's Keras)."""
    import socket

    from ._quiet import quiet_import

    module = quiet_import(f"keras.datasets.{name}")
    previous = socket.getdefaulttimeout()
    socket.setdefaulttimeout(30.0)  # an unreachable host fails within seconds, not minutes
    try:
        (x_train, y_train), (x_test, y_test) = module.load_data()
    finally:
        socket.setdefaulttimeout(previous)
    return dict(x_train=x_train, y_train=y_train, x_test=x_test, y_test=y_test)


def cached_arrays(name: str, *, cache_dir: str | None = None, download: bool = True,
                  fetch=None) -> dict:
    """The official train/test arrays of ``name`` ("mnist" or "cifar10"), from ``<cache>/<name>.npz``.

    On the first call the arrays are downloaded with ``fetch(name)`` (default: Keras' loaders,
    needs internet) and written to the cache; later calls read the file and never touch the
    network. Raises :class:`DataUnavailableError`, naming :func:`digits` as the offline
    alternative, when the file is missing and ``download`` is False or the download fails.
    """
    v.choice("name", name, ("mnist", "cifar10"))
    path = data_dir(cache_dir) / f"{name}.npz"
    if path.exists():
        with np.load(path, allow_pickle=False) as f:
            missing = [k for k in _ARRAY_KEYS if k not in f.files]
            if missing:
                raise ValueError(f"{path} lacks arrays {missing}; delete it to download {name} again")
            return {k: f[k] for k in _ARRAY_KEYS}
    if not download:
        raise DataUnavailableError(f"{name} is not cached in {path.parent} and download=False. "
                                   + OFFLINE_HINT)
    try:
        arrays = (fetch or _keras_fetch)(name)
    except Exception as exc:  # offline, DNS failure, HTTP error: one clear message
        raise DataUnavailableError(f"could not download {name} ({type(exc).__name__}: {exc}). "
                                   + OFFLINE_HINT) from exc
    arrays = {k: np.asarray(arrays[k]) for k in _ARRAY_KEYS}
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".part")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, **arrays)
    tmp.replace(path)  # atomic: an interrupted download never leaves a truncated cache file
    return arrays


def split_official(arrays: dict, n_train: int, n_test: int, *, classes: Sequence[int],
                   binary: bool, seed: int, name: str) -> Dataset:
    """Random subsets of the official training set (n_train) and test set (n_test) restricted to
    ``classes``, normalized with training statistics (||x||² = d) and encoded as in :func:`split`.
    """
    n_train = v.positive_int("n_train", n_train)
    n_test = v.positive_int("n_test", n_test)
    v.nonnegative_int("seed", seed)
    classes = [int(c) for c in classes]
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes must be >= 2 distinct labels, got classes={classes}")
    rng = np.random.default_rng(seed)
    picked = []
    for part, n in (("train", n_train), ("test", n_test)):
        labels = np.asarray(arrays[f"y_{part}"]).astype(int).ravel()
        keep = np.flatnonzero(np.isin(labels, classes))
        if n > keep.size:
            raise ValueError(f"n_{part} = {n} exceeds the {keep.size} {part} examples of classes "
                             f"{classes} in {name}")
        idx = np.sort(rng.choice(keep, size=n, replace=False))
        picked.append((np.asarray(arrays[f"x_{part}"])[idx], labels[idx]))
    (x_tr, l_tr), (x_te, l_te) = picked
    x_train, x_test = normalize_inputs(x_tr, x_te)
    return Dataset(x_train, encode_targets(l_tr, classes, binary),
                   x_test, encode_targets(l_te, classes, binary), name=name)


def mnist(n_train: int, n_test: int, *, classes: Sequence[int] | None = None, binary: bool = False,
          seed: int = 0, cache_dir: str | None = None, download: bool = True) -> Dataset:
    """MNIST (28×28, d = 784): ``n_train`` images from the official training set and ``n_test``
    from the test set, normalized like :func:`digits` (||x||² = 784).

    Downloaded once with Keras' loader and cached in :func:`data_dir` (needs internet the first
    time; offline it raises :class:`DataUnavailableError` naming :func:`digits`). Targets:
    one-hot over ``classes`` (default all ten), or ±1 (even → +1, odd → −1) with ``binary``.
    """
    arrays = cached_arrays("mnist", cache_dir=cache_dir, download=download)
    classes = list(range(10)) if classes is None else classes
    return split_official(arrays, n_train, n_test, classes=classes, binary=binary, seed=seed,
                          name="mnist")


def cifar10_binary(n_train: int, n_test: int, *, classes: Sequence[str] = ("airplane", "horse"),
                   seed: int = 0, cache_dir: str | None = None, download: bool = True) -> Dataset:
    """Two CIFAR-10 classes (32×32×3, d = 3072), the paper's binary task "horses vs planes":
    targets +1 for ``classes[0]``, −1 for ``classes[1]``; normalized so that ||x||² = 3072.

    Cached like :func:`mnist` (Keras' loader on first use; offline: :class:`DataUnavailableError`).
    """
    names = tuple(classes)
    if len(names) != 2 or len(set(names)) != 2:
        raise ValueError(f"classes must be two distinct CIFAR-10 class names, got {classes!r}")
    for c in names:
        v.choice("class", c, CIFAR10_CLASSES)
    arrays = cached_arrays("cifar10", cache_dir=cache_dir, download=download)
    first, second = (CIFAR10_CLASSES.index(c) for c in names)
    relabel = {}
    for part in ("train", "test"):
        labels = np.asarray(arrays[f"y_{part}"]).astype(int).ravel()
        # classes[0] → label 0 (even → +1), classes[1] → label 1 (odd → −1), others → −1 (dropped)
        relabel[f"y_{part}"] = np.where(labels == first, 0, np.where(labels == second, 1, -1))
        relabel[f"x_{part}"] = arrays[f"x_{part}"]
    return split_official(relabel, n_train, n_test, classes=[0, 1], binary=True, seed=seed,
                          name=f"cifar10 {names[0]} vs {names[1]}")
