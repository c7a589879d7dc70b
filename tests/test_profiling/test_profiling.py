"""snippets/profiling: what each profiler wrote, what it recorded, and that profiling leaves the math alone."""

from __future__ import annotations

import re

import pytest

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import exit_code, load_program, run_program

TOPIC = "profiling"
PUBLISHED = declared.run(TOPIC).params  # the headline run's configuration, as the page shows it
EPOCHS = PUBLISHED["epochs"]
TRAIN_STEPS, VAL_STEPS = 4, 1  # 102 training points in batches of 32, 26 validation points
BATCH_SIZE = 32
PL = "[pl][profile]"


@pytest.fixture(scope="module")
def results(tmp_path_factory):
    import os

    folder = tmp_path_factory.mktemp("profiles")
    here = os.getcwd()
    os.chdir(folder)  # the programs write their reports and traces into the current folder
    try:
        found = {kind: run_program(TOPIC, kind, **PUBLISHED, device="cpu") for kind in ("pytorch", "fabric")}
        found["lightning"] = run_program(TOPIC, "lightning", **PUBLISHED, device="cpu")  # PyTorchProfiler
        found["lightning-simple"] = run_program(TOPIC, "lightning", "simple_profiler", **PUBLISHED, device="cpu",
                                                profiler="simple", out_dir="profile_simple")
    finally:
        os.chdir(here)
    return found


def calls(result, name):
    return result["profile"][name]["count"]


def test_the_timed_runs_profile_with_torch_profiler_on_every_side():
    """Same work: the headline (timed) run gives Lightning its PyTorchProfiler; the other run is untimed."""
    headline = declared.run(TOPIC)
    assert headline.repeats > 0 and headline.overrides == {"lightning": {"profiler": "pytorch"}}
    assert all(run.repeats == 0 for run in declared.runs(TOPIC) if run.name != headline.name)


@pytest.mark.parametrize("kind", ["lightning", "lightning-simple", "fabric"])
def test_profiling_does_not_change_the_weights(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_the_loops_write_a_report_and_a_chrome_trace(results, kind):
    result = results[kind]
    assert result["files"] == ["profile.txt", "trace.json"]
    rows = report_rows(result["reports"]["profile.txt"])
    # the ten events with the most self CPU time, largest first, each one the trace recorded
    assert len(rows) == 10 and [ms for _, ms in rows] == sorted((ms for _, ms in rows), reverse=True)
    recorded = set(result["profile"])
    assert all(name in recorded or (name.endswith("...") and any(r.startswith(name[:-3]) for r in recorded))
               for name, _ in rows), (rows, sorted(recorded))


UNITS_MS = {"s": 1000.0, "ms": 1.0, "us": 1e-3, "ns": 1e-6}


def report_rows(report: str) -> list[tuple[str, float]]:
    """(name, self CPU in ms) of each row of a ``key_averages().table()``, read by its header."""
    lines = report.splitlines()
    header = next(i for i, line in enumerate(lines) if line.strip().startswith("Name"))
    column = re.split(r"\s{2,}", lines[header].strip()).index("Self CPU")
    rows = []
    for line in lines[header + 2:]:
        if line.startswith("---"):
            break
        cells = re.split(r"\s{2,}", line.strip())
        value, unit = re.fullmatch(r"([0-9.]+)(s|ms|us|ns)", cells[column]).groups()
        rows.append((cells[0], float(value) * UNITS_MS[unit]))
    return rows


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_operator_counts_match_what_the_loop_did(results, kind):
    # one aten::addmm per Linear layer and forward pass: two layers, training and validation
    # batches; aten::select twice per sample collated (inputs and labels), every epoch
    result = results[kind]
    assert calls(result, "aten::addmm") == 2 * EPOCHS * (TRAIN_STEPS + VAL_STEPS)
    assert calls(result, "aten::select") == EPOCHS * 2 * 128
    sections = {name: calls(result, name) for name in
                ("train_epoch", "training_step", "backward", "optimizer_step", "validation")}
    assert sections == {"train_epoch": EPOCHS, "training_step": EPOCHS * TRAIN_STEPS,
                        "backward": EPOCHS * TRAIN_STEPS, "optimizer_step": EPOCHS * TRAIN_STEPS,
                        "validation": EPOCHS}
    event = result["profile"]["train_epoch"]
    assert event["category"] == "user_annotation" and 0 <= event["self_ms"] <= event["total_ms"]


def test_lightning_pytorch_profiler_misses_the_first_training_step(results):
    """The page's checks, at its configuration: recording starts after the first training_step."""
    lightning, plain = results["lightning"], results["pytorch"]
    assert calls(lightning, PL + "run_training_batch") == EPOCHS * TRAIN_STEPS - 1 == lightning["steps"] - 1
    assert calls(lightning, PL + "run_training_epoch") == EPOCHS - 1
    # the first batch's collation (two selects per sample) and forward pass (one addmm per layer)
    assert calls(lightning, "aten::select") == calls(plain, "aten::select") - 2 * BATCH_SIZE
    assert calls(lightning, "aten::addmm") == calls(plain, "aten::addmm") - 2
    # the first backward pass runs later, inside the optimizer-step closure, and is recorded
    assert calls(lightning, "aten::threshold_backward") == calls(plain, "aten::threshold_backward")
    assert calls(plain, "aten::threshold_backward") == EPOCHS * TRAIN_STEPS


def test_lightning_writes_its_report_and_a_chrome_trace(results):
    files = results["lightning"]["files"]
    assert "fit-pytorch.txt" in files and sum(name.endswith(".pt.trace.json") for name in files) == 1
    assert results["lightning-simple"]["files"] == ["fit-simple.txt"]
    report = results["lightning-simple"]["reports"]["fit-simple.txt"]
    assert "run_training_batch" in report and "[LightningModule]Classifier.optimizer_step" in report


def test_with_the_sanity_check_on_the_profile_misses_its_first_batch_instead(monkeypatch, tmp_path):
    """Why the program switches the sanity check off: it moves the moment recording starts."""
    monkeypatch.chdir(tmp_path)
    program = load_program(TOPIC, "lightning")
    trainer = program.pl.Trainer

    def with_sanity_check(*args, **kwargs):
        kwargs.pop("num_sanity_val_steps")  # the Trainer's default: two batches (here the only one)
        return trainer(*args, **kwargs)

    monkeypatch.setattr(program.pl, "Trainer", with_sanity_check)
    result = run_program(TOPIC, "lightning", **PUBLISHED, device="cpu")
    assert calls(result, PL + "run_training_batch") == EPOCHS * TRAIN_STEPS
    assert calls(result, PL + "run_training_epoch") == EPOCHS
    # EPOCHS + 1 validation steps ran (the sanity check's and one an epoch); the first is missing
    assert calls(result, PL + "[Strategy]SingleDeviceStrategy.validation_step") == EPOCHS * VAL_STEPS


def test_without_a_schedule_lightning_warns_and_records_every_step(monkeypatch, tmp_path):
    """The page's first pitfall: fewer than five training batches an epoch drop the default schedule."""
    monkeypatch.chdir(tmp_path)
    program = load_program(TOPIC, "lightning")
    profiler = program.PyTorchProfiler

    def default_schedule(*args, **kwargs):
        kwargs.pop("schedule")
        return profiler(*args, **kwargs)

    monkeypatch.setattr(program, "PyTorchProfiler", default_schedule)
    with pytest.warns(UserWarning, match="default schedule will be overridden"):
        program.run(epochs=1, seed=0, device="cpu")


def test_reports_go_to_files_not_stdout_and_pile_up(capsys, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    program = load_program(TOPIC, "lightning")
    for _ in range(2):
        program.run(epochs=1, seed=0, device="cpu", profiler="simple", out_dir="reports")
    assert "Profiler Report" not in capsys.readouterr().out
    assert (tmp_path / "reports" / "fit-simple.txt").read_text().count("FIT Profiler Report") == 2


def test_unknown_lightning_profiler_is_a_clear_error(capsys):
    assert exit_code(load_program(TOPIC, "lightning").main, ["--profiler", "advanced"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown profiler 'advanced': use pytorch or simple"


def test_the_trace_reader_counts_self_time_per_thread(tmp_path):
    """The chrome_trace reader the page's tables come from: an outer range holding two operators,
    and one operator on another thread at the same time."""
    import json

    from evidence.running.gather import chrome_trace

    events = [{"ph": "X", "cat": "user_annotation", "name": "step", "pid": 1, "tid": 1, "ts": 0.0, "dur": 100.0},
              {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": 10.0, "dur": 30.0},
              {"ph": "X", "cat": "cpu_op", "name": "aten::mm", "pid": 1, "tid": 1, "ts": 50.0, "dur": 20.0},
              {"ph": "X", "cat": "cpu_op", "name": "aten::add", "pid": 1, "tid": 2, "ts": 20.0, "dur": 500.0},
              {"ph": "i", "name": "instant", "pid": 1, "tid": 1, "ts": 5.0}]
    (tmp_path / "a.pt.trace.json").write_text(json.dumps({"traceEvents": events}))
    found = chrome_trace(str(tmp_path))
    assert found["step"] == {"category": "user_annotation", "count": 1, "total_ms": 0.1, "self_ms": 0.05}
    assert found["aten::mm"]["count"] == 2 and found["aten::mm"]["self_ms"] == pytest.approx(0.05)
    assert found["aten::add"]["self_ms"] == 0.5 and "instant" not in found
