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
