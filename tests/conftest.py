"""Shared test set-up: the warning allow-list, program helpers and the built site."""

from __future__ import annotations

import importlib
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from snippets.harness import policy
from snippets.harness.programs import program_path

PROJECT_DIR = Path(__file__).resolve().parents[1]


def pytest_configure(config):
    # the same allow-list the published output uses (snippets/harness/policy.py)
    for line in policy.pytest_filters():
        config.addinivalue_line("filterwarnings", line)


def load_program(topic: str, kind: str):
    """Import ``snippets/<topic>/<prefix>_<topic>.py`` as a module."""
    return importlib.import_module(f"snippets.{topic}.{program_path(topic, kind).stem}")


def run_downloaded(topic: str, kind: str, args: list[str], folder: Path, timeout: float = 300):
    """Copy one program alone into ``folder`` (as a reader's download) and run it there."""
    source = program_path(topic, kind)
    target = folder / source.name
    shutil.copyfile(source, target)
    env = {k: v for k, v in os.environ.items() if k != "PYTHONPATH"}
    env["PYTHONWARNINGS"] = "ignore"  # the program's own output is what is checked here
    return subprocess.run([sys.executable, target.name, *args], cwd=folder, env=env,
                          capture_output=True, text=True, timeout=timeout)


@pytest.fixture
def outside_repo(tmp_path: Path) -> Path:
    """An empty folder outside the repository, like a reader's download folder."""
    folder = tmp_path / "download"
    folder.mkdir()
    assert PROJECT_DIR not in folder.parents
    return folder
