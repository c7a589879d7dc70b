"""Every program as a Jupyter notebook, generated from the program file itself.

`notebook` turns one program (`evidence.programs.Program`) into an nbformat 4 notebook, written
by hand as JSON (no dependency on ``nbformat``):

1. a Markdown cell: the file's name, its module docstring and the ``pip install`` line it needs
   (`Program.pip_install`);
2. code cells holding the program's top-level statements, in order and byte for byte: the
   imports together in one cell (a ``try:`` that only imports, and exits with the install
   command when a package is missing, counts as an import), one cell per top-level ``def`` or
   ``class``, and the other top-level statements (constants) in a cell of their own. Nothing is
   dropped except the module docstring (it is the Markdown cell) and the
   ``if __name__ == "__main__":`` block; a comment stays with the statement it precedes (or,
   with no blank line between, follows);
3. a last code cell that runs the program as the page tells a reader to run its file
   (``python <file> --epochs 3``): `RUN_CALL`, ``run`` with its other defaults, printing as it
   trains; ``result`` keeps what it returns (the trained model, the history) for the next cells.

A program that needs its own file (it starts itself again under ``torchrun``, or names itself
on a command line it builds: it reads ``__file__``) cannot run from cells alone: for such a
program the last cell first writes the program, byte for byte what the site's download is, next
to the notebook and sets ``__file__`` to it.

The same program always gives the same bytes (no dates, no random cell ids), so the published
notebooks change only when their program does.
"""

from __future__ import annotations

import ast
import json

from evidence.programs import Program

EPOCHS = 3
"""Epochs of the last cell's run: the downloads box's ``--epochs 3`` (``content.RUN_ARGS``)."""

RUN_CALL = f"result = run(epochs={EPOCHS}, verbose=True)"
"""The last cell's call: the program's ``run`` as its command line calls it, printing as it trains."""

NOTEBOOK_METADATA = {
    "kernelspec": {"display_name": "Python 3", "language": "python", "name": "python3"},
    "language_info": {"name": "python"},
}


def notebook_name(program: Program) -> str:
    """``<kind>_<topic>.ipynb``: the program's file name with the notebook's suffix."""
    return program.path.with_suffix(".ipynb").name


def _is_main_block(node: ast.stmt) -> bool:
    """``if __name__ == "__main__":`` (either side of the ``==``)."""
    if not isinstance(node, ast.If) or not isinstance(node.test, ast.Compare):
        return False
    test = node.test
    if len(test.ops) != 1 or not isinstance(test.ops[0], ast.Eq):
        return False
    sides = {ast.unparse(test.left), ast.unparse(test.comparators[0])}
    return sides == {"__name__", "'__main__'"}


def _is_docstring(node: ast.stmt) -> bool:
    return (isinstance(node, ast.Expr) and isinstance(node.value, ast.Constant)
            and isinstance(node.value.value, str))


def _group(node: ast.stmt) -> str:
    """Which kind of cell a top-level statement goes in: ``import``, ``def`` or ``other``."""
    if isinstance(node, (ast.Import, ast.ImportFrom)):
        return "import"
    if isinstance(node, ast.Try) and all(isinstance(n, (ast.Import, ast.ImportFrom)) for n in node.body):
        return "import"  # try: import x / except ImportError: sys.exit("... pip install x")
    if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
        return "def"
    return "other"


def _spans(lines: list[str], body: list[ast.stmt]) -> list[range]:
    """The lines (0-based) each top-level statement owns: its own, the comment lines right after
    it (no blank line between: a trailing ``# ...``), and every line before it back to what the
    previous statement owns (a comment above a statement goes with it). The last statement also
    owns whatever follows it."""
    ends = []
    for node in body:
        end = node.end_lineno  # 0-based index of the line after the statement
        while end < len(lines) and lines[end].lstrip().startswith("#"):
            end += 1
        ends.append(end)
    ends[-1] = len(lines)
    starts = [0] + ends[:-1]
    return [range(start, end) for start, end in zip(starts, ends)]


def code_cells(source: str) -> tuple[str | None, list[str]]:
    """The program's module docstring (or None) and the source of its code cells, in order.

    Every line of ``source`` lands in exactly one cell, except the lines the module docstring
    and the ``if __name__ == "__main__":`` block own (`_spans`) and blank lines between cells.
    """
    tree = ast.parse(source)
    lines = source.splitlines()
    if not tree.body:
        return None, []
    docstring = ast.get_docstring(tree, clean=True)
    cells: list[list[int]] = []
    previous_group = None
    for index, (node, span) in enumerate(zip(tree.body, _spans(lines, tree.body))):
        if (index == 0 and _is_docstring(node)) or _is_main_block(node):
            previous_group = None
            continue
        group = _group(node)
        if cells and group == previous_group and group != "def":
            cells[-1].extend(span)
        else:
            cells.append(list(span))
        previous_group = group
    out = []
    for owned in cells:
        text = "\n".join(lines[i] for i in owned).strip("\n")
        if text.strip():
            out.append(text)
    return docstring, out


def _run_parameters(source: str) -> set[str]:
    for node in ast.parse(source).body:
        if isinstance(node, ast.FunctionDef) and node.name == "run":
            args = node.args
            return {a.arg for a in args.posonlyargs + args.args + args.kwonlyargs}
    return set()


def reads_own_file(source: str) -> bool:
    """Whether the program reads ``__file__`` (it starts itself again, or names itself)."""
    return any(isinstance(n, ast.Name) and n.id == "__file__" for n in ast.walk(ast.parse(source)))


def run_cell(program: Program) -> str:
    """The last cell: `RUN_CALL`, after writing the program to its file where it needs one."""
    if not reads_own_file(program.source):
        return RUN_CALL
    return "\n".join([
        f"# {program.path.name} starts itself again (or names itself): it needs its own file",
        f"__file__ = {program.path.name!r}",
        "with open(__file__, \"w\") as file:",
        f"    file.write({program.source!r})",
        RUN_CALL,
    ])


def _lines(text: str) -> list[str]:
    """A cell's ``source`` as Jupyter writes it: lines, each with its newline but the last."""
    parts = text.split("\n")
    return [line + "\n" for line in parts[:-1]] + [parts[-1]]


def _code(index: int, text: str) -> dict:
    return {"cell_type": "code", "execution_count": None, "id": f"cell-{index:02d}", "metadata": {},
            "outputs": [], "source": _lines(text)}


def _markdown(index: int, text: str) -> dict:
    return {"cell_type": "markdown", "id": f"cell-{index:02d}", "metadata": {}, "source": _lines(text)}


def introduction(program: Program, docstring: str | None) -> str:
    """The Markdown cell: what the program is, what it needs, what the cells are."""
    name = program.path.name
    return "\n".join([
        f"# `{name}`",
        "",
        *([docstring, ""] if docstring else []),
        "Install what it needs first (in Colab or Jupyter, in a cell of its own: `%pip install ...`):",
        "",
        "```bash",
        program.pip_install,
        "```",
        "",
        f"The code cells are `{name}` statement by statement, without its `if __name__ == \"__main__\":` "
        f"block; the last one trains for {EPOCHS} epochs with `run`'s other defaults, printing as it goes, as "
        f"`python {name} --epochs {EPOCHS}` does: on the CPU, or on CUDA where a GPU is present.",
    ])


def notebook(program: Program) -> str:
    """The program as an nbformat 4 notebook (JSON text, as Jupyter writes it).

    Raises:
        ValueError: the program's ``run`` takes no ``epochs`` or ``verbose`` argument.
    """
    source = program.source
    missing = {"epochs", "verbose"} - _run_parameters(source)
    if missing:
        raise ValueError(f"{program.path.name}: run() takes no {', '.join(sorted(missing))} argument; "
                         f"the notebook's last cell calls {RUN_CALL}")
    docstring, code = code_cells(source)
    texts = [introduction(program, docstring), *code, run_cell(program)]
    cells = [_markdown(0, texts[0])] + [_code(i, text) for i, text in enumerate(texts[1:], start=1)]
    document = {"cells": cells, "metadata": NOTEBOOK_METADATA, "nbformat": 4, "nbformat_minor": 5}
    return json.dumps(document, indent=1, sort_keys=True, ensure_ascii=False) + "\n"
