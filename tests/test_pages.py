"""The page scripts only load results and render them through views.

Pages are what readers see cell by cell; markup, result saving and program runs belong to the
machinery (``evidence/``), and every run a page shows is declared in a ``runs.toml``.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from evidence.programs import PROJECT_DIR

PAGES = sorted((PROJECT_DIR / "gallery").rglob("plot_*.py"))
FORBIDDEN = [
    (re.compile(r"<code>|<br>|<strong>|<em>|<p>|<table|<div"), "HTML markup (use typed cells and views)"),
    (re.compile(r"\bsave\("), "saving results (the build stores them)"),
    (re.compile(r"\b(execute|execute_stale|run_spec)\("), "running a topic (declare the run in runs.toml)"),
    (re.compile(r"\bmax_abs_difference\(|\bmeasure\.verdict\(|\b[A-Z_]*TOLERANCE\b"),
     "a verdict computed on the page (declare it in the topic's runs.toml [[checks]])"),
    (re.compile(r"evidence\.views\.topics"), "a per-topic view module (a topic lives in its own three places)"),
    (re.compile(r"#\s*noqa"), "a linter exception"),
]


def _name(page: Path) -> str:
    return page.relative_to(PROJECT_DIR).as_posix() if page.is_relative_to(PROJECT_DIR) else page.name


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.parent.name)
def test_page_builds_no_markup_and_runs_nothing(page: Path):
    code = "\n".join(line for line in page.read_text().splitlines() if not line.lstrip().startswith("#"))
    tree = ast.parse(page.read_text())
    docstring = ast.get_docstring(tree) or ""
    code = code.replace(docstring, "")
    for pattern, what in FORBIDDEN:
        assert not pattern.search(code), f"{_name(page)}: {what}"
    for node in ast.walk(tree):
        if isinstance(node, (ast.Import, ast.ImportFrom)):
            names = [node.module or ""] if isinstance(node, ast.ImportFrom) else [a.name for a in node.names]
            assert not any(n == "snippets" or n.startswith("snippets.") for n in names), \
                f"{_name(page)} imports a program; pages show results"
        if isinstance(node, ast.JoinedStr):
            literal = "".join(v.value for v in node.values if isinstance(v, ast.Constant))
            assert "<" not in literal, f"{_name(page)}:{node.lineno}: an f-string builds markup"


def test_a_page_with_markup_is_caught(tmp_path):
    page = tmp_path / "plot_x.py"
    page.write_text('"""\n# X\n"""\nx = f"<code>{1}</code>"\n')
    with pytest.raises(AssertionError, match="markup"):
        test_page_builds_no_markup_and_runs_nothing(page)
