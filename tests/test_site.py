"""The built site: the topic page shows what ran, the downloads work, summary.json lists the topic."""

from __future__ import annotations

import json
import re
from html import unescape

import pytest

from evidence import declared
from evidence.programs import program_path, programs, topics
from evidence.running import runner

pytestmark = pytest.mark.site

TOPIC_PAGE = "generated/topics/01_minimal_loop/plot_minimal_loop/index.html"


def test_build_is_warning_free(built_site):
    log = (built_site / ".build-log.txt").read_text()
    assert "WARNING" not in log, log


def text_of(html: str) -> str:
    """The text a reader sees: tags removed, entities decoded."""
    return unescape(re.sub(r"<[^>]+>", "", html))


def test_topic_page_holds_executed_output(built_site):
    text = text_of((built_site / TOPIC_PAGE).read_text())
    assert text.count("epoch 20/20  train_loss") == 2  # the plain and Fabric loops print each epoch
    assert "`Trainer.fit` stopped: `max_epochs=20` reached" in text  # Lightning's own log
    assert "state_dict: Lightning vs PyTorch" in text and "identical" in text  # the run's checks
    assert "per step, steady state" in text and "lines of code" in text
    assert "Executed on cpu" in text or "Executed on cuda" in text


def test_topic_page_has_the_three_tabs_with_downloads(built_site):
    html = (built_site / TOPIC_PAGE).read_text()
    labels = re.findall(r'<label for="__tabbed_\d+_\d+">([^<]+)</label>', html)
    assert labels[:3] == ["PyTorch", "Lightning", "Fabric"]
    page_dir = (built_site / TOPIC_PAGE).parent
    from evidence.notebooks import notebook

    links = re.findall(r'<a download href="([^"]+)"', html)
    assert len(links) == 7  # each program and its notebook, then all three as a zip archive
    for (program_link, notebook_link), program in zip(zip(links[0:6:2], links[1:6:2]), programs("minimal_loop")):
        assert (page_dir / program_link).resolve().read_bytes() == program.path.read_bytes()
        assert (page_dir / notebook_link).resolve().read_text() == notebook(program)
    assert links[6].endswith("downloads/minimal_loop/minimal_loop.zip")


def test_search_finds_the_prose_and_leaves_the_programs_out(built_site):
    index = json.loads((built_site / "search" / "search_index.json").read_text())
    location = TOPIC_PAGE[:-len("index.html")]
    indexed = " ".join(d["title"] + " " + d["text"] for d in index["docs"] if d["location"].startswith(location))
    page = text_of((built_site / TOPIC_PAGE).read_text())
    source = programs("minimal_loop")[0].source
    line = max((ln.strip() for ln in source.splitlines() if not ln.strip().startswith(("#", '"'))), key=len)
    assert line in page  # the programs are published in full ...
    assert line not in unescape(re.sub(r"<[^>]+>", "", indexed))  # ... and left out of the index
    assert "Parity" in indexed and "lines of code" in indexed  # the page's own text is indexed
    assert "data-search-exclude" not in (built_site / TOPIC_PAGE).read_text()


def test_topic_page_shows_the_plot(built_site):
    html = (built_site / TOPIC_PAGE).read_text()
    images = re.findall(r'<img[^>]+src="([^"]+\.png)"', html)
    assert images
    for src in images:
        assert ((built_site / TOPIC_PAGE).parent / src).resolve().stat().st_size > 5000


def test_summary_json_lists_every_topic_with_parity(built_site, published_topics, full_site):
    summary = json.loads((built_site / "results" / "summary.json").read_text())
    env = summary["environment"]
    assert {"python", "torch", "pytorch_lightning", "device"} <= set(env)
    by_slug = {t["slug"]: t for t in summary["topics"]}
    assert set(published_topics) <= set(by_slug) and "minimal_loop" in published_topics
    assert published_topics == topics() or not full_site  # the whole site executed every topic
    entry = by_slug["minimal_loop"]
    assert entry["parity"]["verdict"] == "identical" and entry["parity"]["value"] == 0.0
    assert (built_site / entry["page"] / "index.html").exists()
    for kind, impl in entry["implementations"].items():
        assert (built_site / impl["download"]).read_bytes() == program_path("minimal_loop", kind).read_bytes()
        assert impl["loc"] > 0 and impl["runs"] == 5 and impl["median_s"] > 0


def test_every_summary_entry_is_its_topics_headline_run(built_site, published_topics, full_site):
    """What is published for a topic is the run its runs.toml names as headline, nothing else."""
    summary = json.loads((built_site / "results" / "summary.json").read_text())
    assert sorted(t["slug"] for t in summary["topics"]) == sorted(published_topics)
    for entry in summary["topics"]:
        headline = declared.run(entry["slug"])
        report = runner.stored(headline)
        assert report is not None, entry["slug"]
        assert entry["run"] == headline.name and entry["spec"] == headline.spec()
        assert entry["spec"]["params"] == report["spec"]["params"]
        for key in ("verdict", "metric", "value", "tolerance"):
            assert entry["parity"][key] == report["parity"][key], (entry["slug"], key)
        for kind, impl in report["implementations"].items():
            assert entry["implementations"][kind]["loc"] == next(p.loc for p in programs(entry["slug"]) if p.kind == kind)
            assert entry["implementations"][kind]["median_s"] == impl.get("timing", {}).get("median_s")
    by_slug = {t["slug"]: t for t in summary["topics"]}
    if full_site:  # (a sample build publishes these only when an earlier build stored them)
        assert by_slug["mixed_precision"]["spec"]["params"]["precision"] == "bf16-mixed"
        assert by_slug["reproducibility"]["run"] == "seeded_workers"


def test_recording_changed_no_result_and_the_ledger_is_published(built_site, published_topics):
    """Every topic's headline run was also recorded call by call (those whose programs train in
    processes of their own, such as DDP, are not recorded); the recorded pass ended with bitwise
    the same weights as the logged one, and summary.json carries the ledger's verdict."""
    summary = {t["slug"]: t for t in json.loads((built_site / "results" / "summary.json").read_text())["topics"]}
    recorded = [topic for topic in topics() if declared.run(topic).spec()["trace"]]
    assert "minimal_loop" in recorded and "ddp" not in recorded
    for topic in (t for t in recorded if t in published_topics):
        report = runner.stored(declared.run(topic))
        for kind, impl in report["implementations"].items():
            assert impl["trace"]["recording_changed_result"] == 0.0, (topic, kind)
        ledger = report["parity"]["ledger"]
        assert summary[topic]["parity"]["ledger_steps"] == ledger["steps"]
        assert summary[topic]["parity"]["first_divergence"] == ledger["first_divergence"]
    assert summary["minimal_loop"]["parity"]["first_divergence"] is None


def test_overview_table_is_rendered_from_the_results(built_site):
    summary = json.loads((built_site / "results" / "summary.json").read_text())
    html = (built_site / "index.html").read_text()
    for topic in summary["topics"]:
        assert topic["title"] in html
        locs = " · ".join(str(impl["loc"]) for impl in topic["implementations"].values())
        assert f'<td data-label="Lines of code"><span class="triple">{locs}</span></td>' in html, topic["slug"]
