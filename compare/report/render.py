"""A report's sections as Markdown and as one self-contained HTML file.

One renderer per format over the same `Section` list (compare.report.sections),
so the two never say different things.
"""

from __future__ import annotations

import base64
import html
import re
from pathlib import Path

from compare.report.plots import draw_plots
from compare.report.sections import sections


def table_cell(cell) -> str:
    """One Markdown table cell: pipes escaped, on one line."""
    return str(cell).replace("|", "\\|").replace("\n", " ")


def markdown_table(headers: list[str], rows: list[list[str]]) -> str:
    lines = ["| " + " | ".join(headers) + " |", "|" + "---|" * len(headers)]
    lines += ["| " + " | ".join(table_cell(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def render_markdown(document: dict, plots: list[Path]) -> str:
    parts = ["# Keras 3 vs PyTorch: comparison report"]
    for section in sections(document):
        parts.append(f"{'#' * section.level} {section.title}")
        parts.extend(section.paragraphs)
        if section.rows:
            parts.append(markdown_table(section.headers, section.rows))
    if plots:
        parts.append("## Plots")
        parts.extend(f"![{path.stem}]({path.parent.name}/{path.name})" for path in plots)
    return "\n\n".join(parts) + "\n"


def inline_code(text: str) -> str:
    """Markdown's `code` spans as <code> elements (text already HTML-escaped)."""
    return re.sub(r"`([^`]+)`", r"<code>\1</code>", text)


def render_html(document: dict, plots: list[Path]) -> str:
    body = ["<h1>Keras 3 vs PyTorch: comparison report</h1>"]
    for section in sections(document):
        body.append(f"<h{section.level}>{html.escape(section.title)}</h{section.level}>")
        body.extend(f"<p>{inline_code(html.escape(p))}</p>" for p in section.paragraphs)
        if section.rows:
            head = "".join(f"<th>{html.escape(h)}</th>" for h in section.headers)
            rows = "".join(
                "<tr>" + "".join(f"<td>{html.escape(str(c))}</td>" for c in row) + "</tr>" for row in section.rows
            )
            body.append(f"<table><thead><tr>{head}</tr></thead><tbody>{rows}</tbody></table>")
    if plots:
        body.append("<h2>Plots</h2>")
        for path in plots:
            data = base64.b64encode(path.read_bytes()).decode("ascii")
            body.append(f'<figure><img alt="{path.stem}" src="data:image/png;base64,{data}"></figure>')
    style = (
        "body{font-family:system-ui,sans-serif;max-width:1200px;margin:2em auto;padding:0 1em}"
        "table{border-collapse:collapse;margin:1em 0;font-size:14px}"
        "td,th{border:1px solid #ccc;padding:4px 8px;text-align:left}th{background:#f3f3f3}"
        "img{max-width:100%}"
    )
    return (
        "<!DOCTYPE html><html><head><meta charset='utf-8'><title>Keras 3 vs PyTorch report</title>"
        f"<style>{style}</style></head><body>{''.join(body)}</body></html>\n"
    )


def write_report(document: dict, folder: Path) -> list[Path]:
    """Write report.md, report.html and plots/*.png into `folder`; return their paths."""
    plots = draw_plots(document, folder / "plots")
    written = []
    for name, text in (("report.md", render_markdown(document, plots)), ("report.html", render_html(document, plots))):
        path = folder / name
        tmp = path.with_name(f".{name}.tmp")
        tmp.write_text(text)
        tmp.replace(path)
        written.append(path)
    return written + plots
