"""report.html is report.md rendered by markdown-it-py: no Markdown syntax is left as text."""

from html.parser import HTMLParser
from pathlib import Path

import pytest

from compare.contract.results import load_results
from compare.report.render import render_html, render_markdown

EXAMPLE = Path(__file__).parents[1] / "docs" / "example"
# Markdown that a renderer leaves as text when it misses it: strong emphasis, code spans, table rules.
LEFTOVERS = ("**", "`", "|---")


class VisibleText(HTMLParser):
    """The text a browser shows, without the contents of <code>, <pre>, <style> and <title>."""

    HIDDEN = {"code", "pre", "style", "title"}

    def __init__(self):
        super().__init__()
        self.depth, self.parts = 0, []

    def handle_starttag(self, tag, attrs):
        self.depth += tag in self.HIDDEN

    def handle_endtag(self, tag):
        self.depth -= tag in self.HIDDEN

    def handle_data(self, data):
        if not self.depth:
            self.parts.append(data)


def visible_text(page: str) -> str:
    parser = VisibleText()
    parser.feed(page)
    return "".join(parser.parts)


def leftovers(page: str) -> list[str]:
    text = visible_text(page)
    return [mark for mark in LEFTOVERS if mark in text]


def test_the_detector_finds_markdown_left_as_text():
    assert leftovers("<p>**resnet_v2**: counts differ</p>") == ["**"]
    assert leftovers("<p>call `fit`</p><table><tr><td>|---|</td></tr></table>") == ["`", "|---"]
    assert leftovers("<p><strong>resnet_v2</strong>: <code>a ** b</code></p>") == []


@pytest.fixture(scope="module")
def example() -> dict:
    return load_results(EXAMPLE)


def test_the_example_report_renders_without_markdown_syntax(example):
    markdown = render_markdown(example, [])
    assert "**resnet_v2**" in markdown and "`" in markdown  # the Markdown does use them
    page = render_html(example, [])
    assert leftovers(page) == []
    assert "<strong>resnet_v2</strong>" in page and "<code>" in page
    assert page.count("<table>") == markdown.count("\n|---")  # every Markdown table became a table


def test_text_in_angle_brackets_is_shown_not_parsed(example):
    failed = {**example["runs"][0], "status": "failed", "error": {"reason": "ValueError: <script>x</script> & co"}}
    page = render_html({**example, "runs": [*example["runs"], failed]}, [])
    assert "&lt;script&gt;x&lt;/script&gt; &amp; co" in page and "<script>" not in page


def test_results_written_before_repeats_still_render(tmp_path):
    """The committed H200 run is schema 4: single runs, no repeat, no aggregates."""
    document = load_results(EXAMPLE.parent / "results" / "h200-2026-11-27")
    assert document["schema_version"] == 4 and "aggregates" not in document
    markdown = render_markdown(document, [])
    assert "these rankings rank single runs" in markdown and "## Repeated runs" not in markdown
    assert "| mlp | torch | ok |" in markdown  # no repeat number on single runs
    assert leftovers(render_html(document, [])) == []
