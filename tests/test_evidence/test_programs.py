"""evidence/programs.py and source.py: finding programs, counting lines, the lines that differ,
the packages a program needs."""

from __future__ import annotations

import pytest

from evidence.programs import KINDS, SNIPPETS_DIR, programs, topics
from evidence.source import compress_ranges, count_loc, distinct_lines, requires
from evidence.views.changes import highlight_lines


def test_count_loc_skips_blank_lines_comments_and_docstrings():
    source = '''"""Module docstring
over two lines."""

import os  # a comment


def f(x):
    """Docstring."""
    # only a comment
    return (x +
            1)
'''
    assert count_loc(source) == 4  # import, def, and the two lines of the return


def test_count_loc_counts_the_whole_file_command_line_included():
    source = """import sys


def run():
    x = 1
    return {"x": x}


def main():
    return run()
"""
    assert count_loc(source) == 6  # nothing in a program is left out of its count


def test_no_program_carries_site_scaffolding():
    """The downloads are what readers adopt: no region markers, no harness-only code."""
    for topic in topics():
        for program in programs(topic):
            assert "# region" not in program.source and "# endregion" not in program.source, program.path


def test_count_loc_counts_a_string_that_is_not_a_docstring():
    assert count_loc('x = """a\nb"""\n') == 2


def test_distinct_lines_reports_changed_and_added_lines():
    a = "a = 1\nb = 2\n\nc = 3\n"
    b = "a = 1\nb = 20\nc = 3\n"
    assert distinct_lines(a, b) == [2]
    assert distinct_lines(b, a) == [2]


def test_compress_ranges():
    assert compress_ranges([1, 2, 3, 7, 9, 10]) == "1-3 7 9-10"
    assert compress_ranges([]) == ""


def test_every_topic_has_a_plain_pytorch_program_and_another():
    for topic in topics():
        kinds = [p.kind for p in programs(topic)]
        assert kinds[0] == "pytorch", topic
        assert len(kinds) >= 2, topic
        assert kinds == [k for k in KINDS if k in kinds]


def test_highlights_point_at_lines_that_exist():
    for topic in topics():
        for program in programs(topic):
            n = len(program.path.read_text().splitlines())
            assert all(1 <= line <= n for line in highlight_lines(topic)[program.kind])


def test_unknown_topic_is_a_clear_error():
    with pytest.raises(LookupError, match="has no program"):
        programs("no_such_topic")


def test_snippets_holds_topic_folders_only():
    """Reader programs and their run declarations, and the known issues replayed (their own
    folder, tests/test_replays checks them); the machinery lives in evidence/."""
    entries = {p.name for p in SNIPPETS_DIR.iterdir() if p.name not in ("__init__.py", "__pycache__", "replays")}
    assert entries == set(topics())
    for topic in topics():
        allowed = {"__init__.py", "runs.toml", "__pycache__"} | {f"{k}_{topic}.py" for k in KINDS}
        assert {p.name for p in (SNIPPETS_DIR / topic).iterdir()} <= allowed, topic


def test_requires_maps_imports_to_distributions():
    source = ("import argparse\nimport torch\nfrom sklearn.datasets import load_digits\n"
              "from pytorch_lightning.loggers import TensorBoardLogger\nfrom lightning_fabric import Fabric\n")
    assert requires(source) == ["torch", "pytorch-lightning", "scikit-learn", "tensorboard"]
    with pytest.raises(LookupError, match="no_such_module"):
        requires("import no_such_module\n")
