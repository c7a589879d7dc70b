"""Every replay in ``snippets/replays/`` and its workaround run on the pinned Lightning without
error, each check can be read from what the program returned, and each workaround's check holds:
the pinned-version guarantee of the page "Known issues, replayed". One interpreter runs them all
(torch and Lightning imported once), a forked child per program, as the version matrix does."""

from __future__ import annotations

import re
import sys

import pytest

from evidence import replays as rp
from evidence.replays import run

REPLAYS = rp.discover()
DEPRECATION = re.compile(r"\w*(Deprecation|Future)Warning: ")


@pytest.fixture(scope="module")
def records() -> dict[str, dict]:
    jobs = [{"id": f"{r.name}/{kind}", "path": str(path), "timeout_s": rp.TIMEOUT_S}
            for r in REPLAYS for kind, path in r.programs.items()]
    _, found = run.run_programs(sys.executable, jobs)
    return found


def test_there_are_replays_and_every_folder_is_one():
    assert REPLAYS, "no replay under snippets/replays/"
    folders = {d.name for d in rp.REPLAYS_DIR.iterdir() if d.is_dir() and d.name != "__pycache__"}
    assert folders == {r.name for r in REPLAYS}, f"folders without {rp.TOML}: {folders - {r.name for r in REPLAYS}}"


@pytest.mark.slow  # every replay and workaround, one forked child each
@pytest.mark.parametrize("replay", REPLAYS, ids=[r.name for r in REPLAYS])
def test_each_replay_runs_and_its_workaround_works_on_the_pinned_lightning(replay, records):
    record = records[f"{replay.name}/replay"]
    assert record["status"] == "ran", f"{replay.name}/replay.py {record['status']}: {record.get('location', '')} " \
                                      f"{record.get('error', '')}\n{record['log']}"
    check = rp.evaluate(replay.reproduces, record["values"])
    assert "error" not in check, check
    assert not DEPRECATION.search(record["log"]), record["log"]  # quiet on the pinned release
    if replay.workaround is not None:
        record = records[f"{replay.name}/workaround"]
        assert record["status"] == "ran", f"{replay.name}/workaround.py {record['status']}: " \
                                          f"{record.get('error', '')}\n{record['log']}"
        check = rp.evaluate(replay.workaround, record["values"])
        assert check.get("held"), f"{replay.name}: the workaround's check does not hold: {check}"
