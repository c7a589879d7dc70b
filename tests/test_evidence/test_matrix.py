"""The version matrix: one shard runs for real on an older Lightning; the page renders from the
shard files present, and from none."""

from __future__ import annotations

import json

import pytest

from evidence import matrix
from evidence.views import matrix as views

OLDER, NEXT = matrix.VERSIONS[0], matrix.VERSIONS[1]


@pytest.mark.slow  # installs an older Lightning
def test_one_shard_runs_one_small_topic_on_an_older_lightning(tmp_path):
    """Makes (once, under .matrix/envs/) the environment of the oldest version, runs the minimal
    loop's headline run there and compares it with plain PyTorch; a second call finds its inputs
    unchanged and runs nothing."""
    path = matrix.run_shard(OLDER, ["minimal_loop"], folder=tmp_path, log=lambda *_: None)
    data = json.loads(path.read_text())
    assert data["kind"] == matrix.KIND and data["lightning"] == OLDER
    assert data["environment"]["pytorch_lightning"] == OLDER  # as the shard's interpreter saw it
    cell = data["topics"]["minimal_loop"]
    assert cell["status"] == "identical" and cell["value"] == 0.0, cell
    assert cell["ledger_steps"] > 0 and cell["first_divergence"] is None
    assert set(cell["implementations"]) == {"pytorch", "lightning", "fabric"}
    assert all(impl["per_step_ms"] > 0 for impl in cell["implementations"].values())
    said = []
    assert matrix.run_shard(OLDER, ["minimal_loop"], folder=tmp_path, log=said.append) == path
    assert said and "unchanged inputs" in said[0]
    assert matrix.current(data)


def shard(version: str, cell: dict) -> dict:
    return {"kind": matrix.KIND, "lightning": version, "inputs": "x", "config": matrix.SHARD_CONFIG,
            "seconds": 1.0, "topics": {"minimal_loop": cell},
            "environment": {"lightning_fabric": version, "torch": "2.13.0", "device": "cpu",
                            "device_name": "a CPU", "date": "2026-12-01 00:00 UTC"}}


IDENTICAL = {"status": "identical", "metric": "state_dict", "value": 0.0, "tolerance": 1e-6,
             "checks": [{"metric": "state_dict", "pair": ["pytorch", "lightning"], "value": 0.0,
                         "verdict": "identical"}],
             "ledger_steps": 80, "first_divergence": None,
             "implementations": {"lightning": {"per_step_ms": 1.5,
                                               "warnings": ["PossibleUserWarning: few batches"]}}}
FAILED = {"status": "failed", "location": "lightning_minimal_loop.py:40",
          "error": "TypeError: an argument this version does not have"}


def test_matrix_page_renders_from_shard_files(tmp_path, monkeypatch):
    for version, cell in ((OLDER, FAILED), (NEXT, IDENTICAL)):
        (tmp_path / f"lightning-{version}.json").write_text(json.dumps(shard(version, cell)))
    monkeypatch.setattr(matrix, "RESULTS_DIR", tmp_path)
    table = views.matrix_table()
    assert 'id="m-minimal_loop"' in table and f'href="#m-minimal_loop-{OLDER.replace(".", "-")}"' in table
    assert "<strong>failed</strong>" in table and "no shard" in table
    assert "No shard results yet for " + ", ".join(matrix.VERSIONS[2:]) in table
    # these files' inputs are not this checkout's: the page says the programs changed since
    assert f"Programs changed since the shards of {OLDER}, {NEXT} ran" in table
    changes = views.changes()
    assert f"since Lightning {NEXT}, <strong>identical (0.0)</strong>; up to {OLDER}: failed (TypeError" in changes
    details = views.details()
    assert "an argument this version does not have" in details and "identical at all 80 steps" in details
    assert "<code>PossibleUserWarning</code> — few batches" in details  # a warning shown as data
    assert "the programs changed since it ran" in details
    row = views.topic_row("minimal_loop")
    assert f"failed on {OLDER}; identical on {NEXT}" in row
    assert 'explained/02_version_matrix/plot_version_matrix/#m-minimal_loop"' in row


def test_matrix_page_renders_from_no_shard_file(tmp_path, monkeypatch):
    monkeypatch.setattr(matrix, "RESULTS_DIR", tmp_path / "none")
    assert "No shard results yet for " + ", ".join(matrix.VERSIONS) in views.matrix_table()
    assert "Not enough versions with results" in views.changes()
    assert "Versions without results yet" in views.details()
    assert views.topic_row("minimal_loop") == ""


def test_a_declared_check_that_does_not_hold_on_a_version_shows_in_its_cell(tmp_path, monkeypatch):
    """The declared checks state the pinned version's behaviour; a shard names the ones that came out
    otherwise on its version, in the cell, the details, the changes and the topic page's row."""
    held = {"name": "same_steps", "say": "...", "value": 0.0, "expect": "identical", "verdict": "identical",
            "expected": True}
    missed = {**held, "name": "trains_twice", "value": 0.0, "expect": "greater", "verdict": "not greater",
              "expected": False}
    for version, declared in ((OLDER, [held, missed]), (NEXT, [held, {**missed, "verdict": "greater",
                                                                      "value": 13.0, "expected": True}])):
        (tmp_path / f"lightning-{version}.json").write_text(json.dumps(shard(version, {**IDENTICAL,
                                                                                        "declared": declared})))
    monkeypatch.setattr(matrix, "RESULTS_DIR", tmp_path)
    assert "<strong>identical, 1 check otherwise</strong>" in views.matrix_table()
    details = views.details()
    assert "trains_twice: not greater (0.0), declared greater" in details and "trains_twice: greater (13)" in details
    assert f"since Lightning {NEXT}, <strong>identical (0.0)</strong>; up to {OLDER}: identical (0.0); not as " \
           "declared: trains_twice" in views.changes()
    assert f"identical; not as declared: trains_twice on {OLDER}; identical on {NEXT}" in views.topic_row("minimal_loop")


def test_a_shard_evaluates_the_checks_that_read_the_headline_run_alone():
    """The resuming topic's checks on its headline run, on a report where Lightning took as many steps
    as plain PyTorch (as on Lightning 2.5): that check does not hold, a value missing is unavailable."""
    from evidence import declared

    run = declared.run("resuming")
    names = [c.name for c in matrix.headline_checks(run)]
    assert "lightning_trains_an_epoch_twice" in names and "weights_as_uninterrupted" not in names  # two runs
    impl = {"steps": 104, "saved": {"global_step": 104}, "history": {"lr": [0.01] * 8, "val_loss": [0.5] * 8}}
    report = {"implementations": {kind: impl for kind in ("pytorch", "lightning", "fabric")}}
    found = {c["name"]: c for c in matrix.evaluate_checks(run, report)}
    assert found["lightning_trains_an_epoch_twice"]["verdict"] == "not greater"
    assert not found["lightning_trains_an_epoch_twice"]["expected"]
    assert found["fabric_steps_as_plain"]["expected"] and found["checkpoint_counts_steps"]["expected"]
    del impl["saved"]
    found = {c["name"]: c for c in matrix.evaluate_checks(run, report)}
    assert found["checkpoint_counts_steps"]["verdict"] == "unavailable (KeyError)"


def test_a_changed_cell_names_the_replays_of_its_topic_that_change_between_the_same_releases():
    """From the committed shards and replays: the resuming topic turns identical at 2.5.5, where
    two resuming replays stop reproducing (the restart rework of 2.5.0, PR #20379)."""
    from evidence import replays as rp

    items = str(views.changes()).split("</li>")
    shards = matrix.shards()
    versions = [v for v in matrix.VERSIONS if v in shards]
    for row in rp.rows():
        r, cells = row["replay"], row["cells"]
        for before, after in zip(versions, versions[1:]):
            if r.topic and before in cells and after in cells and cells[before]["verdict"] != cells[after]["verdict"]:
                line = [i for i in items if f"<code>{r.topic}</code>: since Lightning {after}," in i]
                assert not line or f"#r-{r.name}" in line[0], (r.name, before, after)
    resuming = next(i for i in items if "<code>resuming</code>: since Lightning 2.5.5, <strong>identical" in i)
    assert "(#18060) changes there too: reproduces up to 2.4.0, does not reproduce since 2.5.5" in resuming
    assert "#r-resumed_scheduler_steps_twice" in resuming
