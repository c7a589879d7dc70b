"""snippets/profiling: the profiles each program returns, and that profiling leaves the math alone."""

from __future__ import annotations

import importlib
import re
from pathlib import Path

import pytest

from evidence import declared
from evidence.running.measure import max_abs_difference
from tests.conftest import load_program

TOPIC = "profiling"
KINDS = ["pytorch", "lightning", "fabric"]
PUBLISHED = declared.run(TOPIC).params  # the headline run's configuration, as the page shows it
EPOCHS = PUBLISHED["epochs"]
TRAIN_STEPS, VAL_STEPS = 4, 1  # 102 training points in batches of 32, 26 validation points
BATCH_SIZE = 32


@pytest.fixture(scope="module")
def results():
    found = {kind: load_program(TOPIC, kind).run(**PUBLISHED, device="cpu") for kind in ("pytorch", "fabric")}
    lightning = load_program(TOPIC, "lightning")
    found["lightning"] = lightning.run(**PUBLISHED, device="cpu")  # PyTorchProfiler is the default
    found["lightning-simple"] = lightning.run(**PUBLISHED, device="cpu", profiler="simple")
    return found


def test_the_timed_runs_profile_with_torch_profiler_on_every_side(results):
    """Same work: the headline (timed) run gives Lightning its PyTorchProfiler, and so does its default."""
    headline = declared.run(TOPIC)
    assert headline.repeats > 0
    assert headline.overrides == {"lightning": {"profiler": "pytorch"}}
    assert results["lightning"]["profiler"] == "pytorch"
    assert results["pytorch"]["profiler"] == results["fabric"]["profiler"] == "torch.profiler"
    assert all(run.repeats == 0 for run in declared.runs(TOPIC) if run.overrides != headline.overrides)


def calls(result, name):
    return result["op_counts"][name]


@pytest.mark.parametrize("kind", ["lightning", "lightning-simple", "fabric"])
def test_profiling_does_not_change_the_weights(results, kind):
    assert max_abs_difference(results[kind]["state_dict"], results["pytorch"]["state_dict"]) == 0.0
    assert max_abs_difference(results[kind]["history"], results["pytorch"]["history"]) <= 1e-6


@pytest.mark.parametrize("kind", ["pytorch", "fabric", "lightning"])
def test_top_operators_are_returned_as_rows(results, kind):
    rows = results[kind]["top_ops"]
    assert 5 <= len(rows) <= 12
    for name, count, ms in rows:
        assert name.startswith("aten::") and isinstance(count, int) and count > 0 and ms >= 0
    assert [ms for _, _, ms in rows] == sorted((ms for _, _, ms in rows), reverse=True)
    assert {"aten::addmm", "aten::select"} & {name for name, _, _ in rows}


@pytest.mark.parametrize("kind", ["pytorch", "fabric"])
def test_operator_counts_match_what_the_loop_did(results, kind):
    # one aten::addmm per Linear layer and forward pass: two layers, training and validation
    # batches; aten::select twice per sample collated (inputs and labels), every epoch
    result = results[kind]
    forward_passes = EPOCHS * (TRAIN_STEPS + VAL_STEPS)
    assert calls(result, "aten::addmm") == 2 * forward_passes
    assert {name: count for name, count, _ in result["top_ops"]}.items() <= result["op_counts"].items()
    assert calls(result, "aten::select") == EPOCHS * 2 * 128
    sections = {name: count for name, count, _ in result["sections"]}
    assert sections == {"train_epoch": EPOCHS, "training_step": EPOCHS * TRAIN_STEPS,
                        "backward": EPOCHS * TRAIN_STEPS, "optimizer_step": EPOCHS * TRAIN_STEPS,
                        "validation": EPOCHS}


def test_lightning_pytorch_profiler_misses_the_first_training_step(results):
    """The pitfall on the page, at its configuration: recording starts after the first training_step."""
    lightning, plain = results["lightning"], results["pytorch"]
    hooks = {name: count for name, count, _ in lightning["hooks"]}
    assert hooks["run_training_batch"] == EPOCHS * TRAIN_STEPS - 1
    assert hooks.get("run_training_epoch", 0) == EPOCHS - 1
    # the first batch's collation (two selects per sample) and forward pass (one addmm per layer)
    assert calls(lightning, "aten::select") == calls(plain, "aten::select") - 2 * BATCH_SIZE
    assert calls(lightning, "aten::addmm") == calls(plain, "aten::addmm") - 2
    # the first backward pass runs later, inside the optimizer-step closure, and is recorded
    assert calls(lightning, "aten::threshold_backward") == calls(plain, "aten::threshold_backward")
    assert calls(plain, "aten::threshold_backward") == EPOCHS * TRAIN_STEPS


def test_with_the_sanity_check_on_the_profile_misses_its_first_batch_instead(monkeypatch):
    """Why the program switches the sanity check off: it moves the moment recording starts."""
    program = load_program(TOPIC, "lightning")
    trainer = program.pl.Trainer

    def with_sanity_check(*args, **kwargs):
        kwargs.pop("num_sanity_val_steps")  # the Trainer's default: two batches (here the only one)
        return trainer(*args, **kwargs)

    hook_timings = program.hook_timings
    monkeypatch.setattr(program.pl, "Trainer", with_sanity_check)
    monkeypatch.setattr(program, "hook_timings", lambda profiler, averages: hook_timings(profiler, averages, 1000))
    result = program.run(**PUBLISHED, device="cpu")
    hooks = {name: count for name, count, _ in result["hooks"]}
    assert hooks["run_training_batch"] == EPOCHS * TRAIN_STEPS and hooks["run_training_epoch"] == EPOCHS
    # EPOCHS + 1 validation steps ran (the sanity check's and one an epoch); the first is missing
    assert hooks["[Strategy]SingleDeviceStrategy.validation_step"] == EPOCHS * VAL_STEPS


def test_lightning_hook_tables_name_the_hooks(results):
    pytorch_hooks = [name for name, _, _ in results["lightning"]["hooks"]]
    simple_hooks = {name: count for name, count, _ in results["lightning-simple"]["hooks"]}
    assert any(name.endswith("training_step") for name in pytorch_hooks)
    assert simple_hooks["run_training_epoch"] == EPOCHS
    assert simple_hooks["run_training_batch"] == EPOCHS * TRAIN_STEPS
    assert any(name.startswith("[LightningModule]Classifier.") for name in simple_hooks)
    assert results["lightning-simple"]["top_ops"] == [] and results["lightning-simple"]["op_counts"] == {}


def test_lightning_reports_go_to_files_not_stdout(capsys):
    program = load_program(TOPIC, "lightning")
    result = program.run(epochs=1, seed=0, device="cpu", profiler="simple")
    out = capsys.readouterr().out
    assert "Profiler Report" not in out and "Action" not in out
    assert result["report_files"] == ["fit-simple.txt"]


def test_unknown_lightning_profiler_is_a_clear_error(capsys):
    assert load_program(TOPIC, "lightning").main(["--profiler", "advanced"]) == 2
    assert capsys.readouterr().err.strip() == "error: unknown profiler 'advanced': use pytorch or simple"


def test_the_page_calls_only_views_that_exist():
    page = Path(__file__).resolve().parents[2] / "gallery/topics/16_profiling" / "plot_profiling.py"
    views = importlib.import_module("evidence.views.topics.profiling")
    called = set(re.findall(r"\bviews\.(\w+)\(", page.read_text()))
    assert called and all(hasattr(views, name) for name in called), called
