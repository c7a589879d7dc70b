"""Shared test set-up: the warning allow-list, program helpers and the built site."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from evidence.running import policy
from evidence.programs import program_path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    # the same allow-list the published output uses (evidence/running/policy.py)
    for line in policy.pytest_filters():
        config.addinivalue_line("filterwarnings", line)


def load_program(topic: str, kind: str):
    """Import ``snippets/<topic>/<prefix>_<topic>.py`` as a module."""
    return importlib.import_module(f"snippets.{topic}.{program_path(topic, kind).stem}")


def run_downloaded(topic: str, kinds: list[str], args: list[str], folder: Path,
                   timeout: float = 300) -> dict[str, subprocess.CompletedProcess]:
    """Copy programs alone into their own sub-folders of ``folder`` (as a reader's downloads)
    and run each there as ``python <file> <args>``, all at once (start-up dominates)."""
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONWARNINGS"] = "ignore"  # the program's own output is what is checked here
    running = {}
    for kind in kinds:
        source = program_path(topic, kind)
        work = folder / kind
        work.mkdir()
        shutil.copyfile(source, work / source.name)
        running[kind] = subprocess.Popen([sys.executable, source.name, *args], cwd=work, env=env,
                                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    done = {}
    for kind, proc in running.items():
        out, err = proc.communicate(timeout=timeout)
        done[kind] = subprocess.CompletedProcess(proc.args, proc.returncode, out, err)
    return done


@pytest.fixture
def outside_repo(tmp_path: Path) -> Path:
    """An empty folder outside the repository, like a reader's download folder."""
    folder = tmp_path / "download"
    folder.mkdir()
    assert PROJECT_DIR not in folder.parents
    return folder


@pytest.fixture(scope="session")
def built_site(tmp_path_factory) -> Path:
    """The whole site, built once per test session with ``mkdocs build --strict``.

    Executed results are reused from ``docs/generated/`` when their inputs are unchanged
    (the build's own cache), so a second session is quick; a fresh clone executes everything.
    """
    site = tmp_path_factory.mktemp("site")
    env = {**os.environ, "NO_MKDOCS_2_WARNING": "1"}
    env.pop("DOCS_EXECUTE", None)
    proc = subprocess.run([sys.executable, "-m", "mkdocs", "build", "--strict", "--site-dir", str(site)],
                          cwd=PROJECT_DIR, env=env, capture_output=True, text=True, timeout=1800)
    if proc.returncode != 0:
        pytest.fail(f"mkdocs build --strict failed:\n{proc.stderr[-6000:]}", pytrace=False)
    (site / ".build-log.txt").write_text(proc.stderr)
    return site
