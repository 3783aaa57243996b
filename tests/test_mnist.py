"""The MNIST loader: every source, and every way a file can be wrong."""

import functools
import gzip
import hashlib
import http.server
import os
import threading
from pathlib import Path

import numpy as np
import pytest

from compare import mnist
from compare.mnist import IDX_NAMES, MNISTError, load_mnist


def write_idx(path: Path, array: np.ndarray, gz: bool = False) -> Path:
    """Write `array` (uint8) as an IDX file: magic 0x0000 08 ndim, big-endian dims, bytes."""
    header = bytes([0, 0, 0x08, array.ndim]) + b"".join(d.to_bytes(4, "big") for d in array.shape)
    data = header + array.astype(np.uint8).tobytes()
    if gz:
        path = path.with_name(path.name + ".gz")
        data = gzip.compress(data)
    path.write_bytes(data)
    return path


def synthetic(n_train: int, n_test: int, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {
        "x_train": rng.integers(0, 256, (n_train, 28, 28), dtype=np.uint8),
        "y_train": rng.integers(0, 10, n_train, dtype=np.uint8),
        "x_test": rng.integers(0, 256, (n_test, 28, 28), dtype=np.uint8),
        "y_test": rng.integers(0, 10, n_test, dtype=np.uint8),
    }


def write_idx_dir(directory: Path, arrays: dict[str, np.ndarray], gz_keys=("x_train", "y_test")) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    for key, name in IDX_NAMES.items():
        write_idx(directory / name, arrays[key], gz=key in gz_keys)
    return directory


@pytest.fixture
def small_dir(tmp_path) -> tuple[Path, dict[str, np.ndarray]]:
    arrays = synthetic(100, 20)
    return write_idx_dir(tmp_path / "idx", arrays), arrays


@pytest.fixture(autouse=True)
def isolated_environment(monkeypatch, tmp_path):
    """No test may find the user's real caches or reach the network by accident."""
    for var in ("MNIST_DIR", "TORCHVISION_ROOT"):
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("KERAS_HOME", str(tmp_path / "keras_home"))
    monkeypatch.setenv("MNIST_CACHE", str(tmp_path / "cache"))
    monkeypatch.chdir(tmp_path)


def test_reads_a_small_idx_directory_gzipped_or_not(small_dir):
    directory, arrays = small_dir
    data = load_mnist(directory)
    for key in IDX_NAMES:
        np.testing.assert_array_equal(getattr(data, key), arrays[key])
        assert getattr(data, key).dtype == np.uint8
    assert not data.is_full
    assert str(directory) in data.source
    assert "NOT the full MNIST (100 train / 20 test)" in data.describe()


def test_mnist_dir_environment_variable(small_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(small_dir[0]))
    assert load_mnist().source == f"IDX files in {small_dir[0]}"


def test_reads_a_keras_npz_file(tmp_path):
    arrays = synthetic(30, 10)
    np.savez(tmp_path / "mnist.npz", **arrays)
    data = load_mnist(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(data.x_test, arrays["x_test"])


def test_finds_the_keras_cache_under_keras_home(tmp_path):
    (tmp_path / "keras_home" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras_home" / "datasets" / "mnist.npz", **synthetic(30, 10))
    assert "keras_home/datasets/mnist.npz" in load_mnist(download=False).source


def test_finds_the_torchvision_raw_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHVISION_ROOT", str(tmp_path / "tv"))
    write_idx_dir(tmp_path / "tv" / "MNIST" / "raw", synthetic(30, 10))
    assert "tv/MNIST/raw" in load_mnist(download=False).source


def test_nothing_local_and_no_download_says_what_to_do():
    with pytest.raises(MNISTError, match="--mnist-dir DIR.*MNIST_DIR.*--data sample"):
        load_mnist(download=False)


def test_missing_path_is_named(tmp_path):
    with pytest.raises(MNISTError, match=rf"{tmp_path / 'nowhere'} does not exist"):
        load_mnist(tmp_path / "nowhere")


def test_missing_file_is_named(small_dir):
    directory, _ = small_dir
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(MNISTError, match="lacks t10k-labels-idx1-ubyte"):
        load_mnist(directory)


def test_truncated_file_names_file_and_expected_size(small_dir):
    directory, _ = small_dir
    path = directory / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(MNISTError, match=rf"{path} is truncated.*shape \(100,\).*108 bytes.*101"):
        load_mnist(directory)


def test_corrupt_gzip_is_named(small_dir):
    directory, _ = small_dir
    path = directory / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 :] = b"\x00" * (len(raw) - len(raw) // 2)
    path.write_bytes(bytes(raw))
    with pytest.raises(MNISTError, match=rf"{path} is not a readable gzip file"):
        load_mnist(directory)


def test_wrong_magic_number_is_named(small_dir):
    directory, _ = small_dir
    path = directory / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + path.read_bytes()[4:])  # 0x0d: float32, not ubyte
    with pytest.raises(MNISTError, match=rf"{path} is not an IDX file.*0x00000801.*found 0x00000d01"):
        load_mnist(directory)


def test_images_and_labels_of_different_counts(tmp_path):
    arrays = synthetic(100, 20)
    arrays["y_train"] = arrays["y_train"][:90]
    with pytest.raises(MNISTError, match="100 train images but labels of shape \\(90,\\)"):
        load_mnist(write_idx_dir(tmp_path / "idx", arrays))


def test_label_out_of_range(tmp_path):
    arrays = synthetic(100, 20)
    arrays["y_test"][3] = 12
    with pytest.raises(MNISTError, match="test labels must lie in 0..9, found 12"):
        load_mnist(write_idx_dir(tmp_path / "idx", arrays))


def test_full_size_files_must_match_the_official_checksums(tmp_path):
    # 60,000/10,000 digits claim to be the full MNIST, so their contents are hashed.
    arrays = {
        "x_train": np.zeros((60_000, 28, 28), np.uint8),
        "y_train": np.zeros(60_000, np.uint8),
        "x_test": np.zeros((10_000, 28, 28), np.uint8),
        "y_test": np.zeros(10_000, np.uint8),
    }
    np.savez(tmp_path / "fake.npz", **arrays)
    with pytest.raises(MNISTError, match="x_train \\(train-images-idx3-ubyte\\) fails its checksum"):
        load_mnist(tmp_path / "fake.npz")


def test_shipped_sample_is_real_balanced_and_named():
    data = load_mnist(sample=True)
    assert data.x_train.shape == (5_000, 28, 28) and data.x_test.shape == (1_000, 28, 28)
    assert np.bincount(data.y_train).tolist() == [500] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    assert not data.is_full
    assert "sample shipped" in data.describe() and "not MNIST accuracy" in data.describe()
    assert mnist.SAMPLE_PATH.stat().st_size < 2 * 1024 * 1024


FULL_COPY = os.environ.get("MNIST_FULL_DIR", "")


@pytest.mark.skipif(not FULL_COPY, reason="set MNIST_FULL_DIR to a full MNIST copy to verify it")
def test_a_full_copy_passes_every_check_and_contains_the_sample():
    data = load_mnist(FULL_COPY)
    assert data.is_full and data.x_train.shape == (60_000, 28, 28)
    with np.load(mnist.SAMPLE_PATH, allow_pickle=False) as sample:
        np.testing.assert_array_equal(sample["x_train"], data.x_train[sample["train_index"]])
        np.testing.assert_array_equal(sample["y_test"], data.y_test[sample["test_index"]])


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    def log_message(self, *args):
        pass


@pytest.fixture
def mirror(tmp_path):
    """A loopback HTTP server playing an MNIST mirror with small synthetic files."""
    served = tmp_path / "served"
    write_idx_dir(served, synthetic(50, 10), gz_keys=tuple(IDX_NAMES))
    md5 = {p.name: hashlib.md5(p.read_bytes()).hexdigest() for p in served.iterdir()}
    handler = functools.partial(QuietHandler, directory=str(served))
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    yield f"http://127.0.0.1:{server.server_port}/", served, md5
    server.shutdown()
    server.server_close()


def test_download_verifies_and_caches(mirror, tmp_path):
    url, _, md5 = mirror
    cache = tmp_path / "dl"
    mnist.download_mnist(cache, mirrors=(url,), md5=md5)
    assert sorted(p.name for p in cache.iterdir()) == sorted(md5)
    assert load_mnist(cache).y_train.shape == (50,)


def test_download_with_a_bad_checksum_leaves_nothing_behind(mirror, tmp_path):
    url, served, md5 = mirror
    victim = "t10k-images-idx3-ubyte.gz"
    (served / victim).write_bytes(b"not what the checksum says")
    cache = tmp_path / "dl"
    with pytest.raises(MNISTError, match=f"Could not download {victim}"):
        mnist.download_mnist(cache, mirrors=(url,), md5=md5)
    assert not (cache / victim).exists()
    assert not any(p.name.startswith("tmp") for p in cache.iterdir())


def test_download_falls_back_to_the_next_mirror(mirror, tmp_path):
    url, _, md5 = mirror
    dead = "http://127.0.0.1:9/"  # the discard port: nothing listens there
    mnist.download_mnist(tmp_path / "dl", mirrors=(dead, url), md5=md5)
    assert len(list((tmp_path / "dl").iterdir())) == 4


def test_offline_download_names_the_alternatives(tmp_path):
    with pytest.raises(MNISTError, match="Offline\\?.*--mnist-dir DIR.*--data sample"):
        mnist.download_mnist(tmp_path / "dl", mirrors=("http://127.0.0.1:9/",))
