"""Execute the notebooks and publish each, outputs and plots included, as docs/notebooks/<stem>.html.

    python notebooks/publish.py                       # every notebook, two at a time
    python notebooks/publish.py 02_resnet_v2_block    # only those named (stems or file names)

The notebooks in notebooks/ stay without outputs (tests/test_notebooks_clean.py); the pages are
what a reader sees without running anything. Each page records the hash of its notebook's source
(`SOURCE_HASH_META`); tests/test_notebooks_clean.py fails when a notebook changed and its page was
not published again. A page is written only when its notebook ran to the end, and written whole
(a temporary file, then renamed): a failing notebook leaves its old page as it was.
Needs nbclient and nbconvert (`pip install -e .[docs]`, in requirements-cpu.txt).
"""

from __future__ import annotations

import argparse
import datetime
import hashlib
import json
import os
import platform
import re
import sys
from concurrent.futures import ThreadPoolExecutor
from html import escape
from pathlib import Path

NOTEBOOKS = Path(__file__).resolve().parent
PAGES = NOTEBOOKS.parent / "docs" / "notebooks"
SOURCE_HASH_META = "notebook-source-sha256"
CELL_TIMEOUT_S = 900
STYLESHEET = "notebook.css"  # one file beside the pages, shared by all of them
PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="{meta}" content="{hash}">
<title>{title}</title>
<link rel="stylesheet" href="notebook.css">
</head>
<body>
<main>
{body}
</main>
</body>
</html>
"""
LAYOUT = """body { margin: 0 auto; max-width: 60rem; padding: 1rem 1.5rem; font: 16px/1.5 system-ui, sans-serif; }
pre { overflow-x: auto; font: 13px/1.4 ui-monospace, monospace; margin: 0; }
.input_area { background: #f6f8fa; border: 1px solid #e1e4e8; padding: 0.5rem; margin: 0.5rem 0; }
.output_area pre { padding: 0.25rem 0.5rem; }
.output_area img { max-width: 100%; }
.prompt, .anchor-link { display: none; }
table { border-collapse: collapse; } th, td { border: 1px solid #d0d7de; padding: 0.2rem 0.5rem; }
details { background: #fffbe6; padding: 0.25rem 0.5rem; }
"""


def source_hash(notebook: Path) -> str:
    """The SHA-256 of a notebook's cells, kind and source: what the reader reads, not file bytes
    (line endings or a reformatted JSON file leave it unchanged)."""
    cells = json.loads(notebook.read_text(encoding="utf-8"))["cells"]
    text = json.dumps([[cell["cell_type"], "".join(cell["source"])] for cell in cells], ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def recorded_hash(page: Path) -> str | None:
    """The source hash a published page records, or None when it records none."""
    found = re.search(rf'<meta name="{SOURCE_HASH_META}" content="([0-9a-f]{{64}})"', page.read_text(encoding="utf-8"))
    return found.group(1) if found else None


def machine() -> str:
    """The CPU the outputs come from, as every figure of the project names it."""
    from compare.harness.environment import cpu_capability, cpu_model, usable_cpus

    return f"{cpu_model()}, {usable_cpus()} threads, torch kernels {cpu_capability() or 'unknown'}"


def publish(notebook: Path) -> Path:
    """Run `notebook` top to bottom in a fresh kernel (in notebooks/, as a reader would) and write its page."""
    import nbformat
    from nbclient import NotebookClient
    from nbconvert import HTMLExporter

    document = nbformat.read(notebook, as_version=4)
    where = {"metadata": {"path": str(NOTEBOOKS)}}  # run in notebooks/, as a reader would
    NotebookClient(document, timeout=CELL_TIMEOUT_S, kernel_name="python3", resources=where).execute()
    stamp = (
        f"*Executed by `python notebooks/publish.py` on {datetime.date.today().isoformat()}, "
        f"{machine()}, Python {platform.python_version()}. The outputs below are that run's; "
        f"the source is `notebooks/{notebook.name}`.*"
    )
    document.cells.insert(0, nbformat.v4.new_markdown_cell(stamp))
    body, _ = HTMLExporter(template_name="basic").from_notebook_node(document)  # cells only, no inline CSS
    title = document.cells[1].source.splitlines()[0].lstrip("# ") if len(document.cells) > 1 else notebook.stem
    html = PAGE.format(meta=SOURCE_HASH_META, hash=source_hash(notebook), title=escape(title), body=body)
    PAGES.mkdir(parents=True, exist_ok=True)
    page = PAGES / f"{notebook.stem}.html"
    write_whole(page, html)
    return page


def write_whole(path: Path, text: str) -> None:
    """Write `text` to a temporary file beside `path`, then rename it: never a half-written page."""
    partial = path.with_name(path.name + ".partial")
    partial.write_text(text, encoding="utf-8")
    partial.replace(path)


def stylesheet() -> str:
    """The pages' one stylesheet: a readable column, and Pygments' colours for the code."""
    from pygments.formatters import HtmlFormatter

    return LAYOUT + HtmlFormatter(style="default").get_style_defs(".highlight") + "\n"


def chosen(names: list[str]) -> list[Path]:
    every = sorted(NOTEBOOKS.glob("*.ipynb"))
    if not names:
        return every
    by_stem = {path.stem: path for path in every}
    unknown = [name for name in names if Path(name).stem not in by_stem]
    if unknown:
        raise SystemExit(f"error: no notebook named {', '.join(unknown)}; choose from {', '.join(by_stem)}")
    return [by_stem[Path(name).stem] for name in names]


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("notebooks", nargs="*", help="stems or file names (default: every notebook)")
    parser.add_argument("--jobs", type=int, default=2, help="notebooks executed at once (default: 2)")
    arguments = parser.parse_args(argv)
    if arguments.jobs < 1:
        parser.error(f"--jobs must be 1 or more. Received: {arguments.jobs}")
    notebooks = chosen(arguments.notebooks)
    PAGES.mkdir(parents=True, exist_ok=True)
    write_whole(PAGES / STYLESHEET, stylesheet())  # once, before the pages that link it
    os.environ.setdefault("OMP_NUM_THREADS", "1")  # notebooks side by side: one thread each, as the suite runs them
    failed = []

    def run(notebook: Path) -> None:
        try:
            print(f"published {publish(notebook).relative_to(NOTEBOOKS.parent)}", flush=True)
        except Exception as error:  # the others still run; this page is left as it was
            failed.append(notebook.name)
            print(f"FAILED {notebook.name}: {type(error).__name__}: {str(error)[-2000:]}", file=sys.stderr, flush=True)

    with ThreadPoolExecutor(max_workers=min(arguments.jobs, len(notebooks))) as pool:
        list(pool.map(run, notebooks))
    if failed:
        print(f"{len(failed)} notebook(s) failed, their pages unchanged: {', '.join(failed)}", file=sys.stderr)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
