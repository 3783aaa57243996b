"""The dataset loader: every source, and every way a file can be wrong."""

import dataclasses
import functools
import gzip
import hashlib
import http.server
import os
import re
import threading
from pathlib import Path

import numpy as np
import pytest

from compare.data import datasets
from compare.data.datasets import IDX_NAMES, SOURCES, DataError, load_dataset
from compare.harness import cli


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
    data = load_dataset(directory)
    for key in IDX_NAMES:
        np.testing.assert_array_equal(getattr(data, key), arrays[key])
        assert getattr(data, key).dtype == np.uint8
    assert not data.is_full
    assert str(directory) in data.source
    assert "NOT the full MNIST (100 train / 20 test)" in data.describe()


def test_mnist_dir_environment_variable(small_dir, monkeypatch):
    monkeypatch.setenv("MNIST_DIR", str(small_dir[0]))
    assert load_dataset().source == f"IDX files in {small_dir[0]}"


def test_reads_a_keras_npz_file(tmp_path):
    arrays = synthetic(30, 10)
    np.savez(tmp_path / "mnist.npz", **arrays)
    data = load_dataset(tmp_path / "mnist.npz")
    np.testing.assert_array_equal(data.x_test, arrays["x_test"])


def test_finds_the_keras_cache_under_keras_home(tmp_path):
    (tmp_path / "keras_home" / "datasets").mkdir(parents=True)
    np.savez(tmp_path / "keras_home" / "datasets" / "mnist.npz", **synthetic(30, 10))
    assert "keras_home/datasets/mnist.npz" in load_dataset(download=False).source


def test_finds_the_torchvision_raw_folder(tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHVISION_ROOT", str(tmp_path / "tv"))
    write_idx_dir(tmp_path / "tv" / "MNIST" / "raw", synthetic(30, 10))
    assert "tv/MNIST/raw" in load_dataset(download=False).source


def test_nothing_local_and_no_download_says_what_to_do():
    with pytest.raises(DataError, match="--data-dir DIR or the MNIST_DIR.*--data sample"):
        load_dataset(download=False)


def test_missing_path_is_named(tmp_path):
    with pytest.raises(DataError, match=rf"{tmp_path / 'nowhere'} does not exist"):
        load_dataset(tmp_path / "nowhere")


def test_missing_file_is_named(small_dir):
    directory, _ = small_dir
    (directory / "t10k-labels-idx1-ubyte.gz").unlink()
    with pytest.raises(DataError, match="lacks t10k-labels-idx1-ubyte"):
        load_dataset(directory)


def test_truncated_file_names_file_and_expected_size(small_dir):
    directory, _ = small_dir
    path = directory / "train-labels-idx1-ubyte"
    path.write_bytes(path.read_bytes()[:-7])
    with pytest.raises(DataError, match=rf"{path} is truncated.*shape \(100,\).*108 bytes.*101"):
        load_dataset(directory)


def test_corrupt_gzip_is_named(small_dir):
    directory, _ = small_dir
    path = directory / "train-images-idx3-ubyte.gz"
    raw = bytearray(path.read_bytes())
    raw[len(raw) // 2 :] = b"\x00" * (len(raw) - len(raw) // 2)
    path.write_bytes(bytes(raw))
    with pytest.raises(DataError, match=rf"{path} is not a readable gzip file"):
        load_dataset(directory)


def test_wrong_magic_number_is_named(small_dir):
    directory, _ = small_dir
    path = directory / "train-labels-idx1-ubyte"
    path.write_bytes(b"\x00\x00\x0d\x01" + path.read_bytes()[4:])  # 0x0d: float32, not ubyte
    with pytest.raises(DataError, match=rf"{path} is not an IDX file.*0x00000801.*found 0x00000d01"):
        load_dataset(directory)


def test_images_and_labels_of_different_counts(tmp_path):
    arrays = synthetic(100, 20)
    arrays["y_train"] = arrays["y_train"][:90]
    with pytest.raises(DataError, match="100 train images but labels of shape \\(90,\\)"):
        load_dataset(write_idx_dir(tmp_path / "idx", arrays))


def test_label_out_of_range(tmp_path):
    arrays = synthetic(100, 20)
    arrays["y_test"][3] = 12
    with pytest.raises(DataError, match="test labels must lie in 0..9, found 12"):
        load_dataset(write_idx_dir(tmp_path / "idx", arrays))


def test_full_size_files_must_match_the_official_checksums(tmp_path):
    # 60,000/10,000 digits claim to be the full MNIST, so their contents are hashed.
    arrays = {
        "x_train": np.zeros((60_000, 28, 28), np.uint8),
        "y_train": np.zeros(60_000, np.uint8),
        "x_test": np.zeros((10_000, 28, 28), np.uint8),
        "y_test": np.zeros(10_000, np.uint8),
    }
    np.savez(tmp_path / "fake.npz", **arrays)
    with pytest.raises(DataError, match="x_train \\(train-images-idx3-ubyte\\) fails its checksum"):
        load_dataset(tmp_path / "fake.npz")


def test_shipped_sample_is_real_balanced_and_named():
    data = load_dataset(sample=True)
    assert data.x_train.shape == (5_000, 28, 28) and data.x_test.shape == (1_000, 28, 28)
    assert np.bincount(data.y_train).tolist() == [500] * 10
    assert np.bincount(data.y_test).tolist() == [100] * 10
    assert not data.is_full
    assert "sample shipped" in data.describe() and "not MNIST accuracy" in data.describe()
    assert datasets.SAMPLE_PATH.stat().st_size < 2 * 1024 * 1024


FULL_COPY = os.environ.get("MNIST_FULL_DIR", "")


@pytest.mark.skipif(not FULL_COPY, reason="set MNIST_FULL_DIR to a full MNIST copy to verify it")
def test_a_full_copy_passes_every_check_and_contains_the_sample():
    data = load_dataset(FULL_COPY)
    assert data.is_full and data.x_train.shape == (60_000, 28, 28)
    with np.load(datasets.SAMPLE_PATH, allow_pickle=False) as sample:
        np.testing.assert_array_equal(sample["x_train"], data.x_train[sample["train_index"]])
        np.testing.assert_array_equal(sample["y_test"], data.y_test[sample["test_index"]])
    # The shipped sample is what the Fashion-MNIST sample's procedure draws from MNIST.
    np.testing.assert_array_equal(datasets.balanced_sample(data).x_train, datasets.load_sample().x_train)


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


def served_as(*args) -> datasets.Source:
    """MNIST as served by the given mirrors (URLs) with the given MD5s (a dict)."""
    md5 = next(arg for arg in args if isinstance(arg, dict))
    mirrors = tuple(arg for arg in args if isinstance(arg, str))
    return dataclasses.replace(SOURCES["mnist"], mirrors=mirrors, gz_md5=md5)


def test_download_verifies_and_caches(mirror, tmp_path):
    url, _, md5 = mirror
    cache = tmp_path / "dl"
    datasets.download_dataset(served_as(url, md5), cache)
    assert sorted(p.name for p in cache.iterdir()) == sorted(md5)
    assert load_dataset(cache).y_train.shape == (50,)


def test_download_with_a_bad_checksum_leaves_nothing_behind(mirror, tmp_path):
    url, served, md5 = mirror
    victim = "t10k-images-idx3-ubyte.gz"
    (served / victim).write_bytes(b"not what the checksum says")
    cache = tmp_path / "dl"
    with pytest.raises(DataError, match=f"Could not download {victim}"):
        datasets.download_dataset(served_as(url, md5), cache)
    assert not (cache / victim).exists()
    assert not any(p.name.startswith("tmp") for p in cache.iterdir())


def test_download_falls_back_to_the_next_mirror(mirror, tmp_path):
    url, _, md5 = mirror
    dead = "http://127.0.0.1:9/"  # the discard port: nothing listens there
    datasets.download_dataset(served_as(dead, url, md5), tmp_path / "dl")
    assert len(list((tmp_path / "dl").iterdir())) == 4


def test_offline_download_names_the_alternatives(tmp_path):
    with pytest.raises(DataError, match="Offline\\?.*--data-dir DIR.*--data sample"):
        datasets.download_dataset(served_as("http://127.0.0.1:9/", SOURCES["mnist"].gz_md5), tmp_path / "dl")


# ---- Fashion-MNIST: the same loader, its own places, and the other dataset named. ----


def test_fashion_mnist_from_a_named_folder_and_its_variable(small_dir, monkeypatch):
    directory, arrays = small_dir
    data = load_dataset(directory, dataset="fashion-mnist")
    np.testing.assert_array_equal(data.x_train, arrays["x_train"])
    assert data.name == "fashion-mnist" and "NOT the full Fashion-MNIST (100 train / 20 test)" in data.describe()
    monkeypatch.setenv("FASHION_MNIST_DIR", str(directory))
    assert load_dataset(dataset="fashion-mnist").source == f"IDX files in {directory}"
    with pytest.raises(DataError, match="MNIST was not found locally"):  # MNIST_DIR is another variable
        load_dataset(download=False)


@pytest.mark.parametrize("layout", ["keras_home/datasets/fashion-mnist", "tv/FashionMNIST/raw", "cache/fashion-mnist"])
def test_fashion_mnist_found_in_each_cache_layout(layout, tmp_path, monkeypatch):
    monkeypatch.setenv("TORCHVISION_ROOT", str(tmp_path / "tv"))
    write_idx_dir(tmp_path / layout, synthetic(30, 10), gz_keys=tuple(IDX_NAMES))
    data = load_dataset(dataset="fashion-mnist", download=False)
    assert data.location == tmp_path / layout and data.y_train.shape == (30,)
    with pytest.raises(DataError, match="MNIST was not found locally"):  # not taken for MNIST
        load_dataset(download=False)


def test_fashion_mnist_offline_says_where_to_put_the_files(tmp_path):
    with pytest.raises(DataError) as error:
        load_dataset(dataset="fashion-mnist", download=False)
    message = str(error.value)
    assert "Fashion-MNIST was not found locally" in message
    assert "--data-dir DIR or the FASHION_MNIST_DIR environment variable" in message
    assert "datasets/fashion-mnist" in message and "FashionMNIST/raw/" in message
    assert "--data sample" not in message  # no Fashion-MNIST sample ships


def test_unknown_dataset_is_named():
    with pytest.raises(DataError, match="unknown dataset 'kmnist'; choose from: mnist, fashion-mnist"):
        load_dataset(dataset="kmnist")


@pytest.fixture
def full_size_small(monkeypatch, tmp_path) -> dict[str, Path]:
    """Two small sets that count as "full": one with MNIST's checksums, one with Fashion-MNIST's."""
    monkeypatch.setattr(datasets, "FULL_COUNTS", {"train": 40, "test": 20})
    monkeypatch.setattr(datasets, "SAMPLE_PER_CLASS", {"train": 2, "test": 1})
    folders = {}
    for seed, name in enumerate(("mnist", "fashion-mnist")):
        arrays = synthetic(40, 20, seed=seed)
        arrays["y_train"] = np.arange(40, dtype=np.uint8) % 10  # every class present, 4 times
        arrays["y_test"] = np.arange(20, dtype=np.uint8) % 10
        hashes = {key: hashlib.sha256(arrays[key].tobytes()).hexdigest() for key in IDX_NAMES}
        monkeypatch.setitem(SOURCES, name, dataclasses.replace(SOURCES[name], array_sha256=hashes))
        folders[name] = write_idx_dir(tmp_path / name, arrays)
    return folders


def test_the_other_datasets_files_are_named_as_such(full_size_small):
    assert load_dataset(full_size_small["fashion-mnist"], dataset="fashion-mnist").is_full
    with pytest.raises(DataError, match="holds Fashion-MNIST, not MNIST.*Use --dataset fashion-mnist"):
        load_dataset(full_size_small["fashion-mnist"])
    with pytest.raises(DataError, match="holds MNIST, not Fashion-MNIST.*Use --dataset mnist"):
        load_dataset(full_size_small["mnist"], dataset="fashion-mnist")


def test_a_corrupt_full_size_file_fails_its_checksum(full_size_small):
    path = full_size_small["fashion-mnist"] / "t10k-labels-idx1-ubyte.gz"
    labels = datasets.read_idx(path).copy()
    labels[0] = (labels[0] + 1) % 10
    path.unlink()
    write_idx(path.with_suffix(""), labels, gz=True)
    with pytest.raises(DataError, match="y_test .* fails its checksum.*official Fashion-MNIST file"):
        load_dataset(full_size_small["fashion-mnist"], dataset="fashion-mnist")


def test_fashion_mnist_sample_is_drawn_balanced_from_the_full_copy(full_size_small):
    data = load_dataset(full_size_small["fashion-mnist"], dataset="fashion-mnist", sample=True)
    assert data.is_sample and not data.is_full
    assert np.bincount(data.y_train).tolist() == [2] * 10 and np.bincount(data.y_test).tolist() == [1] * 10
    assert "class-balanced 5,000/1,000 sample" in data.source and "not Fashion-MNIST accuracy" in data.source
    again = load_dataset(full_size_small["fashion-mnist"], dataset="fashion-mnist", sample=True)
    np.testing.assert_array_equal(data.x_train, again.x_train)  # seeded: every worker draws the same


def test_a_sample_needs_the_full_copy(small_dir):
    with pytest.raises(DataError, match="drawn from the verified full Fashion-MNIST"):
        load_dataset(small_dir[0], dataset="fashion-mnist", sample=True)


FASHION_FULL_COPY = os.environ.get("FASHION_MNIST_FULL_DIR", "")


@pytest.mark.skipif(
    not FASHION_FULL_COPY, reason="set FASHION_MNIST_FULL_DIR to a full Fashion-MNIST copy to verify it"
)
def test_a_full_fashion_mnist_copy_passes_every_check(tmp_path):
    from compare.contract.results import load_results

    data = load_dataset(FASHION_FULL_COPY, dataset="fashion-mnist")
    assert data.is_full and data.x_train.shape == (60_000, 28, 28)
    assert np.bincount(data.y_test).tolist() == [1_000] * 10
    if FULL_COPY:  # each full copy is recognized when given as the other
        with pytest.raises(DataError, match="holds Fashion-MNIST, not MNIST"):
            load_dataset(FASHION_FULL_COPY)
        with pytest.raises(DataError, match="holds MNIST, not Fashion-MNIST"):
            load_dataset(FULL_COPY, dataset="fashion-mnist")
    # End to end: a comparison on the sample the default preset draws from the full copy.
    assert run_smoke(tmp_path / "out", "--data-dir", FASHION_FULL_COPY, "--data", "sample") == cli.EXIT_OK
    settings = load_results(tmp_path / "out")["settings"]
    assert settings["data"]["dataset"] == "fashion-mnist" and settings["data"]["kind"] == "sample"
    assert "class-balanced 5,000/1,000 sample" in settings["data"]["source"]


# ---- The command line on Fashion-MNIST: end to end, and bad input refused whole. ----


def run_smoke(out: Path, *data_args: str) -> int:
    return cli.main(
        [
            "--preset",
            "smoke",
            "--models",
            "mlp",
            "--frameworks",
            "torch",
            "--device",
            "cpu",
            "--skip-checks",
            "--dataset",
            "fashion-mnist",
            *data_args,
            "--out",
            str(out),
        ]
    )


def test_a_comparison_on_fashion_mnist_from_a_folder_and_from_the_keras_cache(tmp_path):
    from compare.contract.results import load_results

    arrays = synthetic(600, 300)
    write_idx_dir(tmp_path / "fashion", arrays)
    write_idx_dir(tmp_path / "keras_home" / "datasets" / "fashion-mnist", arrays, gz_keys=tuple(IDX_NAMES))
    for out, data_args in (
        (tmp_path / "from-dir", ["--data-dir", str(tmp_path / "fashion")]),
        (tmp_path / "from-cache", ["--data", "full"]),
    ):
        assert run_smoke(out, *data_args) == cli.EXIT_OK
        document = load_results(out)
        assert document["settings"]["data"]["dataset"] == "fashion-mnist"
        assert document["settings"]["data"]["kind"] == "full"
        assert document["runs"][0]["status"] == "ok" and document["runs"][0]["data_used"]["train_samples"] == 512
        assert "NOT the full Fashion-MNIST (600 train / 300 test)" in (out / "report.md").read_text()


def test_fashion_mnist_bad_input_exits_2_and_writes_nothing(full_size_small, small_dir, tmp_path, monkeypatch, capsys):
    out = tmp_path / "out"
    offline = dataclasses.replace(SOURCES["fashion-mnist"], mirrors=("http://127.0.0.1:9/",))  # nothing listens
    monkeypatch.setitem(SOURCES, "fashion-mnist", offline)
    partial = write_idx_dir(tmp_path / "partial", synthetic(30, 10))
    (partial / "train-labels-idx1-ubyte").unlink()
    cases = [
        (["--data-dir", str(full_size_small["mnist"])], "holds MNIST, not Fashion-MNIST"),
        (["--data-dir", str(partial)], "lacks train-labels-idx1-ubyte"),
        (["--data-dir", str(small_dir[0]), "--data", "sample"], "drawn from the verified full Fashion-MNIST"),
        ([], "Could not download .* Offline\\? Put the four Fashion-MNIST IDX files .* --data-dir DIR"),
    ]
    with (full_size_small["fashion-mnist"] / "t10k-images-idx3-ubyte").open("r+b") as images:
        images.seek(16)
        images.write(b"\x01")  # one pixel changed
    cases.append((["--data-dir", str(full_size_small["fashion-mnist"])], "x_test .* fails its checksum"))
    for data_args, message in cases:
        assert run_smoke(out, *data_args) == cli.EXIT_USAGE, data_args
        assert re.search(message, capsys.readouterr().err), message
        assert not out.exists()  # refused before anything was written
    with pytest.raises(SystemExit) as exit_info:
        cli.main(["--dataset", "kmnist"])
    assert exit_info.value.code == cli.EXIT_USAGE
    assert "--dataset: invalid choice: 'kmnist'" in capsys.readouterr().err
