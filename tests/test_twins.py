"""A user's own twins through the command line, as a user runs it: `--twins` and
`check-twins`, with the classic MNIST convnet of examples/ and the files in tests/twins_files.
Reading a reference (compare.catalog.twins) needs no framework and is tested in this process."""

import re
from pathlib import Path

import pytest

from compare import Twins
from compare.catalog.frameworks import default_frameworks
from compare.catalog.twins import TwinsError, load_twins
from compare.contract.results import load_results
from tests.command import run_cli, smoke_cli

ROOT = Path(__file__).parents[1]
CONVNET = str(ROOT / "examples" / "mnist_convnet" / "twins.py")
FILES = ROOT / "tests" / "twins_files"


def test_a_reference_picks_a_declaration_by_name():
    assert load_twins(f"{FILES / 'several.py'}:large").args == {"width": 2}
    with pytest.raises(TwinsError, match=r"declares several twins \(small, large\); pick one as .*several.py:NAME"):
        load_twins(str(FILES / "several.py"))
    with pytest.raises(TwinsError, match=r"declares no twins named 'medium'; it declares: small, large"):
        load_twins(f"{FILES / 'several.py'}:medium")


def test_a_file_without_twins_says_what_to_write():
    with pytest.raises(TwinsError, match=r"no_twins.py declares no twins\. Add one at module level: `twins = Twins\("):
        load_twins(str(FILES / "no_twins.py"))


def test_a_file_that_raises_shows_its_error_and_where():
    with pytest.raises(
        TwinsError,
        match=r"raised RuntimeError: the data folder is not mounted \(at .*raises.py, line 5: "
        r"raise RuntimeError",
    ):
        load_twins(str(FILES / "raises.py"))


def test_a_declaration_is_checked_as_it_is_made():
    with pytest.raises(TwinsError, match=r"`inputs` must be one of \('image', 'rows'\)\. Received: inputs='pixels'"):
        Twins(name="x", keras=object, torch=object, inputs="pixels")
    with pytest.raises(TwinsError, match=r"`keras` must be the model's class, not an instance"):
        Twins(name="x", keras=object(), torch=object)


def test_an_installed_package_provides_twins_through_its_entry_point(tmp_path, monkeypatch):
    (tmp_path / "shop_twins.py").write_text(
        "from compare import Twins\nclass K: pass\nclass T: pass\nconvnet = Twins(name='shop', keras=K, torch=T)\n"
    )
    info = tmp_path / "shop_twins-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: shop-twins\nVersion: 1.0\n")
    (info / "entry_points.txt").write_text("[keras_torch_compare.twins]\nshop = shop_twins:convnet\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    assert load_twins("shop").name == "shop"
    with pytest.raises(
        TwinsError, match=r"'shoe' is neither a .py file nor an installed entry point .*installed: shop"
    ):
        load_twins("shoe")


def test_a_wrong_flatten_port_fails_check_twins_with_the_logit_difference():
    result = run_cli("check-twins", str(FILES / "wrong_flatten.py"), "--backends", "torch")
    assert result.returncode == 1, result.stdout + result.stderr
    forward = next(line for line in result.stdout.splitlines() if line.startswith("| forward parity"))
    assert "**FAIL**" in forward and "largest logit difference" in forward, result.stdout


@pytest.mark.parametrize(
    "reference, message",
    [
        (FILES / "raises.py", r"raised RuntimeError: the data folder is not mounted \(at .*raises.py, line 5"),
        (FILES / "unportable.py", r"layer 'features' \(keras.layers.SeparableConv2D\) has weights and no port"),
    ],
    ids=["raises", "unportable"],
)
def test_unusable_twins_exit_2_and_write_nothing(tmp_path, reference, message):
    out = tmp_path / "out"
    result = smoke_cli("mlp", "torch", "--twins", str(reference), "--out", str(out))
    assert result.returncode == 2, result.stdout + result.stderr
    assert result.stderr.count("error: --twins: ") == 1
    assert re.search(message, result.stderr), result.stderr
    assert not out.exists()


@pytest.mark.long("a comparison of a user's own twins on every default framework")
def test_a_smoke_comparison_trains_the_convnet_on_every_default_framework(tmp_path):
    out = tmp_path / "out"
    frameworks = default_frameworks(0)
    result = smoke_cli("convnet", ",".join(frameworks), "--twins", CONVNET, "--out", str(out), "--skip-checks")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    runs = load_results(out)["runs"]
    assert sorted(run["framework"] for run in runs) == sorted(frameworks)
    for run in runs:
        assert run["status"] == "ok" and run["model"] == "convnet", run.get("error")
        assert run["model_info"]["trainable_params"] == 34_826 and run["model_info"]["reference_params"] is None
        assert run["step0_max_abs_logit_diff"] <= 1e-4  # the shared weights, Flatten rows permuted in Keras
    assert "not declared (a user's twins)" in (out / "report.md").read_text()


def test_write_keras_twin_writes_a_twin_that_check_twins_passes(tmp_path):
    """The command end to end: the writer's child, then check-twins on the pair it wrote (one backend here;
    every backend checks the written twins in tests/keras_backend/test_written_twins.py)."""
    out = tmp_path / "keras_convnet.py"
    torch_file = ROOT / "examples" / "mnist_convnet" / "torch_convnet.py"
    result = run_cli("write-keras-twin", f"{torch_file}:ConvNet", "--out", str(out), "--backends", "torch")
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"Wrote {out}" in result.stdout and "Every check passes." in result.stdout
    # As for the hand-written twins of examples/ (checked on every backend in tests/keras_backend/test_twins.py):
    # the written Flatten's Dense takes torch's classifier with its rows permuted.
    assert "flattened from (C, H, W) = (64, 5, 5)" in result.stdout
    again = run_cli("write-keras-twin", f"{torch_file}:ConvNet", "--out", str(out))
    assert again.returncode == 2 and "exists; nothing was changed" in again.stderr
    assert "Traceback" not in result.stderr + again.stderr
