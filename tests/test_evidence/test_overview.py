"""evidence/hooks/content.py: the overview's table says why a topic has no timings."""

from __future__ import annotations

from evidence.hooks import content

ENVIRONMENT = {"device": "cpu", "device_name": "x86_64", "date": "2026-12-07", "torch": "2.13.0",
               "pytorch_lightning": "2.6.6"}


def entry(slug: str, spec: dict, per_step: float | None) -> dict:
    impl = {"loc": 10, "per_step_ms": per_step, "startup_s": None if per_step is None else 0.01}
    return {"slug": slug, "title": slug, "page": f"generated/topics/{slug}", "spec": spec,
            "implementations": {"pytorch": dict(impl), "lightning": dict(impl)}}


def test_an_untimed_topic_says_why_instead_of_dashes():
    summary = {"environment": ENVIRONMENT, "gpu": {"recorded": False}, "topics": [
        entry("timed", {"repeats": 2, "memory": True}, 0.5),
        entry("ranks", {"repeats": 0, "memory": False}, None),
        entry("declared", {"repeats": 0, "memory": True}, None)]}
    table = content.summary_table(summary, "index.md")
    rows = {row.split("</a>")[0].rsplit(">", 1)[1]: row for row in table.split("<tr>")[2:]}
    assert "not timed" not in rows["timed"] and "0.50 ms" in rows["timed"]
    assert "10 ms · 10 ms" in rows["timed"].split('data-label="Start-up"')[1]  # a warm start-up in ms
    assert rows["ranks"].count("not timed: its ranks train in processes of their own") == 2  # per step, start-up
    assert rows["declared"].count("not timed: its run declares no timed rounds") == 2
    assert "–" not in rows["ranks"].split('data-label="Per step"')[1]
