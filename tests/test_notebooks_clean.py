"""Notebooks are stored without outputs: what a reader sees is what the code makes now.

They are executed top to bottom by the test command itself (nbmake collects
notebooks/*.ipynb), so a notebook the code no longer supports fails the tests.
"""

import json
from pathlib import Path

import pytest

NOTEBOOKS = sorted((Path(__file__).parents[1] / "notebooks").glob("*.ipynb"))


def test_there_are_ten_notebooks():
    assert len(NOTEBOOKS) == 10


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_is_stored_without_outputs(path):
    cells = json.loads(path.read_text())["cells"]
    for cell in cells:
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None, (
                f"{path.name} holds outputs; clear them before committing "
                f"(jupyter nbconvert --clear-output --inplace {path.name})"
            )


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_notebook_sets_the_backend_before_importing_keras(path):
    sources = ["".join(c["source"]) for c in json.loads(path.read_text())["cells"] if c["cell_type"] == "code"]
    if not any("import keras" in source for source in sources):
        return  # drives the harness through its command line only
    first = sources[0]
    assert "KERAS_BACKEND" in first and "import keras" in first
    assert first.index("KERAS_BACKEND") < first.index("import keras")
