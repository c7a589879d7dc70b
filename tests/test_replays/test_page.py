"""The page "Known issues, replayed", the topic pages' line and summary.json's replays, rendered
from release files written by the real runner (the fake replays on two releases), and from none."""

from __future__ import annotations

import json
import shutil

import pytest
import yaml

from evidence import matrix
from evidence import replays as rp
from evidence.programs import PROJECT_DIR
from evidence.views import replays as views
from tests.test_replays.conftest import NEWEST_MINOR, OLDER, PINNED

MIDDLE = [v for v in matrix.VERSIONS if v not in (OLDER, PINNED)]


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_the_table_has_a_row_per_replay_and_a_cell_per_release(shown):
    table = views.replays_table()
    assert table.count("<tr>") == 1 + 1 + 4  # the header, the torch row, one row per replay
    assert f"<th>behaviour</th><th>{OLDER}</th><th>{PINNED}</th></tr>" in table
    # each cell is the verdict linked to that run's detail on the page
    assert f'<a href="#r-release_fixed-{OLDER.replace(".", "-")}"><strong>reproduces</strong></a>' in table
    assert f'<a href="#r-release_fixed-{PINNED.replace(".", "-")}">does not reproduce</a>' in table
    assert f'<a href="#r-absent_api-{PINNED.replace(".", "-")}"><em>not applicable</em></a>' in table
    assert f"<strong>no longer reproduces since {PINNED}</strong>" in table  # the row that changed is marked
    assert table.count("no longer reproduces since") == 1
    # the thread, its state upstream as of when it was read, and the topic page explaining it
    assert '<a href="https://github.com/Lightning-AI/pytorch-lightning/issues/103">#103</a>' in table
    assert "closed as of 2026-12-07: working as intended" in table
    assert 'href="../../../topics/' in table and '_logging/plot_logging/">logging</a>' in table
    # the workaround and its verdicts; none for a replay without one
    assert f"workaround: the weighted mean is the logged value — <strong>works on {OLDER}–{PINNED}</strong>" in table
    assert "<em>no workaround given</em>" in table
    # the torch each release ran with, and the releases without results
    torch = json.loads(rp.release_path(PINNED, shown[1]).read_text())["environment"]["torch"]
    assert f"<code>{torch}</code>" in table
    assert "No replay results yet for " + ", ".join(MIDDLE) in table
    assert "changed since" not in table and "replay changed since" not in table


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_a_release_that_flips_a_verdict_is_listed_at_the_top(shown):
    flips = views.flips()
    assert f"Lightning {PINNED} changes 1 verdict(s)" in flips and f"Compared with {OLDER}" in flips
    assert "release fixed" in flips and f"<strong>no longer reproduces since {PINNED}</strong>; on {OLDER}: reproduces." in flips


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_a_newest_release_that_flips_nothing_says_so(shown, tmp_path, monkeypatch):
    shutil.copytree(shown[1], tmp_path / "recorded")
    monkeypatch.setattr(rp, "RESULTS_DIR", tmp_path / "recorded")
    path = rp.release_path(PINNED, tmp_path / "recorded")
    data = json.loads(path.read_text())
    data["replays"]["release_fixed"]["verdict"] = rp.REPRODUCES
    path.write_text(json.dumps(data))
    flips = views.flips()
    assert f"Lightning {PINNED} changes no verdict of {OLDER}" in flips
    assert "Each of the 4 replay(s) with a verdict on both releases has the same verdict on both." in flips


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_every_run_has_its_detail_with_the_check_and_the_log(shown):
    details = views.details()
    for name in ("plain_mean_differs", "weighted_mean_differs", "release_fixed", "absent_api"):
        assert f'<h3 id="r-{name}">' in details
        for version in (OLDER, PINNED):
            assert f'<details class="replay-run" id="r-{name}-{version.replace(".", "-")}">' in details
    # an API the release does not have: where it raised and the error's last line
    assert ("<code>replay.py:5</code>: <code>AttributeError: type object &#x27;Trainer&#x27; has no attribute "
            "&#x27;no_such_method&#x27;</code>") in details
    # the check with the values it compared
    for version in (OLDER, PINNED):
        assert f"<code>minor</code> = <code>{version.split('.')[1]}</code> against <code>{NEWEST_MINOR}</code>" in details
    assert "so the check <strong>holds</strong>" in details and "<strong>does not hold</strong>" in details
    # what the program printed, kept out of the search index
    assert 'GPU available: False' in details and '<section data-search-exclude="">' in details


def test_a_log_shows_warnings_as_data():
    log = views._log("x.py:3: PossibleUserWarning: few workers\nTraceback (most recent call last):\nplain <line>")
    assert log == ("x.py:3: <strong>PossibleUserWarning</strong> — few workers&#10;traceback, most recent call "
                   "last:&#10;plain &lt;line&gt;")


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_a_replay_changed_since_its_file_was_recorded_is_said_so(shown, tmp_path, monkeypatch):
    root, out = shown
    shutil.copytree(root, tmp_path / "replays")
    monkeypatch.setattr(rp, "REPLAYS_DIR", tmp_path / "replays")
    program = tmp_path / "replays" / "absent_api" / "replay.py"
    program.write_text(program.read_text() + "\n")
    table = views.replays_table()
    assert f"{OLDER}: absent_api; {PINNED}: absent_api" in table and table.count("replay changed since") == 2
    assert "recorded before the replay&#x27;s last change" in views.details()
    assert rp.summary()["releases"][PINNED]["stale"] == ["absent_api"]


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_topic_pages_link_their_replays(shown):
    line = views.topic_line("logging")  # every fake replay names the logging topic
    assert 'href="../../../explained/04_known_issues/plot_known_issues/#r-release_fixed"' in line
    assert f"(#103): reproduces on {OLDER}; does not reproduce on {PINNED}" in line
    assert f"(#104): not applicable on {OLDER}–{PINNED}" in line
    assert views.topic_line("minimal_loop") == ""


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_summary_carries_every_verdict_per_release(shown):
    summary = rp.summary()
    assert list(summary["releases"]) == [OLDER, PINNED]
    assert summary["releases"][PINNED]["file"] == f"evidence/recorded/replays/lightning-{PINNED}.json"
    assert summary["releases"][PINNED]["stale"] == []
    by_name = {r["name"]: r for r in summary["replays"]}
    assert by_name["release_fixed"]["verdicts"] == {OLDER: "reproduces", PINNED: "does not reproduce"}
    assert by_name["release_fixed"]["changes"] == [f"no longer reproduces since {PINNED}"]
    assert by_name["weighted_mean_differs"]["workaround"] == {OLDER: "works", PINNED: "works"}
    assert by_name["plain_mean_differs"]["workaround"] is None
    assert by_name["absent_api"]["verdicts"][PINNED] == "not applicable"
    assert by_name["release_fixed"]["issue"] == 103 and by_name["release_fixed"]["topic"] == "logging"


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_summary_json_is_built_with_the_replays(shown, monkeypatch):
    from evidence.hooks import content

    monkeypatch.setattr(content, "topic_pages", lambda config: {})  # the topics' part is tested with the site
    summary = content.build_summary(None)
    assert summary["replays"] == rp.summary() and summary["replays"]["replays"]


@pytest.mark.slow  # the fake replays run on the oldest release (fixture `recorded`)
def test_the_page_renders_from_no_file(shown, tmp_path, monkeypatch):
    monkeypatch.setattr(rp, "RESULTS_DIR", tmp_path / "none")
    table = views.replays_table()
    assert "No replay results yet" in table and f"python {views.COMMAND}" in table
    assert table.count("<tr>") == 1 + 1 + 4  # the replays are listed all the same
    assert views.flips() == ""
    assert views.details().count("No run recorded yet.") == 4
    assert "not run yet" in views.topic_line("logging")
    assert rp.summary()["releases"] == {}


def test_the_pages_workflow_publishes_each_shards_replays():
    jobs = yaml.safe_load((PROJECT_DIR / ".github" / "workflows" / "pages.yml").read_text())["jobs"]
    folder = rp.RESULTS_DIR.relative_to(PROJECT_DIR).as_posix()
    uploads = [s["with"]["path"] for s in jobs["shards"]["steps"] if s.get("uses", "").startswith("actions/upload-artifact@")]
    assert f"{folder}/lightning-${{{{ matrix.lightning }}}}.json" in uploads
    merges = [s["with"] for s in jobs["build"]["steps"] if s.get("uses", "").startswith("actions/download-artifact@")]
    assert {"pattern": "replays-*", "merge-multiple": True, "path": folder} in merges
