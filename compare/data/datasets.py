"""MNIST and Fashion-MNIST as four uint8 arrays, found locally, downloaded once, or sampled.

The two datasets share one file format and the same four file names, so one
loader serves both; a `Source` holds what differs (checksums, mirrors, the
folder names other tools cache them under). `load_dataset()` looks, in order:

1. a directory or file the caller names (`data_dir=`, or the source's
   environment variable, `MNIST_DIR` or `FASHION_MNIST_DIR`) holding the four IDX
   files, gzipped or not, or a Keras-style `.npz`;
2. copies that other tools already cached: Keras' (`$KERAS_HOME/datasets/mnist.npz`,
   `$KERAS_HOME/datasets/fashion-mnist/`; default `~/.keras`), torchvision's
   `<root>/MNIST/raw/` or `<root>/FashionMNIST/raw/` (root: `$TORCHVISION_ROOT`, or
   `./data` as in the torchvision tutorials), and this package's own download cache;
3. a download of the four IDX files from the official mirrors into the cache
   (`$MNIST_CACHE/<dataset>`, default the platform's user cache folder), checked
   against their published MD5 and written atomically: a partial or corrupt
   download is never left where it could be read;
4. with `sample=True`: 5,000 training and 1,000 test images, 500 and 100 per
   class. For MNIST they ship in the package (offline demos and tests); for
   Fashion-MNIST they are drawn, seeded, from a copy found as above. Accuracy
   on a sample is not the dataset's accuracy, so it is always named as the source.

Whatever is read is validated: IDX magic numbers and dimensions, payload size,
dtype, image size, matching image and label counts, labels in 0..9, and, for
a full-size set, the SHA-256 of every array against the official files. Full-size
files of the *other* dataset are named as such.
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
SAMPLE_PER_CLASS = {"train": 500, "test": 100}

# name of each array → canonical IDX file name (as published, without .gz)
IDX_NAMES = {
    "x_train": "train-images-idx3-ubyte",
    "y_train": "train-labels-idx1-ubyte",
    "x_test": "t10k-images-idx3-ubyte",
    "y_test": "t10k-labels-idx1-ubyte",
}


@dataclass(frozen=True)
class Source:
    """What differs between the two datasets; everything else is shared."""

    name: str  # on the command line and in results
    title: str  # in messages and reports
    env_var: str  # names a local copy
    keras_cache: str  # under $KERAS_HOME/datasets/: Keras' own file or folder
    torchvision_folder: str  # <root>/<folder>/raw/
    # SHA-256 of each array's bytes (the IDX payload after its header) in the
    # official files: the same check serves IDX files, gzipped or not, and .npz.
    array_sha256: dict[str, str]
    mirrors: tuple[str, ...]
    gz_md5: dict[str, str]  # the MD5 the mirrors publish for each .gz file


SOURCES: dict[str, Source] = {
    source.name: source
    for source in (
        Source(
            "mnist",
            "MNIST",
            "MNIST_DIR",
            "mnist.npz",
            "MNIST",
            array_sha256={
                "x_train": "741c988805d008ac6e4c904b69001ba184c24b2c540a4ef403f4c71b676cf757",
                "y_train": "1feba77c54802fa5339a11837ea4b2866434b83314ec45192930f1df69120c13",
                "x_test": "6d87418db22cc8025d05968bec9bd5c3932904b23485740db143a061a2c9d161",
                "y_test": "ddeff807876a9661a1110d45c266c86239a3a1b7d37da0c3716a7a683c852ff5",
            },
            mirrors=(
                "https://ossci-datasets.s3.amazonaws.com/mnist/",
                "https://storage.googleapis.com/cvdf-datasets/mnist/",
            ),
            gz_md5={
                "train-images-idx3-ubyte.gz": "f68b3c2dcbeaaa9fbdd348bbdeb94873",
                "train-labels-idx1-ubyte.gz": "d53e105ee54ea40749a09fcbcd1e9432",
                "t10k-images-idx3-ubyte.gz": "9fb629c4189551a2d022fa330f9573f3",
                "t10k-labels-idx1-ubyte.gz": "ec29112dd5afa0611ce80d1b7f02629c",
            },
        ),
        Source(
            "fashion-mnist",
            "Fashion-MNIST",
            "FASHION_MNIST_DIR",
            "fashion-mnist",
            "FashionMNIST",
            array_sha256={
                "x_train": "2e487a6c89124f78f2d7521542223cafe96f7123c3ca13d447772ac6ecbb3012",
                "y_train": "657fbd221bfc9f4198cc14b5619cc33ec57c58dd0e47af4d99d6650759e869a7",
                "x_test": "c867c93ff95360594e8ec3287995350b824dd110b11595c0e13d5423f621867a",
                "y_test": "3d0e6c6ea990b53b6f8f500a41cac93881d981b315f84578b7d915342ade01e9",
            },
            # Zalando's own bucket, then the copy Keras' fashion_mnist.load_data() reads.
            mirrors=(
                "http://fashion-mnist.s3-website.eu-central-1.amazonaws.com/",
                "https://storage.googleapis.com/tensorflow/tf-keras-datasets/",
            ),
            gz_md5={
                "train-images-idx3-ubyte.gz": "8d4fb7e6c68d591d4c3dfef9ec88bf0d",
                "train-labels-idx1-ubyte.gz": "25c81989df183df01b3e8a0aad5dffbe",
                "t10k-images-idx3-ubyte.gz": "bef4ecab320f06d8554ea6380940ec79",
                "t10k-labels-idx1-ubyte.gz": "bb300cfdad3c16e7a12a480ee83cd310",
            },
        ),
    )
}

SAMPLE_PATH = Path(__file__).parent / "assets" / "mnist_sample.npz"
# SHA-256 over the sample's four arrays (x_train, y_train, x_test, y_test) in order.
SAMPLE_SHA256 = "7077f6156dc06cae0637259b9f41459767ee7dda6bce63248b42d1cefb21cd8c"

IDX_UBYTE = 0x08  # IDX type code for unsigned bytes


class DataError(ValueError):
    """A dataset could not be found, read or trusted; the message says what to do."""


@dataclass(frozen=True)
class Dataset:
    """The four arrays and a sentence saying where they came from."""

    x_train: np.ndarray  # (N, 28, 28) uint8
    y_train: np.ndarray  # (N,) uint8 in 0..9
    x_test: np.ndarray  # (M, 28, 28) uint8
    y_test: np.ndarray  # (M,) uint8 in 0..9
    name: str  # a key of SOURCES
    source: str
    location: Path  # the directory or file read: pass it back to load_dataset()
    is_full: bool  # the complete official set, checksums verified
    is_sample: bool = False  # the 5,000/1,000 sample (see load_dataset)

    def describe(self) -> str:
        title = SOURCES[self.name].title
        size = f"{len(self.y_train):,} train / {len(self.y_test):,} test"
        kind = f"full {title}" if self.is_full else f"NOT the full {title}"
        return f"{kind} ({size}) from {self.source}"


def unit_interval(images: np.ndarray) -> np.ndarray:
    """uint8 pixels (N, 28, 28) as float32 in [0, 1]: what every model receives."""
    return images.astype(np.float32) / 255.0


def load_dataset(
    data_dir: str | os.PathLike | None = None,
    *,
    dataset: str = "mnist",
    sample: bool = False,
    download: bool = True,
    cache_dir: str | os.PathLike | None = None,
) -> Dataset:
    """Return `dataset` from the first place that has it (see the module docstring)."""
    if dataset not in SOURCES:
        raise DataError(f"unknown dataset {dataset!r}; choose from: {', '.join(SOURCES)}.")
    source = SOURCES[dataset]
    if sample and dataset == "mnist":
        return load_sample()
    named = data_dir if data_dir is not None else os.environ.get(source.env_var)
    if named:
        found = load_from_path(Path(named).expanduser(), source)
    else:
        cache = Path(cache_dir) if cache_dir is not None else default_cache_dir(source)
        copies = cached_copies(source, cache)
        if copies:
            found = load_from_path(copies[0], source)
        elif not download:
            raise DataError(f"{source.title} was not found locally and downloading is off. " + where_else(source))
        else:
            found = load_from_path(download_dataset(source, cache), source)
    return balanced_sample(found) if sample else found


def where_else(source: Source) -> str:
    shipped = (
        " or use the small MNIST sample shipped with this package: --data sample" if source.name == "mnist" else ""
    )
    return (
        f"Put the four {source.title} IDX files (gzipped or not: {', '.join(IDX_NAMES.values())}) in a "
        f"folder and point to it with --data-dir DIR or the {source.env_var} environment variable, "
        f"or place them where Keras or torchvision keep them ($KERAS_HOME/datasets/{source.keras_cache}, "
        f"<root>/{source.torchvision_folder}/raw/){shipped}."
    )


def default_cache_dir(source: Source) -> Path:
    import pooch  # imported here: only a download needs it

    return Path(os.environ.get("MNIST_CACHE") or pooch.os_cache("keras-torch-compare")) / source.name


def cached_copies(source: Source, cache: Path) -> list[Path]:
    """Existing copies left by Keras, torchvision or an earlier download."""
    keras_home = Path(os.environ.get("KERAS_HOME", "~/.keras")).expanduser()
    torchvision_roots = [Path(os.environ["TORCHVISION_ROOT"])] if "TORCHVISION_ROOT" in os.environ else []
    candidates = [
        keras_home / "datasets" / source.keras_cache,
        *(root.expanduser() / source.torchvision_folder / "raw" for root in [*torchvision_roots, Path("data")]),
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


def load_from_path(path: Path, source: Source) -> Dataset:
    """Read and validate a directory of IDX files or an .npz file."""
    if not path.exists():
        raise DataError(f"{source.title} path {path} does not exist. " + where_else(source))
    if path.is_file():
        arrays = read_npz(path)
        described = f"{path} (npz)"
    else:
        arrays = read_idx_dir(path, source)
        described = f"IDX files in {path}"
    is_full = validate(arrays, source, where=str(path))
    return Dataset(**arrays, name=source.name, source=described, location=path, is_full=is_full)


def read_idx_dir(directory: Path, source: Source) -> dict[str, np.ndarray]:
    files = {key: find_idx(directory, name) for key, name in IDX_NAMES.items()}
    missing = [IDX_NAMES[key] for key, path in files.items() if path is None]
    if missing:
        npz_hint = " It holds an npz file: name the file itself." if any(directory.glob("*.npz")) else ""
        raise DataError(
            f"{directory} lacks {', '.join(missing)} (each may end in .gz).{npz_hint} " + where_else(source)
        )
    return {key: read_idx(path) for key, path in files.items()}


def read_idx(path: Path) -> np.ndarray:
    """Read one IDX file of unsigned bytes, gzipped or not, checking its header."""
    raw = path.read_bytes()
    if raw[:2] == b"\x1f\x8b":
        try:
            raw = gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as error:
            raise DataError(f"{path} is not a readable gzip file ({error}); download it again.") from None
    if len(raw) < 4 or raw[0:2] != b"\x00\x00" or raw[2] != IDX_UBYTE or raw[3] not in (1, 3):
        raise DataError(
            f"{path} is not an IDX file of unsigned bytes: expected the magic number "
            f"0x00000801 (labels) or 0x00000803 (images), found 0x{raw[:4].hex() or 'empty'}."
        )
    ndim = raw[3]
    header_size = 4 + 4 * ndim
    if len(raw) < header_size:
        raise DataError(f"{path} is truncated inside its header ({len(raw)} bytes).")
    dims = tuple(int.from_bytes(raw[4 + 4 * i : 8 + 4 * i], "big") for i in range(ndim))
    expected = header_size + int(np.prod(dims))
    if len(raw) != expected:
        state = "truncated" if len(raw) < expected else "longer than its header says"
        raise DataError(
            f"{path} is {state}: its header announces shape {dims}, i.e. {expected:,} bytes, "
            f"but the file holds {len(raw):,}. Download it again."
        )
    return np.frombuffer(raw, dtype=np.uint8, offset=header_size).reshape(dims)


def read_npz(path: Path) -> dict[str, np.ndarray]:
    try:
        with np.load(path, allow_pickle=False) as npz:
            missing = [key for key in IDX_NAMES if key not in npz.files]
            if missing:
                raise DataError(
                    f"{path} lacks the arrays {missing}; a Keras mnist.npz holds x_train, y_train, x_test and y_test."
                )
            return {key: npz[key] for key in IDX_NAMES}
    except (OSError, ValueError, EOFError) as error:
        if isinstance(error, DataError):
            raise
        raise DataError(f"{path} is not a readable npz file ({error}).") from None


def checksums_match(arrays: dict[str, np.ndarray], source: Source) -> list[str]:
    """The arrays whose contents differ from `source`'s official files."""
    return [
        key
        for key, expected in source.array_sha256.items()
        if hashlib.sha256(arrays[key].tobytes()).hexdigest() != expected
    ]


def validate(arrays: dict[str, np.ndarray], source: Source, where: str) -> bool:
    """Check shapes, dtype and labels; return True if this is the verified full set."""
    for split in ("train", "test"):
        x, y = arrays[f"x_{split}"], arrays[f"y_{split}"]
        if x.dtype != np.uint8 or y.dtype != np.uint8:
            raise DataError(f"{where}: {split} arrays must be uint8, found {x.dtype} and {y.dtype}.")
        if x.ndim != 3 or x.shape[1:] != (IMAGE_SIZE, IMAGE_SIZE):
            raise DataError(f"{where}: {split} images must have shape (N, 28, 28), found {x.shape}.")
        if y.shape != (len(x),):
            raise DataError(
                f"{where}: {len(x):,} {split} images but labels of shape {y.shape}; "
                f"images and labels come from different files."
            )
        if len(y) and int(y.max()) >= NUM_CLASSES:
            raise DataError(f"{where}: {split} labels must lie in 0..9, found {int(y.max())}.")
    if not all(len(arrays[f"y_{split}"]) == n for split, n in FULL_COUNTS.items()):
        return False
    mismatched = checksums_match(arrays, source)
    if not mismatched:
        return True
    for other in SOURCES.values():
        if other is not source and not checksums_match(arrays, other):
            raise DataError(
                f"{where} holds {other.title}, not {source.title}: every file matches the official "
                f"{other.title} checksums. Use --dataset {other.name}, or point to a {source.title} copy."
            )
    key = mismatched[0]
    raise DataError(
        f"{where}: {key} ({IDX_NAMES[key]}) fails its checksum: the SHA-256 of its contents is "
        f"{hashlib.sha256(arrays[key].tobytes()).hexdigest()}, the official {source.title} file gives "
        f"{source.array_sha256[key]}. The file is corrupt or not {source.title}; download it again."
    )


def sample_sha256(arrays: dict[str, np.ndarray]) -> str:
    digest = hashlib.sha256()
    for key in IDX_NAMES:
        digest.update(np.ascontiguousarray(arrays[key]).tobytes())
    return digest.hexdigest()


def load_sample() -> Dataset:
    """The small real-MNIST sample shipped in the package."""
    arrays = read_npz(SAMPLE_PATH)
    validate(arrays, SOURCES["mnist"], where=str(SAMPLE_PATH))
    if sample_sha256(arrays) != SAMPLE_SHA256:
        raise DataError(f"{SAMPLE_PATH} fails its checksum; reinstall the package.")
    source = "the sample shipped with keras-torch-compare (accuracy on it is not MNIST accuracy)"
    return Dataset(**arrays, name="mnist", source=source, location=SAMPLE_PATH, is_full=False, is_sample=True)


def balanced_indices(labels: np.ndarray, per_class: int, rng: np.random.Generator) -> np.ndarray:
    """`per_class` positions of each class, drawn without replacement, in file order."""
    picks = [rng.choice(np.flatnonzero(labels == c), per_class, replace=False) for c in range(NUM_CLASSES)]
    return np.sort(np.concatenate(picks))


def sample_indices(data: Dataset, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    """The sample's (train, test) positions in the full set: 500 and 100 per class."""
    if not data.is_full:
        raise DataError(
            f"A sample is drawn from the verified full {SOURCES[data.name].title}; {data.source} is not it."
        )
    rng = np.random.default_rng(seed)
    return (
        balanced_indices(data.y_train, SAMPLE_PER_CLASS["train"], rng),
        balanced_indices(data.y_test, SAMPLE_PER_CLASS["test"], rng),
    )


def balanced_sample(data: Dataset) -> Dataset:
    """The 5,000/1,000 sample drawn from a full copy, as MNIST's shipped one was."""
    train_index, test_index = sample_indices(data)
    title = SOURCES[data.name].title
    return Dataset(
        data.x_train[train_index],
        data.y_train[train_index],
        data.x_test[test_index],
        data.y_test[test_index],
        name=data.name,
        location=data.location,
        is_full=False,
        is_sample=True,
        source=f"a class-balanced 5,000/1,000 sample of {data.source} (accuracy on it is not {title} accuracy)",
    )


def download_dataset(source: Source, cache: Path) -> Path:
    """Fetch the four .gz files into `cache`, trying each mirror in turn.

    pooch writes each file to a temporary name, checks its hash and only then
    renames it, so an interrupted or corrupt download never reaches `cache`.
    """
    import pooch  # imported here: only a download needs it
    import requests

    cache.mkdir(parents=True, exist_ok=True)
    for filename, checksum in source.gz_md5.items():
        errors = []
        for mirror in source.mirrors:
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
            raise DataError(
                f"Could not download {filename} from any {source.title} mirror ({'; '.join(errors)}). "
                "Offline? " + where_else(source)
            )
    return cache
