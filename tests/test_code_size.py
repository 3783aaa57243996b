"""The README's lines-of-code table is the one the tokenizer counts today."""

import re
from pathlib import Path

from compare.report.code_size import code_lines, markdown

README = Path(__file__).resolve().parents[1] / "README.md"


def test_only_lines_with_code_count():
    source = (
        '"""A docstring\nof two lines."""\n\n# a comment\nx = 1  # code with a comment\n\n'
        'def f():\n    """Doc."""\n    return (x +\n            1)\n'
    )
    # x = 1; def f():; return (x +; 1): the docstrings, the comment and the blank lines do not count.
    assert code_lines(source) == 4


def test_the_readme_table_is_generated():
    block = re.search(r"<!-- code-size:start -->\n(.*?)\n<!-- code-size:end -->", README.read_text(), re.S)
    assert block, "README.md lost its code-size markers"
    assert block.group(1) == markdown(), "README's table is stale: paste `python -m compare.report.code_size` into it"
