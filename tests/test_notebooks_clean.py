"""Notebooks are stored without outputs: what a reader sees is what the code makes now.

They are executed top to bottom by the test command itself (nbmake collects
notebooks/*.ipynb), so a notebook the code no longer supports fails the tests. Their executed
pages, outputs included, are docs/notebooks/<stem>.html (notebooks/publish.py); each must have
been published from the notebook's current source.
"""

import importlib.util
import json
import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
NOTEBOOKS = sorted((ROOT / "notebooks").glob("*.ipynb"))


def load_publisher():
    spec = importlib.util.spec_from_file_location("publish", ROOT / "notebooks" / "publish.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


publish = load_publisher()


def test_there_are_eleven_notebooks():
    assert len(NOTEBOOKS) == 11


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_each_notebook_has_a_page_published_from_its_current_source(path):
    page = publish.PAGES / f"{path.stem}.html"
    assert page.is_file(), f"{page.relative_to(ROOT)} is missing: run `python notebooks/publish.py {path.stem}`"
    assert publish.recorded_hash(page) == publish.source_hash(path), (
        f"{path.name} changed since {page.relative_to(ROOT)} was published: "
        f"run `python notebooks/publish.py {path.stem}` and commit the page"
    )
    html = page.read_text(encoding="utf-8")
    assert "output_subarea" in html  # executed: the outputs are in the page


def test_the_source_hash_follows_the_cells_and_not_the_file_bytes(tmp_path):
    notebook = json.loads(NOTEBOOKS[0].read_text())
    copy = tmp_path / "copy.ipynb"
    copy.write_text(json.dumps(notebook, indent=4).replace("\n", "\r\n"))  # another layout, other line ends
    assert publish.source_hash(copy) == publish.source_hash(NOTEBOOKS[0])
    notebook["cells"][-1]["source"].append("\n# one more line")
    copy.write_text(json.dumps(notebook))
    assert publish.source_hash(copy) != publish.source_hash(NOTEBOOKS[0])


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


def test_a_notebook_that_fails_leaves_its_page_as_it_was(tmp_path, monkeypatch):
    """publish() writes a page only for a notebook that ran to its end; an unknown name is refused."""
    monkeypatch.setattr(publish, "PAGES", tmp_path / "pages")
    notebook = tmp_path / "tiny.ipynb"

    def save(source: str) -> None:
        cell = {"cell_type": "code", "execution_count": None, "id": "c1", "metadata": {}, "outputs": []}
        cell["source"] = source
        document = {"cells": [cell], "metadata": {}, "nbformat": 4, "nbformat_minor": 5}
        notebook.write_text(json.dumps(document))

    save("print(6 * 7)")
    page = publish.publish(notebook)
    published = page.read_text()
    assert "42" in published and publish.recorded_hash(page) == publish.source_hash(notebook)
    save("raise RuntimeError('broken on purpose')")
    with pytest.raises(Exception, match="broken on purpose"):
        publish.publish(notebook)
    assert page.read_text() == published and sorted(p.name for p in page.parent.iterdir()) == ["tiny.html"]
    with pytest.raises(SystemExit, match="no notebook named nope; choose from 01_mlp_keras_vs_pytorch"):
        publish.main(["nope"])


@pytest.mark.parametrize("path", NOTEBOOKS, ids=lambda p: p.name)
def test_every_exercise_keeps_its_answer_folded_in_its_own_cell(path):
    """The learner thinks first: each answer sits in a collapsed <details> block inside the exercise
    it answers, never in the next cell; a code cell after the exercises checks the answers."""
    cells = json.loads(path.read_text())["cells"]
    found = [i for i, c in enumerate(cells) if "".join(c["source"]).lstrip().startswith("## Exercise")]
    assert len(found) == 1, f"{path.name}: one exercises cell, starting with '## Exercise'"
    text = "".join(cells[found[0]]["source"])
    exercises = len(re.findall(r"^\d+\. ", text, re.M)) or 1  # numbered, or a single exercise
    assert text.count("<details>") == text.count("</details>") == exercises, path.name
    assert found[0] + 1 < len(cells) and cells[found[0] + 1]["cell_type"] == "code", f"{path.name}: no check cell"
