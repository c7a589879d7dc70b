"""Every program as a notebook (`evidence.notebooks`) and the links to it (`evidence.hooks.content`).

A notebook is the program itself, cut at its top-level statements: it must be valid nbformat 4,
hold exactly the program's code but its ``if __name__ == "__main__":`` block, and run top to
bottom, as Jupyter runs it, in an environment holding only the packages its ``pip install`` line
names. The every-program run is marked slow; the minimal loop's three run by default.
"""

from __future__ import annotations

import ast
import json
import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.hooks import content
from evidence.notebooks import EPOCHS, RUN_CALL, code_cells, notebook, notebook_name, reads_own_file
from evidence.programs import Program, programs, topics
from tests.conftest import environment_with

PROGRAMS = [p for topic in topics() for p in programs(topic)]
IDS = [p.path.stem for p in PROGRAMS]
PAGE = "generated/topics/01_minimal_loop/plot_minimal_loop.md"

CELL_KEYS = {"code": {"cell_type", "execution_count", "id", "metadata", "outputs", "source"},
             "markdown": {"cell_type", "id", "metadata", "source"}}
"""The keys nbformat 4.5's schema requires of each kind of cell (and allows: no others)."""


def _text(cell: dict) -> str:
    return "".join(cell["source"])


def _program_code(source: str) -> ast.Module:
    """The program's module without its docstring and its ``if __name__ == "__main__":`` block."""
    tree = ast.parse(source)
    body = [node for index, node in enumerate(tree.body)
            if not (index == 0 and ast.get_docstring(tree) is not None)
            and not (isinstance(node, ast.If) and ast.unparse(node.test) == "__name__ == '__main__'")]
    return ast.Module(body=body, type_ignores=[])


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_the_notebook_is_nbformat_4_and_its_code_cells_are_the_program(program: Program):
    text = notebook(program)
    nb = json.loads(text)
    assert (nb["nbformat"], nb["nbformat_minor"]) == (4, 5)
    assert nb["metadata"]["kernelspec"]["language"] == "python"
    ids = [cell["id"] for cell in nb["cells"]]
    assert len(set(ids)) == len(ids) and all(re.fullmatch(r"[a-zA-Z0-9_-]{1,64}", i) for i in ids)
    for cell in nb["cells"]:
        assert set(cell) == CELL_KEYS[cell["cell_type"]], cell
        assert all(line.endswith("\n") for line in cell["source"][:-1])
        assert not cell["source"][-1].endswith("\n")
        if cell["cell_type"] == "code":
            assert cell["outputs"] == [] and cell["execution_count"] is None

    intro, *code = nb["cells"]
    assert intro["cell_type"] == "markdown" and all(c["cell_type"] == "code" for c in code)
    docstring = ast.get_docstring(ast.parse(program.source))
    assert docstring in _text(intro) and program.pip_install in _text(intro)

    *cells, last = (_text(c) for c in code)
    # concatenated, the cells are the program's code minus the main block: the same statements...
    assert ast.dump(ast.parse("\n\n".join(cells))) == ast.dump(_program_code(program.source))
    # ... and every line of them, in order, as the file has it
    lines = [line for cell in cells for line in cell.splitlines() if line.strip()]
    source_lines = program.source.splitlines()
    position = 0
    for line in lines:
        position = source_lines.index(line, position) + 1
    # the imports in the first cell; every def and class alone in its own
    trees = [ast.parse(cell) for cell in cells]
    assert all(isinstance(n, (ast.Import, ast.ImportFrom, ast.Try)) for n in trees[0].body)
    assert not any(isinstance(n, (ast.Import, ast.ImportFrom)) for t in trees[1:] for n in t.body)
    for tree in trees:
        if any(isinstance(n, (ast.FunctionDef, ast.ClassDef)) for n in tree.body):
            assert len(tree.body) == 1
    # the last cell runs it as the page's command line does
    assert last.splitlines()[-1] == RUN_CALL
    assert reads_own_file(program.source) == ("__file__ =" in last)


def test_the_notebook_runs_what_the_downloads_box_tells_a_reader_to_run():
    assert content.RUN_ARGS == f"--epochs {EPOCHS}"
    assert RUN_CALL == f"result = run(epochs={EPOCHS}, verbose=True)"


@pytest.mark.parametrize("program", PROGRAMS, ids=IDS)
def test_the_notebook_is_the_same_bytes_for_the_same_program(program: Program):
    assert notebook(program) == notebook(program)
    assert notebook(program).encode() == notebook(Program(program.topic, program.kind, program.path)).encode()


def test_cells_keep_comments_and_drop_only_the_docstring_and_the_main_block():
    source = '''"""Doc."""

import sys
try:
    import numpy
except ImportError:
    sys.exit("error: pip install numpy")

LIMIT = 3
NAMES = ("a",)


# what f does
@staticmethod
def f():
    return 1
# after f


class C:
    pass


def run(epochs=1, verbose=False):
    return {}


if __name__ == "__main__":
    raise SystemExit(run())
# after the main block
'''
    docstring, cells = code_cells(source)
    assert docstring == "Doc."
    assert cells == ['import sys\ntry:\n    import numpy\nexcept ImportError:\n    sys.exit("error: pip install numpy")',
                     'LIMIT = 3\nNAMES = ("a",)',
                     "# what f does\n@staticmethod\ndef f():\n    return 1\n# after f",
                     "class C:\n    pass",
                     "def run(epochs=1, verbose=False):\n    return {}"]


def test_a_program_whose_run_takes_no_epochs_gets_no_notebook(tmp_path):
    path = tmp_path / "alpha" / "pytorch_alpha.py"
    path.parent.mkdir()
    path.write_text('"""Alpha."""\n\n\ndef run(steps=1, verbose=False):\n    return {}\n')
    with pytest.raises(ValueError, match="epochs"):
        notebook(Program("alpha", "pytorch", path))


# -- the links ------------------------------------------------------------------------------------

def test_the_downloads_box_links_each_notebook_and_colab_only_with_a_repository():
    local = content.downloads_box("minimal_loop", PAGE)
    assert "colab" not in local.lower()
    for program in programs("minimal_loop"):
        assert f"(../../../downloads/minimal_loop/{notebook_name(program)}){{ download }}" in local
    published = content.downloads_box("minimal_loop", PAGE, "https://github.com/owner/repo/")
    colab = re.findall(r"\[:simple-googlecolab: Open in Colab\]\(([^)]+)\)", published)
    assert colab == [f"https://colab.research.google.com/github/owner/repo/blob/notebooks/minimal_loop/"
                     f"{notebook_name(p)}" for p in programs("minimal_loop")]
    assert published.replace(" · ", "").count("download }") == local.replace(" · ", "").count("download }")


def test_implementation_tabs_pass_the_repository_on():
    assert "colab.research.google.com" not in content.implementation_tabs("minimal_loop", PAGE)
    assert "colab.research.google.com" in content.implementation_tabs("minimal_loop", PAGE,
                                                                      repo_url="https://github.com/owner/repo")


@pytest.mark.parametrize("repo_url, expected", [
    (None, None),
    ("", None),
    ("https://github.com/owner/repo", "owner/repo"),
    ("https://github.com/owner/repo.git", "owner/repo"),
    ("https://gitlab.com/owner/repo", None),  # Colab opens notebooks from GitHub only
    ("https://github.com/owner", None),
])
def test_colab_links_need_a_repository_on_github(repo_url, expected):
    url = content.colab_url(repo_url, "minimal_loop", "pytorch_minimal_loop.ipynb")
    assert url == (None if expected is None else
                   f"https://colab.research.google.com/github/{expected}/blob/notebooks/minimal_loop/"
                   "pytorch_minimal_loop.ipynb")


# -- running them ---------------------------------------------------------------------------------

RUN_CELLS = """\
import json, linecache, sys, types
sys.path.append(sys.argv[1])
main = types.ModuleType("__main__")
sys.modules["__main__"] = main
for number, cell in enumerate(json.load(open(sys.argv[2]))["cells"]):
    if cell["cell_type"] == "code":
        name = f"<cell {number}>"
        source = "".join(cell["source"])
        linecache.cache[name] = (len(source), None, source.splitlines(True), name)
        exec(compile(source, name, "exec"), main.__dict__)
"""
"""``python -S -c RUN_CELLS <packages> <notebook>``: the notebook's code cells in order, in one
``__main__`` namespace as Jupyter keeps it (no ``__file__``), with only ``packages`` importable."""


def run_notebooks(found: list[Program], folder: Path, timeout: float = 300) -> dict[str, subprocess.CompletedProcess]:
    """Each program's notebook alone in a sub-folder of ``folder``, run top to bottom in a fresh
    Python process holding only the program's requires, all at once (start-up dominates)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONWARNINGS"] = "ignore"  # the program's own output is what is checked here
    running = {}
    for program in found:
        work = folder / program.kind
        work.mkdir()
        (work / notebook_name(program)).write_text(notebook(program))
        packages = environment_with(program.requires, folder.parent / "environments")
        running[program.kind] = subprocess.Popen(
            [sys.executable, "-S", "-c", RUN_CELLS, str(packages), notebook_name(program)], cwd=work, env=env,
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = {}
    for kind, proc in running.items():
        out, err = proc.communicate(timeout=timeout)
        done[kind] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


def _check_ran(done: dict[str, subprocess.CompletedProcess]):
    for kind, proc in done.items():
        assert proc.returncode == 0, f"{kind}: {proc.stderr[-3000:]}"
        assert proc.stdout.strip(), f"{kind} printed nothing"
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


@pytest.mark.slow  # three kernels; the slow test below runs every notebook, these included
def test_the_minimal_loop_notebooks_run_top_to_bottom_with_only_what_they_require(outside_repo):
    _check_ran(run_notebooks(programs("minimal_loop"), outside_repo))


@pytest.mark.slow
@pytest.mark.parametrize("topic", topics())
def test_every_notebook_runs_top_to_bottom_with_only_what_it_requires(topic, outside_repo):
    _check_ran(run_notebooks(programs(topic), outside_repo))
