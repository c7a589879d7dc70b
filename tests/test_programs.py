"""The command-line contract every program keeps, checked over every program of every topic.

A reader downloads one file and runs it, so each program must run from an empty folder
outside the repository, and must answer a mistake with exit code 2 and the error on the last
line of stderr (after argparse's usage line, where argparse found it), never a traceback. The topics' own tests (``tests/test_<topic>/``) check what they compute.
Running a download costs a fresh interpreter per program, so the default run runs a sample (the
minimal loop and a topic for each other set of packages); ``-m slow`` runs the rest.
"""

from __future__ import annotations

import pytest
import torch

from evidence.programs import programs, topics
from tests.conftest import closure, load_program, run_downloaded

PROGRAMS = [(p.topic, p.kind) for topic in topics() for p in programs(topic)]
DOWNLOAD_ARGS = ["--epochs", "3"]
"""What each topic page tells a reader to run after downloading a program."""


def _main(topic: str, kind: str, args: list[str]) -> int:
    """The program's exit code for ``args``: what ``main`` returns, or argparse's exit."""
    try:
        return load_program(topic, kind).main(args)
    except SystemExit as exit_:
        return exit_.code


def _clear_error(err: str) -> bool:
    """No traceback, and the last line is the error (argparse's usage line may come before it)."""
    lines = err.strip().splitlines()
    return bool(lines) and "error: " in lines[-1] and len(lines) <= 2 and "Traceback" not in err


@pytest.mark.parametrize("topic, kind", PROGRAMS)
@pytest.mark.parametrize("args, message", [
    (["--epochs", "-1"], "--epochs"),
    (["--device", "tpu"], "tpu"),
])
def test_bad_arguments_are_a_clear_error(topic, kind, args, message, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)  # a program that got as far as writing files writes them here
    code = _main(topic, kind, args)
    err = capsys.readouterr().err
    assert code == 2, err
    assert _clear_error(err) and message in err.lower(), err


@pytest.mark.skipif(torch.cuda.is_available(), reason="checks the message shown when no GPU is present")
@pytest.mark.parametrize("topic, kind", PROGRAMS)
def test_cuda_without_gpu_is_a_clear_error(topic, kind, capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    assert _main(topic, kind, ["--device", "cuda"]) == 2
    err = capsys.readouterr().err
    assert _clear_error(err) and "cuda" in err.lower(), err


def _sample(values: list, key) -> list:
    """``values`` as parameters: the first value for each ``key(value)`` in the default run, the
    others marked slow (``-m slow``; the Pages workflow runs them all before publishing). Each
    default run costs a fresh interpreter per program (five seconds of imports here)."""
    seen, params = set(), []
    for value in values:
        marks = [pytest.mark.slow] if key(value) in seen else []
        seen.add(key(value))
        params.append(pytest.param(*value if isinstance(value, tuple) else (value,), marks=marks))
    return params


def _packages(topic: str) -> tuple:
    return tuple(sorted({r for p in programs(topic) for r in p.requires}))


# in the default run the minimal loop (each topic costs half a minute: a fresh environment, three
# interpreters); -m slow runs every other topic
@pytest.mark.parametrize("topic", _sample(sorted(topics(), key=lambda t: t != "minimal_loop"), key=lambda t: True))
def test_downloaded_programs_run_from_an_empty_folder_with_only_what_they_require(topic, outside_repo):
    """As a reader runs them: alone in an empty folder, in an environment holding exactly the
    packages the page's ``pip install`` line names (and what those depend on)."""
    found = programs(topic)
    only = {p.kind: p.requires for p in found}
    for kind, proc in run_downloaded(topic, list(only), DOWNLOAD_ARGS, outside_repo, only=only).items():
        assert proc.returncode == 0, f"{kind}: {proc.stderr[-3000:]}"
        assert proc.stdout.strip(), f"{kind} printed nothing"
        assert "Traceback" not in proc.stderr, proc.stderr[-3000:]


def test_a_module_outside_the_required_packages_cannot_be_imported(outside_repo):
    """The environment check works: a program that needs tensorboard fails without it."""
    procs = run_downloaded("logging", ["pytorch"], ["--epochs", "1"], outside_repo, only={"pytorch": ["torch"]})
    assert procs["pytorch"].returncode != 0
    assert "tensorboard" in procs["pytorch"].stderr
    assert "torch" in closure(["torch"]) and "pytorch-lightning" not in closure(["torch"])
    assert {"torch", "pytorch-lightning", "lightning-utilities"} <= closure(["pytorch-lightning"])


CORE = {"torch", "pytorch-lightning"}
OPTIONAL = [(p.topic, p.kind, package) for topic in topics() for p in programs(topic)
            for package in p.requires if package not in CORE
            # a package another requirement installs anyway (pytorch-lightning brings NumPy) is not optional
            and package.split("[")[0].lower() not in closure([r for r in p.requires if r != package])]


@pytest.mark.parametrize("topic, kind, package", _sample(OPTIONAL, key=lambda value: value[2]))
def test_a_missing_optional_package_is_named_with_its_install_command(topic, kind, package, outside_repo):
    """Run without one package its pip line names: one line saying which, and how to get it."""
    program = next(p for p in programs(topic) if p.kind == kind)
    without = [p for p in program.requires if p != package]
    proc = run_downloaded(topic, [kind], DOWNLOAD_ARGS, outside_repo, only={kind: without})[kind]
    last = proc.stderr.strip().splitlines()[-1] if proc.stderr.strip() else ""
    assert proc.returncode != 0 and "Traceback" not in proc.stderr, proc.stderr[-2000:]
    shown = f'"{package}"' if "[" in package else package
    assert last.startswith("error: ") and f"pip install {shown}" in last, proc.stderr[-2000:]


LINE_BUDGET = 9_000
"""The programs' total length (every line of every program file): what a reader adopts is the
task's code, not the site's scaffolding (13,289 lines, 5,659 of them site-only, before they were
made adoptable as they are)."""


def test_the_programs_hold_only_their_task_within_the_line_budget():
    texts = {p.path: p.path.read_text() for topic in topics() for p in programs(topic)}
    marked = [str(f) for f, text in texts.items() if "# region" in text or "# endregion" in text]
    assert not marked, f"region markers (site-only code) in {marked}"
    total = sum(len(text.splitlines()) for text in texts.values())
    assert total <= LINE_BUDGET, f"the {len(texts)} programs total {total} lines (budget {LINE_BUDGET})"
