"""The fake replays (`tests.test_replays.fakes`), run once per session on the oldest release of
the version matrix and on the pinned one, through the real runner."""

from __future__ import annotations

from pathlib import Path

import pytest

from evidence import matrix
from evidence.replays import run
from tests.test_replays import fakes

OLDER, PINNED = matrix.VERSIONS[0], matrix.VERSIONS[-1]
NEWEST_MINOR = int(PINNED.split(".")[1])


@pytest.fixture(scope="session")
def recorded(tmp_path_factory) -> tuple[Path, Path, list[str]]:
    """``(replays folder, results folder, what the runner said)`` after both releases ran."""
    root = fakes.make(tmp_path_factory.mktemp("snippets") / "replays", NEWEST_MINOR)
    out = tmp_path_factory.mktemp("recorded")
    said: list[str] = []
    for version in (OLDER, PINNED):
        run.run_release(version, out, log=said.append, root=root)
    return root, out, said


@pytest.fixture
def shown(recorded, monkeypatch):
    """The fake replays and their results as the site's: what the views and summary.json read."""
    from evidence import replays

    root, out, _ = recorded
    monkeypatch.setattr(replays, "REPLAYS_DIR", root)
    monkeypatch.setattr(replays, "RESULTS_DIR", out)
    return root, out
