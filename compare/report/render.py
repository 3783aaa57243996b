"""A report's sections as Markdown and as one self-contained HTML file.

The Markdown is made from the `Section` list (compare.report.sections); the HTML is
that same Markdown rendered by markdown-it-py, so the two never say different things.
"""

from __future__ import annotations

import base64
from collections.abc import Callable
from pathlib import Path

from markdown_it import MarkdownIt

from compare.report.columns import write_tables
from compare.report.plots import draw_plots
from compare.report.sections import sections


def table_cell(cell) -> str:
    """One Markdown table cell: pipes escaped, on one line."""
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(table_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(document: dict, plots: list[Path], image_source: Callable[[Path], str] | None = None) -> str:
    """The report as Markdown; each plot linked by `image_source(path)` (default: its path
    relative to the report)."""
    source = image_source or (lambda path: f"{path.parent.name}/{path.name}")
    parts = ["# Keras 3 vs PyTorch: comparison report"]
    for section in sections(document):
        parts.append(f"{'#' * section.level} {section.title}")
        parts.extend(section.paragraphs)
        if section.rows:
            parts.append(markdown_table(section.headers, section.rows))
    if plots:
        parts.append("## Plots")
        parts.extend(f"![{path.stem}]({source(path)})" for path in plots)
    return "\n\n".join(parts) + "\n"


def data_uri(path: Path) -> str:
    """A PNG inlined, so the HTML report is one self-contained file."""
    return "data:image/png;base64," + base64.b64encode(path.read_bytes()).decode("ascii")


# CommonMark with GitHub's tables, raw HTML off: text such as "<model>" is shown, never parsed.
MARKDOWN = MarkdownIt("commonmark", {"html": False}).enable("table")
STYLE = (
    "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
    "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
    "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
    "img{max-width:100%}code{background:#f3f3f3;padding:0 2px}"
)


def render_html(document: dict, plots: list[Path]) -> str:
    """The same Markdown as report.md, rendered by markdown-it-py, plots inlined."""
    body = MARKDOWN.render(render_markdown(document, plots, image_source=data_uri))
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Keras 3 vs PyTorch report</title>"
        f"<style>{STYLE}</style></head><body>{body}</body></html>\n"
    )


def write_report(document: dict, folder: Path) -> list[Path]:
    """Write report.md, report.html, plots/*.png and the tidy tables runs.csv and aggregates.csv
    into `folder`; return their paths."""
    plots = draw_plots(document, folder / "plots")
    written = []
    for name, text in (("report.md", render_markdown(document, plots)), ("report.html", render_html(document, plots))):
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written + plots + write_tables(document, folder)
