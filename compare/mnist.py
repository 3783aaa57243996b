"""MNIST as four uint8 arrays, found locally, downloaded once, or from the shipped sample.

`load_mnist()` looks, in this order:

1. a directory or file the caller names (`data_dir=`, or the `MNIST_DIR`
   environment variable) holding the four IDX files, gzipped or not, or a
   Keras-style `mnist.npz`;
2. copies that other tools already cached: Keras' `mnist.npz` under
   `$KERAS_HOME/datasets/` (default `~/.keras/datasets/`), torchvision's
   `<root>/MNIST/raw/` (root: `$TORCHVISION_ROOT`, or `./data` as in the
   torchvision tutorials), and this package's own download cache;
3. a download of the four IDX files from the official mirrors into the cache
   (`$MNIST_CACHE`, default the platform's user cache folder), checked against
   their known MD5 and written atomically: a partial or corrupt download is
   never left where it could be read;
4. with `sample=True` only: a 6,000-digit sample of real MNIST shipped in the
   package for tests and offline demos. Accuracy on it is not MNIST accuracy,
   so it is always named as the source.

Whatever is read is validated: IDX magic numbers and dimensions, payload size,
dtype, image size, matching image and label counts, labels in 0..9, and, for
the full set, the SHA-256 of every array against the official files.
"""

from __future__ import annotations

import gzip
import hashlib
import os
import zlib
from dataclasses import dataclass
from pathlib import Path

import numpy as np

IMAGE_SIZE = 28
NUM_CLASSES = 10
FULL_COUNTS = {"train": 60_000, "test": 10_000}

# name of each array → canonical IDX file name (as published, without .gz)
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}
# SHA-256 of each array's bytes (the IDX payload after its header) in the
# official files: the same check serves IDX files, gzipped or not, and mnist.npz.
ARRAY_SHA256 = {
    "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
    "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
    "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
    "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
}
# The official mirrors and the MD5 they publish for each .gz file.
MIRRORS = (
    "https://ossci-datasets.s3.amazonaws.com/mnist/",
    "https://storage.googleapis.com/cvdf-datasets/mnist/",
)
GZ_MD5 = {
    "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
    "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
    "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
    "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
}

SAMPLE_PATH = Path(__file__).parent / "assets" / "mnist_sample.npz"
# SHA-256 over the sample's four arrays (x_train, y_train, x_test, y_test) in order.
SAMPLE_SHA256 = "7077f6156dc06cae0637259b9f41459767ee7dda6bce63248b42d1cefb21cd8c"

IDX_UBYTE = 0x08  # IDX type code for unsigned bytes


class MNISTError(ValueError):
    """MNIST could not be found, read or trusted; the message says what to do."""


@dataclass(frozen=True)
class MNIST:
    """The four arrays and a sentence saying where they came from."""

    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8 in 0..9
    x_test: np.ndarray  # (M, 28, 28) uint8
    y_test: np.ndarray  # (M,) uint8 in 0..9
    source: str
    location: Path  # the directory or file read: pass it back to load_mnist()
    is_full: bool  # the complete official set, checksums verified

    def describe(self) -> str:
        size = f"{len(self.y_train):,} train / {len(self.y_test):,} test"
        kind = "full MNIST" if self.is_full else "NOT the full MNIST"
        return f"{kind} ({size}) from {self.source}"


def load_mnist(
    data_dir: str | os.PathLike | None = None,
    *,
    sample: bool = False,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> MNIST:
    """Return MNIST from the first place that has it (see the module docstring)."""
    if sample:
        return load_sample()
    named = data_dir if data_dir is not None else os.environ.get("MNIST_DIR")
    if named:
        return load_from_path(Path(named).expanduser())
    cache = Path(cache_dir) if cache_dir is not None else default_cache_dir()
    copies = cached_copies(cache)
    if copies:
        return load_from_path(copies[0])
    if not download:
        raise MNISTError(
            "MNIST was not found locally and downloading is off. " + WHERE_ELSE
        )
    return load_from_path(download_mnist(cache))


WHERE_ELSE = (
    "Point to a local copy with --mnist-dir DIR or the MNIST_DIR environment "
    "variable (the four IDX files, gzipped or not, or a Keras mnist.npz), or use "
    "the small sample shipped with this package: --data sample."
)


def default_cache_dir() -> Path:
    import pooch  # imported here: only a download needs it

    return Path(os.environ.get("MNIST_CACHE") or pooch.os_cache("keras-torch-compare")) / "mnist"


def cached_copies(cache: Path) -> list[Path]:
    """Existing copies left by Keras, torchvision or an earlier download."""
    keras_home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    torchvision_roots = [Path(os.environ["TORCHVISION_ROOT"])] if "TORCHVISION_ROOT" in os.environ else []
    candidates = [
        keras_home / "datasets" / "mnist.npz",
        *(root.expanduser() / "MNIST" / "raw" for root in [*torchvision_roots, Path("data")]),
        cache,
    ]
    return [path for path in candidates if path.is_file() or has_idx_files(path)]


def has_idx_files(directory: Path) -> bool:
    return directory.is_dir() and all(find_idx(directory, name) for name in IDX_NAMES.values())


def find_idx(directory: Path, name: str) -> Path | None:
    for candidate in (directory / name, directory / f"{name}.gz"):
        if candidate.is_file():
            return candidate
    return None


def load_from_path(path: Path) -> MNIST:
    """Read and validate a directory of IDX files or an mnist.npz file."""
    if not path.exists():
        raise MNISTError(f"MNIST path {path} does not exist. " + WHERE_ELSE)
    if path.is_file():
        arrays = read_npz(path)
        source = f"{path} (npz)"
    else:
        arrays = read_idx_dir(path)
        source = f"IDX files in {path}"
    is_full = validate(arrays, where=str(path))
    return MNIST(**arrays, source=source, location=path, is_full=is_full)


def read_idx_dir(directory: Path) -> dict[str, np.ndarray]:
    files = {key: find_idx(directory, name) for key, name in IDX_NAMES.items()}
    missing = [IDX_NAMES[key] for key, path in files.items() if path is None]
    if missing:
        npz_hint = " It holds an npz file: name the file itself." if any(directory.glob("*.npz")) else ""
        raise MNISTError(
            f"{directory} lacks {', '.join(missing)} (each may end in .gz).{npz_hint} " + WHERE_ELSE
        )
    return {key: read_idx(path) for key, path in files.items()}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file of unsigned bytes, gzipped or not, checking its header."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise MNISTError(f"{path} is not a readable gzip file ({error}); download it again.") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != IDX_UBYTE or raw[3] not in (1, 3):
        raise MNISTError(
            f"{path} is not an IDX file of unsigned bytes: expected the magic number "
            f"0x00000801 (labels) or 0x00000803 (images), found 0x{raw[:4].hex() or 'empty'}."
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise MNISTError(f"{path} is truncated inside its header ({len(raw)} bytes).")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(dims))
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise MNISTError(
            f"{path} is {state}: its header announces shape {dims}, i.e. {expected:,} bytes, "
            f"but the file holds {len(raw):,}. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in IDX_NAMES if key not in npz.files]
            if missing:
                raise MNISTError(
                    f"{path} lacks the arrays {missing}; a Keras mnist.npz holds "
                    f"x_train, y_train, x_test and y_test."
                )
            return {key: npz[key] for key in IDX_NAMES}
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, MNISTError):
            raise
        raise MNISTError(f"{path} is not a readable npz file ({error}).") from None


def validate(arrays: dict[str, np.ndarray], where: str) -> bool:
    """Check shapes, dtype and labels; return True if this is the verified full set."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise MNISTError(f"{where}: {split} arrays must be uint8, found {x.dtype} and {y.dtype}.")
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise MNISTError(
                f"{where}: {split} images must have shape (N, 28, 28), found {x.shape}."
            )
        if y.shape != (len(x),):
            raise MNISTError(
                f"{where}: {len(x):,} {split} images but labels of shape {y.shape}; "
                f"images and labels come from different files."
            )
        if len(y) and int(y.max()) >= NUM_CLASSES:
            raise MNISTError(f"{where}: {split} labels must lie in 0..9, found {int(y.max())}.")
    is_full_size = all(len(arrays[f"y_{split}"]) == n for split, n in FULL_COUNTS.items())
    if is_full_size:
        for key, expected in ARRAY_SHA256.items():
            found = hashlib.sha256(arrays[key].tobytes()).hexdigest()
            if found != expected:
                raise MNISTError(
                    f"{where}: {key} ({IDX_NAMES[key]}) fails its checksum: SHA-256 of its "
                    f"contents is {found}, the official MNIST file gives {expected}. "
                    f"The file is corrupt or not MNIST; download it again."
                )
    return is_full_size


def sample_sha256(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in IDX_NAMES:
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


def load_sample() -> MNIST:
    """The small real-MNIST sample shipped in the package."""
    arrays = read_npz(SAMPLE_PATH)
    validate(arrays, where=str(SAMPLE_PATH))
    if sample_sha256(arrays) != SAMPLE_SHA256:
        raise MNISTError(f"{SAMPLE_PATH} fails its checksum; reinstall the package.")
    source = "the sample shipped with keras-torch-compare (accuracy on it is not MNIST accuracy)"
    return MNIST(**arrays, source=source, location=SAMPLE_PATH, is_full=False)


def write_sample(mnist: MNIST, path: Path, per_class_train: int = 500, per_class_test: int = 100, seed: int = 0) -> str:
    """Draw a class-balanced sample from the full set, save it, return its SHA-256."""
    if not mnist.is_full:
        raise MNISTError("The sample must be drawn from the verified full MNIST.")
    rng = np.random.default_rng(seed)

    def balanced(y: np.ndarray, per_class: int) -> np.ndarray:
        picks = [rng.choice(np.flatnonzero(y == c), per_class, replace=False) for c in range(NUM_CLASSES)]
        return np.sort(np.concatenate(picks))

    train_index = balanced(mnist.y_train, per_class_train)
    test_index = balanced(mnist.y_test, per_class_test)
    arrays = {
        "x_train": mnist.x_train[train_index],
        "y_train": mnist.y_train[train_index],
        "x_test": mnist.x_test[test_index],
        "y_test": mnist.y_test[test_index],
    }
    # The indices into the official files travel with the sample, as provenance.
    np.savez_compressed(path, **arrays, train_index=train_index, test_index=test_index)
    return sample_sha256(arrays)


def download_mnist(
    cache: Path,
    mirrors: tuple[str, ...] = MIRRORS,
    md5: dict[str, str] = GZ_MD5,
) -> Path:
    """Fetch the four .gz files into `cache`, trying each mirror in turn.

    pooch writes each file to a temporary name, checks its hash and only then
    renames it, so an interrupted or corrupt download never reaches `cache`.
    """
    import pooch  # imported here: only a download needs it
    import requests

    cache.mkdir(parents=True, exist_ok=True)
    for filename, checksum in md5.items():
        errors = []
        for mirror in mirrors:
            try:
                pooch.retrieve(
                    mirror + filename,
                    known_hash=f"md5:{checksum}",
                    fname=filename,
                    path=cache,
                    progressbar=True,
                )
                break
            except (requests.RequestException, ValueError, OSError) as error:
                errors.append(f"{mirror}: {error}")
        else:
            raise MNISTError(
                f"Could not download {filename} from any MNIST mirror ({'; '.join(errors)}). "
                "Offline? " + WHERE_ELSE
            )
    return cache
