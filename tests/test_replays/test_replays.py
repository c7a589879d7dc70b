"""The replays' machinery: discovery and its errors, the runner (one interpreter per release, a
forked child per program), the checks and verdicts, the release files and their cache."""

from __future__ import annotations

import json
import shutil
import sys

import pytest

from evidence import replays as rp
from evidence.programs import PROJECT_DIR
from evidence.replays import run
from tests.test_replays import fakes
from tests.test_replays.conftest import NEWEST_MINOR, OLDER, PINNED


def entries(out, version) -> dict:
    return json.loads(rp.release_path(version, out).read_text())["replays"]


@pytest.mark.slow  # the replays recorded on three releases (the fixture `recorded`)
def test_every_verdict_comes_from_a_real_run(recorded):
    _, out, said = recorded
    pinned, older = entries(out, PINNED), entries(out, OLDER)
    plain = pinned["plain_mean_differs"]
    assert plain["verdict"] == rp.REPRODUCES and plain["replay"]["status"] == "ran"
    check = plain["reproduces"]
    assert check["held"] and check["verdict"] == "differs" and check["b_is_key"]
    assert abs(check["a_value"] - check["b_value"]) == pytest.approx(check["value"]) and check["value"] > 1e-6
    weighted = pinned["weighted_mean_differs"]
    # kind = "documented", but its check does not hold: the weighted mean is the logged value
    assert weighted["verdict"] == rp.NOT_REPRODUCED and weighted["reproduces"]["verdict"] in ("identical", "close")
    assert weighted["workaround_verdict"] == rp.WORKS and weighted["workaround"]["status"] == "ran"
    assert "workaround_verdict" not in plain
    # the same program gives the verdict of the release it ran on
    assert older["release_fixed"]["verdict"] == rp.REPRODUCES
    assert pinned["release_fixed"]["verdict"] == rp.NOT_REPRODUCED
    assert older["release_fixed"]["replay"]["values"] == {"minor": int(OLDER.split(".")[1])}
    assert pinned["release_fixed"]["reproduces"]["b_value"] == NEWEST_MINOR and not \
        pinned["release_fixed"]["reproduces"]["b_is_key"]
    absent = pinned["absent_api"]
    assert absent["verdict"] == rp.NOT_APPLICABLE and absent["reproduces"] is None
    assert absent["replay"]["error"] == "AttributeError: type object 'Trainer' has no attribute 'no_such_method'"
    assert absent["replay"]["location"] == "replay.py:5"
    for version in (OLDER, PINNED):
        data = json.loads(rp.release_path(version, out).read_text())
        assert data["kind"] == rp.KIND and data["lightning"] == version
        assert data["environment"]["pytorch_lightning"] == version  # as the release's interpreter saw it
        assert data["environment"]["torch"] and data["environment"]["date"]
    assert any("release_fixed reproduces" in line for line in said)


@pytest.mark.slow  # the replays recorded on three releases (the fixture `recorded`)
def test_logs_are_the_programs_output_without_machine_paths(recorded):
    _, out, _ = recorded
    text = rp.release_path(PINNED, out).read_text()
    # Lightning's own info line, printed by the program's Trainer, is in its log
    assert "GPU available" in entries(out, PINNED)["plain_mean_differs"]["replay"]["log"]
    for needle in (str(PROJECT_DIR), "/tmp/", sys.prefix + "/", "site-packages/"):
        assert needle not in text, needle


def test_a_timeout_a_crash_and_a_bad_result_are_recorded(tmp_path):
    programs = {"slow": "import time\n\ndef run():\n    time.sleep(60)\n",
                "killed": "import os, signal\n\ndef run():\n    print('about to go')\n    os.kill(os.getpid(), signal.SIGKILL)\n",
                "not_a_dict": "def run():\n    return [1, 2]\n",
                "fine": "def run():\n    print('hello')\n    return {'x': [1.5, 2.5]}\n"}
    jobs = []
    for name, source in programs.items():
        (tmp_path / name).mkdir()
        (tmp_path / name / "replay.py").write_text(source)
        jobs.append({"id": name, "path": str(tmp_path / name / "replay.py"), "timeout_s": 3 if name == "slow" else 60})
    machine, records = run.run_programs(sys.executable, jobs)
    assert machine["pytorch_lightning"] == PINNED and machine["threads"] == 1
    assert records["slow"]["status"] == "timeout" and records["slow"]["seconds"] >= 3
    assert records["killed"]["status"] == "crashed" and records["killed"]["error"] == "killed by SIGKILL"
    assert records["killed"]["log"] == "about to go"
    assert records["not_a_dict"]["status"] == "raised"
    assert records["not_a_dict"]["error"] == "TypeError: run() returned list, not a dict"
    assert records["fine"] == {"status": "ran", "values": {"x": [1.5, 2.5]}, "seconds": records["fine"]["seconds"],
                               "log": "hello"}


@pytest.mark.slow  # the replays recorded on three releases (the fixture `recorded`)
def test_unchanged_replays_are_kept_and_a_changed_one_runs_alone(recorded, tmp_path, monkeypatch, capsys):
    """Through the command line: ``--replays-only`` runs only the stale replays; ``--list`` says
    which are stale."""
    sys.path.insert(0, str(PROJECT_DIR / "tools"))
    try:
        import version_matrix
    finally:
        sys.path.remove(str(PROJECT_DIR / "tools"))
    root, out, _ = recorded
    shutil.copytree(root, tmp_path / "replays")
    shutil.copytree(out, tmp_path / "recorded")
    monkeypatch.setattr(rp, "REPLAYS_DIR", tmp_path / "replays")
    before = entries(tmp_path / "recorded", PINNED)
    argv = ["--replays-only", "--version", PINNED, "--replays-out", str(tmp_path / "recorded")]
    assert version_matrix.main(argv) == 0
    assert "replays unchanged, results kept" in capsys.readouterr().out
    changed = tmp_path / "replays" / "release_fixed" / "replay.py"
    changed.write_text(changed.read_text() + "\n# changed\n")
    assert version_matrix.main(["--list", "--replays-out", str(tmp_path / "recorded")]) == 0
    assert f"{PINNED}: " in (listed := capsys.readouterr().out) and "(1 to run: release_fixed)" in listed
    assert version_matrix.main(argv) == 0
    printed = capsys.readouterr().out
    assert f"lightning {PINNED}: 1 replay(s), 1 program(s)" in printed
    after = entries(tmp_path / "recorded", PINNED)
    assert after["release_fixed"]["inputs"] != before["release_fixed"]["inputs"]
    assert {k: v for k, v in after.items() if k != "release_fixed"} == \
        {k: v for k, v in before.items() if k != "release_fixed"}
    # a program that ran out of time (a loaded machine) is run again, alone
    path = rp.release_path(PINNED, tmp_path / "recorded")
    data = json.loads(path.read_text())
    data["replays"]["absent_api"]["replay"]["status"] = "timeout"
    path.write_text(json.dumps(data))
    assert version_matrix.main(argv) == 0
    assert f"lightning {PINNED}: 1 replay(s), 1 program(s)" in capsys.readouterr().out
    assert entries(tmp_path / "recorded", PINNED)["absent_api"]["replay"]["status"] == "raised"


@pytest.mark.slow  # the replays recorded on three releases (the fixture `recorded`)
def test_discovery_finds_every_replay_with_its_declaration(recorded):
    root, _, _ = recorded
    found = {r.name: r for r in rp.discover(root)}
    assert sorted(found) == ["absent_api", "plain_mean_differs", "release_fixed", "weighted_mean_differs"]
    weighted = found["weighted_mean_differs"]
    assert weighted.kind == "documented" and weighted.workaround.expect == "same"
    assert set(weighted.programs) == {"replay", "workaround"} and set(found["absent_api"].programs) == {"replay"}
    assert weighted.threads == [(102, "https://github.com/Lightning-AI/pytorch-lightning/issues/102")]
    assert weighted.upstream == {"state": "closed", "outcome": "working as intended", "checked": "2026-12-07"}
    assert rp.discover(root / "none") == []


def _broken(tmp_path, change):
    folder = fakes.write(tmp_path / "replays", "a_replay", fakes.RELEASE, a="minor", b=1, expect="less")
    change(folder)
    return folder / "replay.toml"


def _edit(old, new):
    return lambda folder: (folder / "replay.toml").write_text((folder / "replay.toml").read_text().replace(old, new, 1))


@pytest.mark.parametrize("change, message", [
    (_edit("issue = 1\n", "issue = 1\nissues = [2]\n"), "unknown key(s) issues"),
    (_edit('kind = "bug"\n', ""), "missing kind"),
    (_edit('topic = "logging"', 'topic = "no_such_topic"'), "topic = 'no_such_topic' is not a topic"),
    (_edit('expect = "less"', 'expect = "smaller"'), "[reproduces]: expect = 'smaller'"),
    (_edit('say = "it shows"\n', ""), "[reproduces]: missing say"),
    (_edit('checked = "2026-12-07"', 'checked = "last week"'), "upstream.checked = 'last week' is not a date"),
    (_edit('state = "closed"', 'state = "fixed"'), "upstream.state = 'fixed'"),
    (lambda folder: (folder / "workaround.py").write_text(fakes.RELEASE), "workaround.py is there but"),
    (_edit("[upstream]", fakes.WORKAROUND_CHECK + "\n[upstream]"), "declares [workaround] but there is no workaround.py"),
    (lambda folder: (folder / "replay.py").unlink(), "no replay.py beside it"),
], ids=["unknown key", "missing field", "unknown topic", "bad expect", "check without say", "bad date",
        "bad state", "workaround.py without [workaround]", "[workaround] without workaround.py", "no replay.py"])
def test_a_malformed_replay_is_a_clear_error_naming_its_file(tmp_path, change, message):
    path = _broken(tmp_path, change)
    with pytest.raises(rp.ReplayError) as error:
        rp.discover(tmp_path / "replays")
    assert str(error.value).startswith(str(path)) and message in str(error.value), str(error.value)


def test_a_folder_without_replay_toml_is_not_a_replay_yet(tmp_path):
    (tmp_path / "replays" / "half_written").mkdir(parents=True)
    (tmp_path / "replays" / "half_written" / "replay.py").write_text(fakes.RELEASE)
    assert rp.discover(tmp_path / "replays") == []
    with pytest.raises(rp.ReplayError, match="half_written: no replay.toml"):
        rp.load_replay(tmp_path / "replays" / "half_written")


@pytest.mark.parametrize("b, expect, tolerance, values, verdict, held", [
    ("y", "close", 1e-3, {"x": 1.0, "y": 1.0005}, "close", True),          # b names a key
    (1.0, "identical", 0.0, {"x": 1.0}, "identical", True),                # a literal number
    ("ready", "same", 0.0, {"x": "ready"}, "identical", True),             # a literal string
    (True, "differs", 0.0, {"x": False}, "differs", True),                 # booleans differ unless equal
    (0.5, "less", 0.0, {"x": 1.0}, "not less", False),
    ("y.-1", "greater", 0.0, {"x": 3, "y": [5, 2]}, "greater", True),     # dotted path, a list's last
])
def test_a_replay_check_compares_as_every_check_of_the_site(b, expect, tolerance, values, verdict, held):
    check = rp.ReplayCheck("say", "x", b, tolerance, expect)
    result = rp.evaluate(check, values)
    assert (result["verdict"], result["held"]) == (verdict, held), result


def test_a_check_on_a_value_run_did_not_return_fails_the_cell():
    replay_check = rp.ReplayCheck("say", "missing", 1, 0.0, "same")
    result = rp.evaluate(replay_check, {"x": 1})
    assert "missing" in result["error"]
    fake = type("R", (), {"kind": "bug"})()
    assert rp.verdict(fake, {"status": "ran"}, result) == rp.FAILED
    assert rp.verdict(fake, {"status": "timeout"}, None) == rp.FAILED
    assert rp.verdict(fake, {"status": "raised"}, None) == rp.NOT_APPLICABLE
