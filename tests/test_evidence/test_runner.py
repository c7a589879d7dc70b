"""evidence/running/runner.py and worker.py: specs, cache keys, and the worker end to end."""

from __future__ import annotations

import json

import pytest

from evidence import TopicError, run_topic, runner


def test_spec_key_changes_with_the_spec():
    a = runner.make_spec("minimal_loop", {"epochs": 1})
    b = runner.make_spec("minimal_loop", {"epochs": 2})
    assert runner.spec_key(a) != runner.spec_key(b)
    assert runner.spec_key(a) == runner.spec_key(runner.make_spec("minimal_loop", {"epochs": 1}))


def test_inputs_digest_covers_the_topic_and_the_harness():
    files = {p.name for p in runner.topic_inputs("minimal_loop")}
    assert {"pytorch_minimal_loop.py", "lightning_minimal_loop.py", "worker.py", "runner.py"} <= files


def test_run_topic_end_to_end_in_a_worker(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCS_CACHE_DIR", str(tmp_path / "cache"))
    monkeypatch.setenv("DOCS_RESULTS_DIR", str(tmp_path / "results"))
    result = run_topic("minimal_loop", params={"epochs": 1}, compare=["state_dict"], repeats=1)
    assert result.parity_data["verdict"] == "identical" and result.parity_data["value"] == 0.0
    assert set(result.kinds()) == {"pytorch", "lightning", "fabric"}
    for impl in result.implementations.values():
        assert impl["timing"]["runs"] == 1 and impl["steps"] == 13
        assert "epoch 1/1" in impl["log"]
        assert "💡" not in impl["log"]  # Lightning's advert is filtered, its real messages are not
    assert "GPU available" in result.implementations["lightning"]["log"]
    saved = json.loads((tmp_path / "results" / "minimal_loop.json").read_text())
    assert saved["parity"]["verdict"] == "identical"
    # a second call with the same inputs comes from the cache, without a worker
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("ran again"))
    again = run_topic("minimal_loop", params={"epochs": 1}, compare=["state_dict"], repeats=1)
    assert again.data == result.data


def test_run_topic_reports_a_missing_result_key_clearly(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCS_CACHE_DIR", str(tmp_path / "cache"))
    with pytest.raises(TopicError, match="no 'history.nothing'"):
        run_topic("minimal_loop", params={"epochs": 1}, compare=["history.nothing"], repeats=0, save=False)
