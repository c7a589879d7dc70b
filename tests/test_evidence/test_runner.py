"""evidence/running/runner.py and worker.py: keys, one worker per topic, results by run name."""

from __future__ import annotations

import pytest

from evidence import TopicError, declared, load
from evidence.running import runner, timing


@pytest.fixture
def cache(tmp_path, monkeypatch):
    monkeypatch.setenv("DOCS_CACHE_DIR", str(tmp_path / "cache"))
    runner.forget_failures()
    return tmp_path / "cache"


def tiny(name: str = "tiny", **changes) -> declared.Run:
    settings = dict(params={"epochs": 1}, compare=("state_dict",), repeats=1)
    settings.update(changes)
    return declared.Run("minimal_loop", name, **settings)


def test_the_key_changes_with_the_declaration_only():
    assert runner.run_key(tiny()) == runner.run_key(tiny())
    assert runner.run_key(tiny()) != runner.run_key(tiny(params={"epochs": 2}))
    assert runner.run_key(tiny()).split("-")[1] == runner.run_key(tiny(params={"epochs": 2})).split("-")[1]


def test_inputs_cover_the_programs_and_the_running_machinery_not_runs_toml():
    files = {p.name for p in runner.topic_inputs("minimal_loop")}
    assert {"pytorch_minimal_loop.py", "lightning_minimal_loop.py", "worker.py", "runner.py"} <= files
    assert "runs.toml" not in files


def test_one_worker_runs_a_topics_runs_in_order_and_stores_each(cache):
    first, second = tiny("first"), tiny("second", params={"epochs": 2}, repeats=0)
    seen = []
    reports = runner.execute("minimal_loop", [first, second], on_done=lambda run, report, s: seen.append(run.name))
    assert seen == ["first", "second"]
    one, two = reports["first"], reports["second"]
    assert one["parity"]["verdict"] == "identical" and one["parity"]["value"] == 0.0
    assert set(one["implementations"]) == {"pytorch", "lightning", "fabric"}
    for kind, impl in one["implementations"].items():
        assert impl["timing"]["runs"] == 1 and impl["steps"] == 13  # counted by the harness's step hook
        assert ("`Trainer.fit` stopped" if kind == "lightning" else "epoch 1/1") in impl["log"]
        assert "💡" not in impl["log"]  # Lightning's advert is filtered, its real messages are not
    assert all(impl["steps"] == 26 and "timing" not in impl for impl in two["implementations"].values())
    assert one["spec"] == first.spec()  # published as declared, without this machine's paths
    assert runner.stored(first) == one and runner.stored(second) == two


def test_a_run_of_few_steps_is_timed_in_more_rounds_than_it_declares(cache):
    """One epoch of 13 steps leaves 9 steady-state intervals a round: two declared rounds become
    as many as timing.rounds_needed asks, every implementation timed in each, in rotating order."""
    run = tiny("short", repeats=2)
    report = runner.execute("minimal_loop", [run], store=False)["short"]
    wanted = timing.rounds_needed(2, 13 - 1 - timing.WARMUP_STEPS)
    assert wanted > 2
    for impl in report["implementations"].values():
        assert impl["timing"]["runs"] == wanted and impl["timing"]["steps_timed"] == wanted * 9


def test_a_failing_run_names_the_program_line_and_stops_the_topic(cache):
    bad = tiny("bad", compare=("history.nothing",), repeats=0)
    after = tiny("after")
    reports = runner.execute("minimal_loop", [bad, after])
    assert "no 'history.nothing'" in reports["bad"]["error"]["traceback"]
    assert "failed first" in reports["after"]["error"]["traceback"]
    assert runner.stored(bad) is None
    assert runner.result(bad) == reports["bad"]  # kept in the store: not run again in the same build
    runner.forget_failures()  # the next build tries it again
    assert not runner.failure_path(bad).exists()


def test_load_reads_stored_results_by_run_name_and_never_reruns_them(cache, monkeypatch):
    runs = declared.runs("reproducibility")
    reports = {run.name: {"topic": "reproducibility", "run": run.name, "environment": {}, "spec": run.spec(),
                          "implementations": {}} for run in runs}
    for run in runs:
        runner._store(run, reports[run.name])
    monkeypatch.setattr(runner, "execute", lambda *a, **k: pytest.fail("executed a stored run"))
    loaded = load("reproducibility")
    assert loaded.headline.data == reports["seeded_workers"]
    assert loaded["shared_generator"].data == reports["shared_generator"]
    with pytest.raises(KeyError, match="declares no run 'nope'"):
        loaded["nope"]


def test_a_failed_run_is_an_error_where_a_page_loads_it(cache, monkeypatch):
    run = declared.run("minimal_loop")
    runner._store_failure(run, {"topic": "minimal_loop", "run": run.name,
                                "error": {"location": "x.py:3", "traceback": "boom"}})
    with pytest.raises(TopicError, match="failed at x.py:3"):
        load("minimal_loop").headline
