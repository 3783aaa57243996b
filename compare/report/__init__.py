"""results.json → report.md, a self-contained report.html, and PNG plots.

Everything is computed from the results document alone, so `python -m compare
report DIR` re-renders any earlier comparison. Imports no framework.
"""

from compare.report.plots import draw_plots
from compare.report.render import markdown_table, render_html, render_markdown, write_report
from compare.report.sections import (
    Section,
    differences_sections,
    parity_section,
    regularization_section,
    sections,
    serving_sections,
    summary_section,
    verdict_section,
)

__all__ = [
    "Section",
    "differences_sections",
    "draw_plots",
    "markdown_table",
    "parity_section",
    "regularization_section",
    "render_html",
    "render_markdown",
    "sections",
    "serving_sections",
    "summary_section",
    "verdict_section",
    "write_report",
]
