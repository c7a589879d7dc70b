"""What a program's source holds: lines of code, the lines that differ, the packages it needs.

Read at render time from the files as they are (a result's cache key already covers the
programs, so these numbers always describe the code that ran).
"""

from __future__ import annotations

import ast
import difflib
import functools
import io
import sys
import tokenize


LOC_RULE = ("Lines of code of the whole file, as downloaded: every line holding code, without blank lines, "
            "comments and docstrings; the command line (main()) included. The same rule applies to every "
            "implementation.")
"""The rule `count_loc` applies, stated beside every line count on the site."""


def count_loc(source: str) -> int:
    """Count the lines that do the task, by `LOC_RULE`.

    A line counts when it holds code: not blank, not only a comment, and not part of a
    docstring (a string expression standing alone as a statement).
    """
    return len(counted_lines(source))


@functools.lru_cache(maxsize=256)
def counted_lines(source: str) -> frozenset[int]:
    """1-based numbers of the lines `count_loc` counts.

    Memoised by source text: a build asks for each program's count from several views.
    """
    code_lines: set[int] = set()
    previous = tokenize.NEWLINE
    for token in tokenize.generate_tokens(io.StringIO(source).readline):
        if token.type in (tokenize.COMMENT, tokenize.NL, tokenize.NEWLINE, tokenize.INDENT,
                          tokenize.DEDENT, tokenize.ENDMARKER, tokenize.ENCODING):
            if token.type in (tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT):
                previous = token.type
            continue
        standalone_string = token.type == tokenize.STRING and previous in (
            tokenize.NEWLINE, tokenize.INDENT, tokenize.DEDENT)
        previous = token.type
        if standalone_string:
            continue
        code_lines.update(range(token.start[0], token.end[0] + 1))
    return frozenset(code_lines)


def distinct_lines(source: str, other: str) -> list[int]:
    """1-based numbers of the non-blank lines of ``source`` that ``other`` does not share.

    Lines are compared with surrounding whitespace stripped, in order (a diff), so a line
    that moved or changed is reported.
    """
    a = [line.strip() for line in source.splitlines()]
    b = [line.strip() for line in other.splitlines()]
    matcher = difflib.SequenceMatcher(a=a, b=b, autojunk=False)
    shared = set()
    for block in matcher.get_matching_blocks():
        shared.update(range(block.a, block.a + block.size))
    return [i + 1 for i, line in enumerate(a) if line and i not in shared]


def compress_ranges(lines: list[int]) -> str:
    """``[1, 2, 3, 7]`` -> ``"1-3 7"`` (the form ``hl_lines`` takes)."""
    parts: list[list[int]] = []
    for n in lines:
        if parts and parts[-1][1] == n - 1:
            parts[-1][1] = n
        else:
            parts.append([n, n])
    return " ".join(f"{a}-{b}" if a != b else f"{a}" for a, b in parts)


RUNTIME_EXTRAS = {"TensorBoardLogger": "tensorboard", "LightningCLI": "jsonargparse[signatures]"}
"""Names whose use needs a package the program does not import itself: Lightning's
``TensorBoardLogger`` imports ``tensorboard`` (or ``tensorboardX``) when it writes, and
``LightningCLI`` needs jsonargparse with its ``signatures`` extra."""


@functools.lru_cache(maxsize=None)
def _distributions() -> dict[str, list[str]]:
    from importlib.metadata import packages_distributions

    return packages_distributions()


def imported_modules(source: str) -> tuple[set[str], set[str]]:
    """The top-level modules a program imports, and every name it imports from them."""
    modules, names = set(), set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            modules |= {alias.name.split(".")[0] for alias in node.names}
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            modules.add(node.module.split(".")[0])
            names |= {alias.name for alias in node.names}
    return modules, names


def requires(source: str) -> list[str]:
    """The distributions (PyPI names) a program needs, computed from its imports.

    Standard-library modules need nothing; every other imported module is mapped to the
    distribution that installed it here (``sklearn`` -> ``scikit-learn``,
    ``lightning_fabric`` -> ``pytorch-lightning``, which ships it), plus the packages of
    `RUNTIME_EXTRAS` for the names the program uses. ``torch`` comes first.

    Raises:
        LookupError: an imported module is installed by no distribution here.
    """
    return list(_requires(source))


@functools.lru_cache(maxsize=256)
def _requires(source: str) -> tuple[str, ...]:
    """`requires`, memoised by source text (a build asks for each program's list many times)."""
    modules, names = imported_modules(source)
    found = set()
    for module in sorted(modules - set(sys.stdlib_module_names) - {"__future__"}):
        dists = _distributions().get(module)
        if not dists:
            raise LookupError(f"no installed distribution provides the module {module!r}")
        found.add(dists[0])
    for name, package in RUNTIME_EXTRAS.items():
        if name in names:
            found.discard(package.split("[")[0])  # the requirement with its extra replaces the bare one
            found.add(package)
    return tuple(sorted(found, key=lambda d: (d != "torch", d.lower())))
